"""The service's error conditions, one class each, under the single root :class:`VecdexError`.

The root (and :func:`error_payload`) live in ``embedders.errors``, the lowest
layer, so embedder, index and service errors form one tree; it is re-exported
here so ``from service.errors import VecdexError`` keeps working. HTTP
(``service.api.errors``), the CLI and job rows each map the root once.
"""

from __future__ import annotations

# Re-exported: the root, and the lower layers' classes the service raises itself, so that one
# code means one class (the service's "text has no tokens" is the embedders' EmptyText, etc.).
from embedders.errors import EmptyText as EmptyText
from embedders.errors import NotSupported as NotSupported
from embedders.errors import VecdexError as VecdexError
from embedders.errors import error_payload as error_payload
from indexers.errors import InvalidK as InvalidK


class NotFound(VecdexError):
    """Parent of every "the named thing does not exist" error (404); raised as is for a generic one."""

    code = "not_found"
    status = 404


class AlreadyExists(VecdexError):
    """Parent of "the name is taken" errors (409); raised as is for a collection name."""

    code = "already_exists"
    status = 409


class Conflict(VecdexError):
    """The request is valid but the resource is not in a state that allows it (e.g. space still building)."""

    code = "conflict"
    status = 409


class InvalidInput(VecdexError):
    """Parent of "the request is well-formed but its values cannot be served" errors (422).

    The CLI's batch ingest catches it to retry a refused batch line by line, so every
    per-document write refusal must derive from it.
    """

    code = "invalid_input"
    status = 422


class SchemaOutOfDate(VecdexError):
    """The database schema is behind the code: run the migrations (503 until then)."""

    code = "schema_out_of_date"
    status = 503


class JobCancelled(VecdexError):
    """Raised inside a running job when its cancellation was requested."""

    code = "cancelled"
    status = 409


# --- not found (404) -----------------------------------------------------------------------------


class CollectionNotFound(NotFound):
    """No collection has the name the request gives."""

    code = "collection_not_found"


class SpaceNotFound(NotFound):
    """No space of the collection has the name given (or the collection has none), or it was deleted
    while a job or an evaluation was about to use it."""

    code = "space_not_found"


class DocumentNotFound(NotFound):
    """A document named by external id is not in the collection."""

    code = "document_not_found"


class UnknownPairDocuments(DocumentNotFound):
    """An evaluation's pairs name documents the collection lacks. Same code; 422, not 404, because the
    resource asked for (the evaluation) exists and it is the body that is wrong, as clients saw before."""

    status = 422


class JobNotFound(NotFound):
    """No job has the id given."""

    code = "job_not_found"


class UserNotFound(NotFound):
    """The user has no interaction in the collection, so there is nothing to recommend from."""

    code = "user_not_found"


class ItemNotFound(NotFound):
    """An item to recommend from is not in the items collection."""

    code = "item_not_found"


# --- conflicts (409) -----------------------------------------------------------------------------


class SpaceNotReady(Conflict):
    """The space is still pending, building or failed, so it cannot be searched or evaluated yet."""

    code = "space_not_ready"


class DefaultSpaceNotReady(SpaceNotReady):
    """Only a ready space can become the collection's default. Same code; 422 as clients saw before
    (the request names an unfit space rather than racing a build)."""

    status = 422


class SpaceBusy(Conflict):
    """A build or rebuild of the space is already queued or running."""

    code = "space_busy"


class SpaceUnavailable(Conflict):
    """The space is ready in the database but its files cannot be loaded on this node."""

    code = "space_unavailable"


class JobFinished(Conflict):
    """A job that already succeeded, failed or was cancelled was asked to be cancelled."""

    code = "job_finished"


class NotAnItemsCollection(Conflict):
    """Interactions or recommendations were asked of a collection whose kind is not items."""

    code = "not_an_items_collection"


class SpaceNeedsItems(NotAnItemsCollection):
    """An item2vec space was asked of a documents collection. Same code; 422 as clients saw before,
    because the space's spec (``embedder.type``) is what does not fit."""

    status = 422


class SpaceExists(AlreadyExists):
    """The collection already has a space of that name."""

    code = "space_exists"


# --- invalid input (422) -------------------------------------------------------------------------


class InvalidRequest(InvalidInput):
    """A check the schema cannot make (it needs the collection, e.g. empty text outside an items
    collection); shares the code of request validation errors because clients see it as one."""

    code = "invalid_request"


