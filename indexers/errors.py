"""The exception tree of the indexers package (stable ``code`` + optional ``field``)."""

from __future__ import annotations


class IndexerError(Exception):
    """Base of all index errors."""

    code: str = "index_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


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
