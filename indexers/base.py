"""The vector-index contract: ids + vectors in, nearest neighbours out.

Ids are the SQL primary keys of documents (int64, >= 0), never row positions,
so an index can be rebuilt, compacted or replaced without touching SQL. A
``search`` pads missing results with id -1 (and score -inf for similarity
metrics, +inf for l2) the way FAISS does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Metric = Literal["cosine", "ip", "l2"]
IndexKind = Literal["auto", "flat", "hnsw", "ivf"]


class IndexSpec(BaseModel):
    """How to index a space. ``auto`` picks by collection size (see ``indexers.faiss_index.choose_kind``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: IndexKind = "auto"
    hnsw_m: int = Field(32, ge=4, le=128, description="HNSW graph degree M.")
    hnsw_ef_construction: int = Field(64, ge=8, le=2048, description="HNSW efConstruction.")
    hnsw_ef_search: int = Field(128, ge=8, le=4096, description="HNSW efSearch (raised to k when k is larger).")
    ivf_nlist: int | None = Field(None, ge=1, description="IVF list count; default 4*sqrt(N).")
    ivf_nprobe: int = Field(16, ge=1, description="IVF lists probed per query.")


class SearchParams(BaseModel):
    """Per-query overrides of the space's search settings: trade recall for speed on one request.

    Fields left out keep the space's ``IndexSpec`` values. Each applies only where
    it means something (``ef_search`` to HNSW, ``nprobe`` to IVF) and is ignored
    elsewhere, so one request can go to spaces of any kind (``auto`` included).
    ``exact`` searches exhaustively: the ground truth approximate results are
    measured against.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ef_search: int | None = Field(None, ge=1, le=4096, description="HNSW efSearch for this query (raised to k).")
    nprobe: int | None = Field(None, ge=1, le=65_536, description="IVF lists probed for this query (capped at nlist).")
    exact: bool = Field(False, description="Exhaustive search, whatever the index kind.")


@runtime_checkable
class VectorIndex(Protocol):
    """What the service needs from any index engine (FAISS now, others later)."""

    @property
    def dim(self) -> int: ...

    @property
    def metric(self) -> Metric: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace (an id already present is replaced, never duplicated)."""
        ...

    def remove(self, ids: np.ndarray) -> int:
        """Remove the given ids; returns how many were present."""
        ...

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed_ids: np.ndarray | None = None,
        params: SearchParams | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (nq, k), best first. With ``allowed_ids`` only those ids are
        returned, and if at least k of them are in the index exactly k come back.
        ``params`` overrides the spec's search settings for this call."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, doc_id: int) -> bool: ...

    @property
    def extra(self) -> dict[str, Any]:
        """Caller metadata stored with the snapshot this index was loaded from or last saved to
        (e.g. ``{"last_change_id": 42}``); empty for a fresh index."""
        ...

    def save(self, directory: Path, extra: Mapping[str, Any] | None = None) -> None:
        """Write atomically: to a temporary sibling, then renamed into place.

        ``extra`` (JSON-serialisable) is stored in the manifest and exposed as ``extra``
        after loading; None keeps the current ``extra``.
        """
        ...
