from workflow.home.routes import bp

__all__ = ["bp"]
