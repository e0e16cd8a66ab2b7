"""The service's error conditions, one class each, under the single root :class:`VecdexError`.

The root (and :func:`error_payload`) live in ``embedders.errors``, the lowest
layer, so embedder, index and service errors form one tree; it is re-exported
here so ``from service.errors import VecdexError`` keeps working. HTTP
(``service.api.errors``), the CLI and job rows each map the root once.
"""

from __future__ import annotations

from embedders.errors import VecdexError as VecdexError  # re-exported: the root of the one tree
from embedders.errors import error_payload as error_payload


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
