"""The reviewer pages (``/review``) and the public report form (``/report``)."""

from haechi.web.review.routes import router

__all__ = ["router"]
