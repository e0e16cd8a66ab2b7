"""Vectors -> nearest neighbours. The public API, re-exported from its modules.

The contract (``VectorIndex``, ``IndexSpec``), the factory that makes, opens
and destroys indexes of any engine (``create``, ``build``, ``open_index``,
``destroy``, ``backends``) and the exception tree load eagerly; an engine
(``indexers.faiss``, ...) loads on first use (PEP 562 here, lazy registration
in the factory), so importing ``indexers`` pulls in neither FAISS nor pymilvus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import BackendName, ConcreteKind, IndexKind, IndexSpec, Metric, SearchParams, VectorIndex
from .errors import (
    BackendUnavailable,
    DimensionMismatch,
    IndexerError,
    IndexFileError,
    InsufficientTrainingData,
    InvalidIds,
    InvalidK,
    InvalidVectors,
    UnknownBackend,
)
from .factory import (
    Backend,
    EngineOptions,
    IndexLocation,
    backends,
    build,
    create,
    destroy,
    get_backend,
    open_index,
    register,
)

if TYPE_CHECKING:
    from .faiss import FaissIndex, choose_kind, set_faiss_threads

_LAZY = {"FaissIndex", "choose_kind", "set_faiss_threads"}

__all__ = [
    "Backend",
    "BackendName",
    "BackendUnavailable",
    "ConcreteKind",
    "DimensionMismatch",
    "EngineOptions",
    "FaissIndex",
    "IndexFileError",
    "IndexKind",
    "IndexLocation",
    "IndexSpec",
    "IndexerError",
    "InsufficientTrainingData",
    "InvalidIds",
    "InvalidK",
    "InvalidVectors",
    "Metric",
    "SearchParams",
    "UnknownBackend",
    "VectorIndex",
    "backends",
    "build",
    "choose_kind",
    "create",
    "destroy",
    "get_backend",
    "open_index",
    "register",
    "set_faiss_threads",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import faiss

        return getattr(faiss, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
