"""One exception tree for everything the client raises.

The server answers every refusal as ``{"error": {"code", "message", "field", "details"}}``; the
client raises it as the class of its HTTP status (so ``except NotFoundError`` reads like the
situation) carrying the server's stable ``code`` and the ``field`` to blame, which is what a caller
branches on. Transport failures and jobs that end badly are in the same tree, so one
``except VecdexError`` catches whatever this package raises.
"""

from __future__ import annotations

from typing import Any


class VecdexError(Exception):
    """Anything this client raises."""


class APIConnectionError(VecdexError):
    """The server could not be reached or did not answer in time (no HTTP status)."""


class APIError(VecdexError):
    """The server refused or failed a request: ``status`` (HTTP), ``code`` (stable, machine-readable,
    e.g. ``collection_not_found``), ``message`` (for people), ``field`` (the offending field or
    parameter as the request wrote it, e.g. ``documents[3].metadata``), ``details`` (every
    validation problem, when there were several)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" (field: {field})" if field else ""))
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details or []
        self.request_id = request_id


class BadRequestError(APIError):
    """400: the request could not be read (not JSON, wrong content type)."""


class AuthenticationError(APIError):
    """401: no API key, or one the server does not know."""


class PermissionDeniedError(APIError):
    """403: the key's scope or collections do not cover this request."""


class NotFoundError(APIError):
    """404: the collection, space, document, job ... is not there."""


class ConflictError(APIError):
    """409: the request conflicts with the state (a name taken, a space not ready yet)."""


class UnprocessableEntityError(APIError):
    """422: the request was read but refused; ``field`` names what to fix."""


class RateLimitError(APIError):
    """429: a quota or the request queue is full; ``retry_after`` says when to come back (seconds)."""

    retry_after: float | None = None


class ServerError(APIError):
    """5xx: the server failed (or is not ready); nothing the request could fix."""


class JobFailedError(VecdexError):
    """A job waited on ended ``failed`` or ``cancelled``; ``job`` is its last state."""

    def __init__(self, job: Any) -> None:
        error = job.error or {}
        super().__init__(f"job {job.id} ({job.kind}) {job.status}: {error.get('message', 'no message')}")
        self.job = job
        self.code = error.get("code")


class WaitTimeout(VecdexError):
    """A wait for a job or a space ran past its ``timeout``; ``job`` is the last state seen."""

    def __init__(self, message: str, job: Any = None) -> None:
        super().__init__(message)
        self.job = job


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_from_response(status: int, body: Any, headers: Any) -> APIError:
    """The exception for a non-2xx answer; a body that is not vecdex's error shape (a proxy's page)
    still gives the status, with ``code`` ``http_<status>``."""
    info = body.get("error") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        info = {"code": f"http_{status}", "message": str(body)[:500] if body else f"HTTP {status}"}
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    err = cls(
        status,
        str(info.get("code", f"http_{status}")),
        str(info.get("message", "")),
        info.get("field"),
        info.get("details"),
        headers.get("x-request-id"),
    )
    if isinstance(err, RateLimitError):
        try:
            err.retry_after = float(headers.get("retry-after"))
        except (TypeError, ValueError):
            err.retry_after = None
    return err
