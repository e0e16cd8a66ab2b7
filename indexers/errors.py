"""The exception tree of the indexers package (stable ``code`` + optional ``field``)."""

from __future__ import annotations

from embedders.errors import InvalidVectors as _GivenVectorsInvalid
from embedders.errors import VecdexError


class IndexerError(VecdexError):
    """Base of all index errors: the request does not fit the index, hence 422."""

    code = "index_error"
    status = 422


class DimensionMismatch(IndexerError):
    """Vectors or queries whose width differs from the index's ``dim``."""

    code = "dimension_mismatch"


class InvalidIds(IndexerError):
    """Ids that are not int64, are negative, repeat within one call, or do not match the vector count."""

    code = "invalid_ids"


class InvalidK(IndexerError):
    """``k`` <= 0."""

    code = "invalid_k"


class IndexFileError(IndexerError):
    """A saved index directory is missing, incomplete or of another kind."""

    code = "index_file_error"


class InvalidVectors(IndexerError, _GivenVectorsInvalid):
    """Vectors or queries that are not real numbers or hold NaN / infinity.

    FAISS would accept them silently and return garbage (a NaN in an HNSW graph
    poisons every search that reaches it), so they are refused at the door.
    One condition, one code: it refines the embedders' ``InvalidVectors`` (the
    check of user-supplied vectors), so callers catching either catch both.
    """


class InsufficientTrainingData(IndexerError):
    """An index kind that must be trained (IVF) was asked for with too few vectors to train it.

    The message says how many vectors are needed and which smaller setting would fit.
    """

    code = "insufficient_training_data"


class UnknownBackend(IndexerError):
    """A spec or a saved manifest names an index engine that is not registered (field ``index.backend``)."""

    code = "unknown_backend"


class BackendUnavailable(IndexerError):
    """A registered engine cannot run here (its library is not installed or its server is unreachable)."""

    code = "backend_unavailable"
    status = 503
