"""The service's exception tree; the API maps each to a JSON error with a stable ``code``.

Embedder and index errors keep their own trees (embedders.errors,
indexers.errors); ``service.api.errors`` translates all three.
"""

from __future__ import annotations


class VecdexError(Exception):
    """Base: ``code`` is stable for clients, ``status`` the HTTP status, ``field`` the culprit."""

    code: str = "error"
    status: int = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class NotFound(VecdexError):
    code = "not_found"
    status = 404


class AlreadyExists(VecdexError):
    code = "already_exists"
    status = 409


class Conflict(VecdexError):
    """The request is valid but the resource is not in a state that allows it (e.g. space still building)."""

    code = "conflict"
    status = 409


class InvalidInput(VecdexError):
    code = "invalid_input"
    status = 422


class SchemaOutOfDate(VecdexError):
    code = "schema_out_of_date"
    status = 503


class JobCancelled(VecdexError):
    """Raised inside a running job when its cancellation was requested."""

    code = "cancelled"
    status = 409
