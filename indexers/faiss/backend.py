"""The FAISS engine as the factory sees it (``indexers.factory`` registers ``BACKEND`` as "faiss").

Everything lives in the index directory, so there is nothing external to
name, create or drop: ``location.name`` and the engine options are unused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embedders.base import Progress

from ..base import ConcreteKind, IndexSpec, Metric
from ..factory import EngineOptions, IndexLocation
from .index import FaissIndex

__all__ = ["BACKEND", "FaissBackend"]


class FaissBackend:
    """Makes and opens :class:`FaissIndex` snapshots (every kind and metric)."""

    name = "faiss"
    kinds: tuple[ConcreteKind, ...] = ("flat", "hnsw", "ivf")
    metrics: tuple[Metric, ...] = ("cosine", "ip", "l2")

    def available(self) -> str | None:
        return None  # faiss is a hard dependency: if this module imported, it runs

    def create(self, spec: IndexSpec, dim: int, metric: Metric, location: IndexLocation) -> FaissIndex:
        return FaissIndex.empty(spec, dim, metric)

    def build(
        self,
        spec: IndexSpec,
        dim: int,
        metric: Metric,
        ids: np.ndarray,
        vectors: np.ndarray,
        location: IndexLocation,
        progress: Progress | None = None,
    ) -> FaissIndex:
        return FaissIndex.build(spec, dim, metric, ids, vectors, progress)

    def open(self, directory: Path, options: EngineOptions) -> FaissIndex:
        return FaissIndex.open(directory)

    def drop(self, directory: Path, options: EngineOptions) -> None:
        return None  # nothing outside the directory, which the factory removes


BACKEND = FaissBackend()
