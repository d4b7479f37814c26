from workflow.dashboard.routes import bp

__all__ = ["bp"]
