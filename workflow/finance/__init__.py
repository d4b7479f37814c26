from workflow.finance.routes import bp

__all__ = ["bp"]
