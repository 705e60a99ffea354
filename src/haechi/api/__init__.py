"""The HTTP API: a thin FastAPI layer over :class:`haechi.engine.Engine`.

Serve it with ``haechi serve`` or ``uvicorn --factory haechi.api.app:create_app``;
the OpenAPI documentation is at ``/docs``.
"""

from haechi.api.app import create_app

__all__ = ["create_app"]
