from workflow.review.routes import bp

__all__ = ["bp"]
