from workflow.admin.routes import bp

__all__ = ["bp"]