class BatchTooLarge(InvalidInput):
    """A batch holds more documents or interactions than one request may carry."""

    code = "batch_too_large"


class InvalidCursor(InvalidInput):
    """A pagination cursor that this API did not hand out (or that no longer decodes)."""

    code = "invalid_cursor"


class NoReadySpace(InvalidInput):
    """A query across spaces found no space of the collection that is ready."""

    code = "no_ready_space"


class InvalidWeights(InvalidInput):
    """Fusion weights name spaces the query does not use."""

    code = "invalid_weights"


class InvalidFilter(InvalidInput):
    """A malformed metadata filter: an unknown operator, a value of the wrong shape (null, array or object where
    a scalar goes; an ``in`` list that is empty or too long), an empty ``and``/``or``, nesting or size past the caps."""

    code = "invalid_filter"


class UnknownFilterField(InvalidInput):
    """A metadata filter names a field no document of the collection has."""

    code = "unknown_filter_field"


class FilterTypeMismatch(InvalidInput):
    """A metadata filter compares a field with a value of another type than the field's, or uses an operator the
    field's type lacks (a range on a boolean, ``contains`` on a non-array)."""

    code = "filter_type_mismatch"


class MetadataTypeMismatch(InvalidInput):
    """A document's metadata value has another type than the one the collection's schema recorded."""

    code = "metadata_type_mismatch"


class DuplicateExternalId(InvalidInput):
    """One batch names the same external id twice."""

    code = "duplicate_external_id"


class UnknownItem(InvalidInput):
    """Interactions name items the collection does not hold (and the request asked to reject them)."""

    code = "unknown_item"


class NoInteractions(InvalidInput):
    """Items to recommend from have no interactions in the item2vec space (they were not in its training
    data) and no text to fall back on."""

    code = "no_interactions"


class EmptyHistory(InvalidInput):
    """A recommendation from a user's history found no positive interaction among the latest ones."""

    code = "empty_history"


class InvalidFile(InvalidInput):
    """An evaluation input file cannot be read, is not UTF-8, or shares no query with its qrels."""

    code = "invalid_file"


class MissingVector(InvalidInput):
    """A document sent to a collection with a ``vectors`` space carries no vector for that space."""

    code = "missing_vector"


class UnknownVectorSpace(InvalidInput):
    """A document's ``vectors`` name a space the collection lacks, or one that embeds its own vectors."""

    code = "unknown_vector_space"


# --- API keys (401 / 403 / 404 / 409) ------------------------------------------------------------


class Unauthorized(VecdexError):
    """The request carries no API key, or one the server does not know or has revoked, while keys are enforced.
    The HTTP door adds ``WWW-Authenticate: Bearer`` to the answer."""

    code = "unauthorized"
    status = 401


class Forbidden(VecdexError):
    """The API key is valid but its scope (or its collections) does not cover the route asked for."""

    code = "forbidden"
    status = 403


class KeyNotFound(NotFound):
    """No API key has the name given (``vecdex keys revoke``)."""

    code = "key_not_found"


class KeyExists(AlreadyExists):
    """An API key of that name already exists (revoked ones keep their name, so ``list`` stays unambiguous)."""

    code = "key_exists"


class UnprotectedBind(Conflict):
    """``vecdex serve`` was asked to listen beyond loopback while no API key exists and auth is on: the API
    would be open to the network. Create a key, or set ``VECDEX_AUTH=off`` on purpose."""

    code = "unprotected_bind"


# --- quotas (VECDEX_MAX_* settings; service/quotas.py) -------------------------------------------


class QuotaExceeded(InvalidInput):
    """A space spec asks a worker for more than this server allows (a dimension, epochs, layers, ...
    beyond its ``VECDEX_MAX_*`` setting); the message names the value, the limit and the setting."""

    code = "quota_exceeded"


class MetadataTooLarge(QuotaExceeded):
    """A document's metadata is nested too deep, has too many keys or too long a string, or would grow
    the collection's metadata schema past ``VECDEX_MAX_SCHEMA_FIELDS``; the batch is refused whole."""

    code = "metadata_too_large"


class TooManyJobs(VecdexError):
    """The collection already has ``VECDEX_MAX_QUEUED_JOBS`` jobs queued or running: wait for one to end
    (or cancel one) and try again (429, so clients know that retrying later can succeed)."""

    code = "too_many_jobs"
    status = 429
