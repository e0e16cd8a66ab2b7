"""Vectors -> nearest neighbours. The public API, re-exported from its modules.

The contract (``VectorIndex``, ``IndexSpec``) and the exception tree load
eagerly; the FAISS implementation loads on first use (PEP 562), so importing
``indexers`` for a spec or an error class does not pull in FAISS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import IndexKind, IndexSpec, Metric, SearchParams, VectorIndex
from .errors import (
    DimensionMismatch,
    IndexerError,
    IndexFileError,
    InsufficientTrainingData,
    InvalidIds,
    InvalidK,
    InvalidVectors,
)

if TYPE_CHECKING:
    from .faiss_index import FaissIndex, build_index, choose_kind, empty_index, load_index, set_faiss_threads

_LAZY = {"FaissIndex", "build_index", "choose_kind", "empty_index", "load_index", "set_faiss_threads"}

__all__ = [
    "DimensionMismatch",
    "FaissIndex",
    "IndexFileError",
    "IndexKind",
    "IndexSpec",
    "IndexerError",
    "InsufficientTrainingData",
    "InvalidIds",
    "InvalidK",
    "InvalidVectors",
    "Metric",
    "SearchParams",
    "VectorIndex",
    "build_index",
    "choose_kind",
    "empty_index",
    "load_index",
    "set_faiss_threads",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import faiss_index

        return getattr(faiss_index, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
