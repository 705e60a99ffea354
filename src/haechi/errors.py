"""Errors that carry a stable machine-readable code.

Codes are part of the public contract: the CLI prints them, the API returns them, and
batch jobs record them per item, so a caller can tell "this file is corrupt" from
"this server is broken" without parsing messages.
"""

from __future__ import annotations


class HaechiError(Exception):
    """Base class. ``code`` is stable; ``message`` is for people."""

    code: str = "error"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class MediaError(HaechiError):
    """The file could not be accepted: empty, corrupt, too big, unsupported, hostile."""

    code = "media_error"
    http_status = 422

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        if self.code == "too_large":
            self.http_status = 413


class InvalidHashError(HaechiError):
    """A hash string that does not parse for its signal type."""

    code = "invalid_hash"
    http_status = 422


class UnknownSignalError(HaechiError):
    code = "unknown_signal"
    http_status = 422


class NotFoundError(HaechiError):
    code = "not_found"
    http_status = 404


class ConflictError(HaechiError):
    code = "conflict"
    http_status = 409


class InvalidRequestError(HaechiError):
    code = "invalid_request"
    http_status = 422


class UnauthorizedError(HaechiError):
    """No credentials, or credentials that are not valid."""

    code = "unauthorized"
    http_status = 401


class ForbiddenError(HaechiError):
    """Valid credentials whose role may not do this."""

    code = "forbidden"
    http_status = 403


class NotReadyError(HaechiError):
    code = "not_ready"
    http_status = 503
