from workflow.evaluations.routes import bp

__all__ = ["bp"]
