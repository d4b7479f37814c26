from workflow.notices.routes import bp

__all__ = ["bp"]
