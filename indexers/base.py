"""The vector-index contract: ids + vectors in, nearest neighbours out.

Ids are the SQL primary keys of documents (int64, >= 0), never row positions,
so an index can be rebuilt, compacted or replaced without touching SQL. A
``search`` pads missing results with id -1 (and score -inf for similarity
metrics, +inf for l2) the way FAISS does.

Nothing here names an engine's library: :class:`VectorIndex` is what the
service calls, whichever engine (``IndexSpec.backend``) holds the vectors, and
:mod:`indexers.factory` is the one place that makes, opens and destroys them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from embedders.chunking import ChunkSpec
from embedders.strict_numbers import numbers_are_not_booleans

Metric = Literal["cosine", "ip", "l2"]
IndexKind = Literal["auto", "flat", "hnsw", "ivf"]
ConcreteKind = Literal["flat", "hnsw", "ivf"]
BackendName = Literal["faiss", "milvus"]


class IndexSpec(BaseModel):
    """How to index a space: which engine, which kind, and the kind's settings.

    ``auto`` picks by collection size (see ``indexers.faiss.choose_kind``). The
    kind settings mean the same for every engine (Milvus maps flat -> FLAT,
    hnsw -> HNSW with M / efConstruction / ef, ivf -> IVF_FLAT with nlist /
    nprobe), so moving a space to another engine changes ``backend`` only.
    Stored specs from before ``backend`` existed validate as FAISS.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    _numbers_are_not_booleans = numbers_are_not_booleans()

    backend: BackendName = Field("faiss", description="The engine that holds the vectors.")
    milvus_uri: str | None = Field(
        None,
        min_length=1,
        description="Milvus server or milvus-lite file for this space; None = the service's VECDEX_MILVUS_URI.",
    )
    kind: IndexKind = "auto"
    hnsw_m: int = Field(32, ge=4, le=128, description="HNSW graph degree M.")
    hnsw_ef_construction: int = Field(64, ge=8, le=2048, description="HNSW efConstruction.")
    hnsw_ef_search: int = Field(128, ge=8, le=4096, description="HNSW efSearch (raised to k when k is larger).")
    ivf_nlist: int | None = Field(None, ge=1, description="IVF list count; default 4*sqrt(N).")
    ivf_nprobe: int = Field(16, ge=1, description="IVF lists probed per query.")
    chunking: ChunkSpec | None = Field(
        None,
        description="Cut each document into passages and index one vector per passage; a document ranks by its "
        "best passage and its hits say where the best passages are. None: one vector per document.",
    )


class SearchParams(BaseModel):
    """Per-query overrides of the space's search settings: trade recall for speed on one request.

    Fields left out keep the space's ``IndexSpec`` values. Each applies only where
    it means something (``ef_search`` to HNSW, ``nprobe`` to IVF) and is ignored
    elsewhere, so one request can go to spaces of any kind (``auto`` included).
    ``exact`` searches exhaustively: the ground truth approximate results are
    measured against.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    _numbers_are_not_booleans = numbers_are_not_booleans()

    ef_search: int | None = Field(None, ge=1, le=4096, description="HNSW efSearch for this query (raised to k).")
    nprobe: int | None = Field(None, ge=1, le=65_536, description="IVF lists probed for this query (capped at nlist).")
    exact: StrictBool = Field(False, description="Exhaustive search, whatever the index kind.")


@runtime_checkable
class VectorIndex(Protocol):
    """What the service needs from any index engine (FAISS, Milvus, ...).

    Made by :mod:`indexers.factory` (``create`` / ``build`` / ``open_index``),
    never by an engine's constructor, so the service never names an engine.
    Bad input raises the :mod:`indexers.errors` subclasses with the field
    (``ids``, ``vectors``, ``queries``, ``k``, ``allowed_ids``); the shared
    checks are in :mod:`indexers.validation`.
    """

    @property
    def backend(self) -> str:
        """The engine's registered name (``"faiss"``, ``"milvus"``, ...)."""
        ...

    @property
    def dim(self) -> int: ...

    @property
    def metric(self) -> Metric: ...

    @property
    def kind(self) -> str:
        """The concrete kind in use (``"flat"``, ``"hnsw"``, ``"ivf"``), never ``"auto"``."""
        ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace (an id already present is replaced, never duplicated)."""
        ...

    def remove(self, ids: np.ndarray) -> int:
        """Remove the given ids (unknown ones ignored); returns how many were present."""
        ...

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed_ids: np.ndarray | None = None,
        params: SearchParams | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores float32, ids int64), each (nq, k), best first, padded with id -1 and
        score -inf (cosine, ip) / +inf (l2). With ``allowed_ids`` only those ids are
        returned, and if at least k of them are in the index exactly k come back.
        ``params`` overrides the spec's search settings for this call."""
        ...

    def ids(self) -> np.ndarray:
        """The live ids, int64, sorted (for reconciling with SQL)."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, doc_id: object) -> bool: ...

    @property
    def checkpoint(self) -> int:
        """The last change id (the SQL change log) whose effect is durable in this index:
        the one given to the last ``save`` or found in the manifest it was opened from;
        0 for a fresh index. The service replays the changes after it."""
        ...

    def save(self, directory: Path, *, checkpoint: int | None = None) -> None:
        """Make the current state and ``checkpoint`` durable at ``directory`` (the index's
        manifest directory). FAISS writes an atomic snapshot; an engine that keeps its data
        elsewhere flushes it and then writes its manifest. None keeps the current checkpoint.

        Raises:
            IndexFileError: the state could not be made durable (the previous one still loads).
            IndexerError: ``checkpoint`` is not a non-negative integer (field ``checkpoint``).
        """
        ...
