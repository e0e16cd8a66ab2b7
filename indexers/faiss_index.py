"""FAISS-backed vector index: SQL document ids in, nearest neighbours out.

How ids work. The FAISS index never sees a document id. Vectors live at
internal *positions* 0..ntotal-1 in insertion order, and ``_IdTable`` maps
position -> document id (-1 marks a tombstone) and id -> position. One scheme
serves every kind because HNSW in FAISS cannot delete: a removed or replaced
vector becomes a tombstone, is kept out of results by an ``IDSelector`` over
live positions *inside* FAISS, and disappears for good when the index is
compacted (rebuilt from its live vectors) once tombstones pass
``COMPACT_TOMBSTONE_FRACTION``. Upsert is therefore "tombstone the old
position, append a new one", identical for flat, HNSW and IVF.

How filtering works. ``allowed_ids`` are translated to live positions and
handed to FAISS as an ``IDSelectorBitmap`` (``SearchParameters*.sel``), so
filtering happens during the search, not after it. Approximate kinds can still
come back short under a restrictive filter (HNSW's beam of ``efSearch`` nodes
runs out of allowed ones, IVF's ``nprobe`` lists hold too few): such rows are
searched again exhaustively over the same selector, and a small allowed set
goes to the exhaustive path directly -- the brute-force switch Qdrant and
Milvus make for low-cardinality filters. Hence the contract: when at least
``k`` allowed ids are live, exactly ``k`` come back.

Scores. ``cosine``: cosine similarity (vectors and queries are L2-normalised,
the index is inner product). ``ip``: inner product. ``l2``: Euclidean distance
(the square root of FAISS's squared L2), smaller is better. Padding is id -1
with score -inf (cosine, ip) or +inf (l2). Prefer ``cosine`` over ``ip`` for
HNSW: inner product is not a metric, and FAISS's HNSW graph leaves a few
percent of the true IP neighbours unreachable (worse under filters); flat and
IVF are unaffected.

Concurrency. A readers-writer lock: searches (and saves) share it, mutations
(add, remove, compaction) hold it alone, because FAISS does not allow adding
while another thread searches the same index.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import faiss
import numpy as np

from .base import IndexSpec, Metric, SearchParams
from .errors import (
    DimensionMismatch,
    IndexerError,
    IndexFileError,
    InsufficientTrainingData,
    InvalidIds,
    InvalidK,
    InvalidVectors,
)

__all__ = [
    "FaissIndex",
    "build_index",
    "choose_kind",
    "empty_index",
    "load_index",
    "set_faiss_threads",
]

log = logging.getLogger(__name__)

ConcreteKind = Literal["flat", "hnsw", "ivf"]
Progress = Callable[[int, int], None]
"""``progress(done, total)``, called while a bulk build adds its vectors."""

# --- "auto" thresholds (see choose_kind) -------------------------------------
FLAT_MAX_VECTORS = 10_000
HNSW_MAX_VECTORS = 1_000_000

# k-means wants this many training points per list; below it FAISS warns and
# the centroids are noise (faiss.ClusteringParameters.min_points_per_centroid).
MIN_POINTS_PER_LIST = 39

# Rebuild from live vectors once this fraction of positions are tombstones:
# dead HNSW nodes still cost traversal and memory, but a rebuild is O(N log N),
# so it is amortised over at least a quarter of the index being rewritten.
COMPACT_TOMBSTONE_FRACTION = 0.25

# Filtered searches go straight to the exhaustive path when the allowed set is
# this small (absolute) or this thin (fraction of live vectors): scanning a few
# thousand vectors is cheaper than a graph walk that would come back short.
EXACT_MAX_CANDIDATES = 2_048
EXACT_MAX_FRACTION = 0.02

# Ceiling on the widened HNSW beam of a filtered search (IndexSpec's own limit).
MAX_EF_SEARCH = 4_096
_DEFAULT_PARAMS = SearchParams()  # the spec's own settings

ADD_CHUNK = 16_384  # bulk builds add in chunks so progress can be reported
PARALLEL_MIN_QUERIES = 16  # fewer queries than this run on one OpenMP thread

FORMAT = "vecdex.faiss-index"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.npy"
STALE_SIBLING_SECONDS = 3600  # leftovers of a crashed save older than this are removed

_METRICS: tuple[str, ...] = get_args(Metric)
_INT64_MAX = np.iinfo(np.int64).max


# =============================================================================
# Choosing a kind
# =============================================================================


def choose_kind(n: int) -> ConcreteKind:
    """Resolve ``kind="auto"`` for a space of ``n`` vectors.

    Follows the FAISS wiki page "Guidelines to choose an index"
    (https://github.com/facebookresearch/faiss/wiki/Guidelines-to-choose-an-index):

    * ``n < 10_000`` -> ``"flat"``. The wiki's first questions: if building an
      index will not be amortised, "direct computation is the most efficient",
      and Flat is "the only index that can guarantee exact results". Scanning
      10k vectors costs well under a millisecond per query, so exactness is free.
    * ``10_000 <= n < 1_000_000`` -> ``"hnsw"``. "Is memory a concern? If not:
      HNSWM ... the best option, a very fast and accurate index". Below a million
      vectors the graph's overhead (about M * 8 bytes per vector on top of the
      raw floats) fits comfortably in one process.
    * ``n >= 1_000_000`` -> ``"ivf"`` with ``4 * sqrt(n)`` lists (the wiki's
      "IVFK, where K is 4*sqrt(N) to 16*sqrt(N)"). Memory starts to matter;
      IVFFlat adds almost nothing on top of the vectors and builds much faster
      than HNSW. (For 1M-10M the wiki goes on to suggest an HNSW coarse
      quantizer, IVF65536_HNSW32; a flat quantizer is simpler and adequate
      at 4*sqrt(n) lists.) From 24,336 vectors on, ``4*sqrt(n)`` lists always
      get the 39 training points per list k-means needs, so an IVF chosen here
      can never fail for lack of training data.

    Raises:
        ValueError: ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"a vector count cannot be negative, got {n}")
    if n < FLAT_MAX_VECTORS:
        return "flat"
    if n < HNSW_MAX_VECTORS:
        return "hnsw"
    return "ivf"


def _default_nlist(n: int) -> int:
    return max(1, round(4 * math.sqrt(n)))


def _ivf_nlist(spec: IndexSpec, n: int, *, auto: bool) -> int:
    """The list count for ``n`` training vectors.

    An explicit ``ivf_nlist`` is honoured when the kind was asked for by name
    (and may then fail to train); under ``auto`` it is capped so that training
    always has ``MIN_POINTS_PER_LIST`` vectors per list.
    """
    nlist = spec.ivf_nlist or _default_nlist(n)
    if auto:
        nlist = max(1, min(nlist, n // MIN_POINTS_PER_LIST))
    return nlist


def _min_training_vectors(nlist: int) -> int:
    return MIN_POINTS_PER_LIST * nlist


def _require_training_data(spec: IndexSpec, nlist: int, n: int) -> None:
    needed = _min_training_vectors(nlist)
    if n >= needed:
        return
    how = f"ivf_nlist={nlist}" if spec.ivf_nlist else f"the default nlist 4*sqrt(N)={nlist}"
    fits = n // MIN_POINTS_PER_LIST
    hint = f"set ivf_nlist to at most {fits}, or " if fits >= 1 else ""
    raise InsufficientTrainingData(
        f"an IVF index with {how} needs at least {needed} vectors to train "
        f"({MIN_POINTS_PER_LIST} per list), but only {n} were given; "
        f"{hint}use kind 'auto', 'flat' or 'hnsw'",
        field="index.kind",
    )


# =============================================================================
# Threads
# =============================================================================

_thread_budget: int | None = None


def set_faiss_threads(n: int | None) -> None:
    """Cap the OpenMP threads FAISS may use per call (None: detect again).

    Why not just leave OpenMP's default: it counts the machine's cores, not the
    container's CPU quota, and every Python thread that calls FAISS gets its own
    team, so a threaded server oversubscribes quickly.
    """
    global _thread_budget
    if n is not None and n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    _thread_budget = n


def _detect_cpus() -> int:
    for var in ("VECDEX_FAISS_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, quota) if quota else cpus)


def _cgroup_cpu_quota() -> int | None:
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def _use_threads(n_queries: int | None = None) -> None:
    """Set this thread's OpenMP team size for the FAISS call that follows.

    Builds (``n_queries`` None) and large query batches use every CPU in the
    budget; small batches use one thread: FAISS parallelises HNSW and IVF over
    queries anyway, and concurrent single-query requests each spawning a team
    is exactly the oversubscription to avoid. ``omp_set_num_threads`` is
    per-thread, which is why it is set on every call.
    """
    global _thread_budget
    if _thread_budget is None:
        _thread_budget = _detect_cpus()
    small = n_queries is not None and n_queries < PARALLEL_MIN_QUERIES
    faiss.omp_set_num_threads(1 if small else _thread_budget)


# =============================================================================
# Input validation (all raise the package's errors with the offending field)
# =============================================================================


def _check_space(dim: int, metric: str) -> None:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise IndexerError(f"dim must be a positive integer, got {dim!r}", field="dim")
    if metric not in _METRICS:
        raise IndexerError(f"metric must be one of {', '.join(_METRICS)}, got {metric!r}", field="metric")


def _check_ids(ids: Any, *, field: str, unique: bool) -> np.ndarray:
    """A 1-D int64 copy of ``ids``, all >= 0 (and distinct when ``unique``)."""
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1:
        raise InvalidIds(f"{field} must be a 1-D array, got shape {arr.shape}", field=field)
    if arr.dtype.kind not in "iu":
        raise InvalidIds(f"{field} must be integers (int64 document ids), got dtype {arr.dtype}", field=field)
    if arr.dtype.kind == "u" and int(arr.max()) > _INT64_MAX:
        raise InvalidIds(f"{field} must fit in int64", field=field)
    out = arr.astype(np.int64, copy=True)
    if out.min() < 0:
        bad = out[out < 0][:5].tolist()
        raise InvalidIds(f"{field} must be >= 0 (SQL document ids), got {bad}", field=field)
    if unique:
        values, counts = np.unique(out, return_counts=True)
        if len(values) != len(out):
            dups = values[counts > 1][:5].tolist()
            raise InvalidIds(f"{field} repeat within one call: {dups}", field=field)
    return out


def _as_float32(arr: np.ndarray, field: str) -> np.ndarray:
    if arr.dtype.kind not in "fiu":
        raise InvalidVectors(f"{field} must be real numbers, got dtype {arr.dtype}", field=field)
    with np.errstate(over="ignore"):  # overflow becomes inf, refused just below
        out = np.array(arr, dtype=np.float32, order="C", copy=True)
    if not np.isfinite(out).all():
        raise InvalidVectors(
            f"{field} contain NaN or infinite values (after conversion to float32)", field=field
        )
    return out


def _check_vectors(vectors: Any, dim: int, metric: str, n: int) -> np.ndarray:
    """A C-contiguous float32 copy of ``vectors`` (n, dim), normalised for cosine."""
    arr = np.asarray(vectors)
    if arr.size == 0 and n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    if arr.ndim != 2:
        raise DimensionMismatch(
            f"vectors must be a 2-D array (n, {dim}), got shape {arr.shape}", field="vectors"
        )
    if arr.shape[1] != dim:
        raise DimensionMismatch(f"vectors have dimension {arr.shape[1]}, the index has {dim}", field="vectors")
    if arr.shape[0] != n:
        raise InvalidIds(f"got {n} ids for {arr.shape[0]} vectors", field="ids")
    out = _as_float32(arr, "vectors")
    if metric == "cosine":
        faiss.normalize_L2(out)  # a zero vector stays zero and scores 0 against everything
    return out


def _check_queries(queries: Any, dim: int, metric: str) -> np.ndarray:
    arr = np.asarray(queries)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise DimensionMismatch(
            f"queries must be (nq, {dim}) or ({dim},), got shape {arr.shape}", field="queries"
        )
    if arr.shape[1] != dim:
        raise DimensionMismatch(f"queries have dimension {arr.shape[1]}, the index has {dim}", field="queries")
    out = _as_float32(arr, "queries")
    if metric == "cosine":
        faiss.normalize_L2(out)
    return out


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InvalidK(f"k must be an integer, got {k!r}", field="k")
    if k <= 0:
        raise InvalidK(f"k must be >= 1, got {k}", field="k")
    return int(k)


def _check_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round-tripped copy, so what load returns is exactly what was saved."""
    try:
        return json.loads(json.dumps(dict(extra), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise IndexerError(f"extra must be a JSON-serialisable mapping: {exc}", field="extra") from exc


# =============================================================================
# Bookkeeping: positions <-> document ids, and the readers-writer lock
# =============================================================================


class _IdTable:
    """Maps FAISS positions to document ids and back.

    ``pos_ids[p]`` is the document at position ``p`` or -1 for a tombstone.
    Live ids are also kept sorted (``_ids`` with their positions in ``_pos``)
    so lookups are a vectorised ``searchsorted`` instead of a Python dict,
    which at a million ids would cost ~100 MB and a Python loop per batch.
    """

    def __init__(self, pos_ids: np.ndarray | None = None) -> None:
        self.pos_ids = np.zeros(0, dtype=np.int64) if pos_ids is None else pos_ids
        live = np.flatnonzero(self.pos_ids >= 0)
        order = np.argsort(self.pos_ids[live], kind="stable")
        self._ids = self.pos_ids[live][order]
        self._pos = live[order].astype(np.int64)

    @property
    def ntotal(self) -> int:
        return len(self.pos_ids)

    @property
    def live(self) -> int:
        return len(self._ids)

    @property
    def dead(self) -> int:
        return self.ntotal - self.live

    def has_duplicates(self) -> bool:
        return bool(len(self._ids) > 1 and (np.diff(self._ids) == 0).any())

    def live_ids(self) -> np.ndarray:
        return self._ids.copy()

    def live_positions(self) -> np.ndarray:
        return np.flatnonzero(self.pos_ids >= 0)

    def _find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index into the sorted arrays, found mask) for each id."""
        if not self.live:
            return np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=bool)
        idx = np.minimum(np.searchsorted(self._ids, ids), self.live - 1)
        return idx, self._ids[idx] == ids

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Live positions of ``ids`` that are present (absent ones dropped)."""
        idx, found = self._find(ids)
        return self._pos[idx[found]]

    def remove(self, ids: np.ndarray) -> int:
        """Tombstone the given distinct ids; returns how many were live."""
        idx, found = self._find(ids)
        idx = idx[found]
        self.pos_ids[self._pos[idx]] = -1
        self._ids = np.delete(self._ids, idx)
        self._pos = np.delete(self._pos, idx)
        return len(idx)

    def append(self, ids: np.ndarray) -> None:
        """Give distinct, currently absent ``ids`` the next positions."""
        positions = np.arange(self.ntotal, self.ntotal + len(ids), dtype=np.int64)
        self.pos_ids = np.concatenate([self.pos_ids, ids])
        order = np.argsort(ids, kind="stable")
        at = np.searchsorted(self._ids, ids[order])
        self._ids = np.insert(self._ids, at, ids[order])
        self._pos = np.insert(self._pos, at, positions[order])


class _ReadWriteLock:
    """Many readers or one writer; a waiting writer blocks new readers so it cannot starve."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


@dataclass(frozen=True)
class _Candidates:
    """What one search may return: how many live vectors, and the FAISS selector admitting them."""

    count: int
    selector: faiss.IDSelector | None
    small: bool  # small enough to skip the approximate path


def _bitmap_selector(positions: np.ndarray, ntotal: int) -> faiss.IDSelectorBitmap:
    mask = np.zeros(ntotal, dtype=bool)
    mask[positions] = True
    # IDSelectorBitmap tests bit (i & 7) of byte i >> 3: little-endian bit order.
    return faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))


# =============================================================================
# FAISS objects per kind
# =============================================================================


def _faiss_metric(metric: str) -> int:
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


def _new_flat(dim: int, metric: str) -> faiss.Index:
    return faiss.IndexFlatL2(dim) if metric == "l2" else faiss.IndexFlatIP(dim)


def _new_hnsw(dim: int, metric: str, spec: IndexSpec) -> faiss.Index:
    index = faiss.IndexHNSWFlat(dim, spec.hnsw_m, _faiss_metric(metric))
    index.hnsw.efConstruction = spec.hnsw_ef_construction
    index.hnsw.efSearch = spec.hnsw_ef_search
    return index


def _new_ivf(quantizer: faiss.Index, dim: int, nlist: int, metric: str, spec: IndexSpec) -> faiss.Index:
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, _faiss_metric(metric))
    index.nprobe = min(spec.ivf_nprobe, nlist)
    return index


def _trained_ivf(vectors: np.ndarray, dim: int, nlist: int, metric: str, spec: IndexSpec) -> faiss.Index:
    """An empty IVFFlat whose k-means coarse quantizer was trained on ``vectors``."""
    index = _new_ivf(_new_flat(dim, metric), dim, nlist, metric, spec)
    _use_threads()
    index.train(vectors)
    return index


def _empty_like(index: faiss.Index, dim: int, metric: str, spec: IndexSpec) -> faiss.Index:
    """A fresh empty index of the same kind; an IVF keeps its trained quantizer (no retraining)."""
    if isinstance(index, faiss.IndexIVFFlat):
        quantizer = faiss.clone_index(index.quantizer)
        return _new_ivf(quantizer, dim, index.nlist, metric, spec)
    if isinstance(index, faiss.IndexHNSWFlat):
        return _new_hnsw(dim, metric, spec)
    return _new_flat(dim, metric)


def _vectors_by_position(index: faiss.Index, dim: int) -> np.ndarray:
    """Every stored vector (tombstones included), row = position.

    Flat and HNSW expose their raw float storage; IVFFlat keeps raw floats in
    its inverted lists, tagged with the positions they were added under, so no
    direct map (8 bytes per vector, and a constraint on removal) is needed.
    """
    if not index.ntotal:
        return np.zeros((0, dim), dtype=np.float32)
    if isinstance(index, faiss.IndexIVFFlat):
        out = np.empty((index.ntotal, dim), dtype=np.float32)
        invlists = index.invlists
        for lst in range(index.nlist):
            size = invlists.list_size(lst)
            if size:
                ids = faiss.rev_swig_ptr(invlists.get_ids(lst), size)
                codes = faiss.rev_swig_ptr(invlists.get_codes(lst), size * dim * 4)
                out[ids] = np.frombuffer(codes, dtype=np.float32).reshape(size, dim)
        return out
    flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSWFlat) else index
    return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * dim).reshape(flat.ntotal, dim)


# =============================================================================
# The index
# =============================================================================


class FaissIndex:
    """A FAISS index addressed by SQL document ids (see the module docstring for how).

    Make one with :func:`build_index` (bulk, from existing vectors),
    :meth:`FaissIndex.empty` (a space with no documents yet) or
    :func:`load_index`; the constructor itself is internal.
    """

    def __init__(
        self,
        *,
        spec: IndexSpec,
        kind: ConcreteKind,
        dim: int,
        metric: Metric,
        index: faiss.Index,
        table: _IdTable | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self._spec = spec
        self._kind: ConcreteKind = kind
        self._dim = int(dim)
        self._metric: Metric = metric
        self._index = index
        self._table = _IdTable() if table is None else table
        self._extra: dict[str, Any] = dict(extra or {})
        self._lock = _ReadWriteLock()
        self._alive_selector: faiss.IDSelector | None = None

    # --- construction ------------------------------------------------------

    @classmethod
    def empty(cls, spec: IndexSpec, dim: int, metric: Metric) -> FaissIndex:
        """An index for a space with no documents yet.

        ``auto`` resolves to ``flat`` (there is nothing to size it by; rebuild
        with :func:`build_index` once ``choose_kind(len(index))`` says
        otherwise). An explicit ``ivf`` cannot be trained on nothing, so it
        stores vectors exactly (flat) until it holds enough to train, then
        trains and moves them into the IVF by itself (see ``trained``).
        """
        _check_space(dim, metric)
        kind: ConcreteKind = "flat" if spec.kind == "auto" else spec.kind
        index = _new_hnsw(dim, metric, spec) if kind == "hnsw" else _new_flat(dim, metric)
        return cls(spec=spec, kind=kind, dim=dim, metric=metric, index=index)

    @classmethod
    def load(cls, directory: Path | str) -> FaissIndex:
        """Same as :func:`load_index`."""
        return load_index(directory)

    # --- properties ----------------------------------------------------------

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def metric(self) -> Metric:
        return self._metric

    @property
    def kind(self) -> ConcreteKind:
        """The resolved kind (never ``auto``)."""
        return self._kind

    @property
    def spec(self) -> IndexSpec:
        """The spec as given (its ``kind`` may still read ``auto``)."""
        return self._spec

    @property
    def trained(self) -> bool:
        """False only for an explicit ``ivf`` still waiting for enough vectors to train."""
        return self._kind != "ivf" or isinstance(self._index, faiss.IndexIVFFlat)

    @property
    def nlist(self) -> int | None:
        """The IVF list count once trained, else None."""
        return int(self._index.nlist) if isinstance(self._index, faiss.IndexIVFFlat) else None

    @property
    def tombstones(self) -> int:
        """Removed or replaced vectors still held by FAISS until the next compaction."""
        return self._table.dead

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self._extra)

    def ids(self) -> np.ndarray:
        """The live document ids, sorted (for reconciling with SQL)."""
        with self._lock.read():
            return self._table.live_ids()

    def __len__(self) -> int:
        return self._table.live

    def __contains__(self, doc_id: object) -> bool:
        if isinstance(doc_id, bool) or not isinstance(doc_id, (int, np.integer)):
            return False
        if not 0 <= doc_id <= _INT64_MAX:
            return False
        with self._lock.read():
            return len(self._table.positions(np.array([doc_id], dtype=np.int64))) == 1

    def __repr__(self) -> str:
        return (
            f"FaissIndex(kind={self._kind!r}, dim={self._dim}, metric={self._metric!r}, "
            f"count={len(self)}, tombstones={self.tombstones})"
        )

    # --- mutation ------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: an id already present is tombstoned and re-added, never duplicated.

        Raises:
            InvalidIds: ids not non-negative integers, repeated, or not one per vector.
            DimensionMismatch: vectors not (n, dim).
            InvalidVectors: non-numeric, NaN or infinite values.
        """
        ids = _check_ids(ids, field="ids", unique=True)
        vectors = _check_vectors(vectors, self._dim, self._metric, len(ids))
        if not len(ids):
            return
        with self._lock.write():
            self._append(ids, vectors)
            self._after_mutation()

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (unknown ones ignored); returns how many were present."""
        ids = np.unique(_check_ids(ids, field="ids", unique=False))
        if not len(ids):
            return 0
        with self._lock.write():
            removed = self._table.remove(ids)
            if removed:
                self._after_mutation()
            return removed

    def compact(self) -> None:
        """Drop tombstones now by rebuilding from the live vectors (positions renumbered).

        Runs by itself after a mutation leaves more than ``COMPACT_TOMBSTONE_FRACTION``
        of positions dead; call it directly before a save to ship a lean snapshot.
        It holds the write lock, so searches wait for it (for HNSW it is a full
        graph build: seconds per 100k vectors).
        """
        with self._lock.write():
            self._rebuild(self._index)

    def _append(self, ids: np.ndarray, vectors: np.ndarray, progress: Progress | None = None) -> None:
        """FAISS first, bookkeeping after: if FAISS fails, nothing visible has changed."""
        _use_threads()
        if progress is None:
            self._index.add(vectors)
        else:
            for start in range(0, len(vectors), ADD_CHUNK):
                self._index.add(vectors[start : start + ADD_CHUNK])
                progress(min(start + ADD_CHUNK, len(vectors)), len(vectors))
        self._table.remove(ids)
        self._table.append(ids)
        self._alive_selector = None

    def _after_mutation(self) -> None:
        self._alive_selector = None
        if not self.trained:
            self._train_when_ready()
        if self._table.dead > COMPACT_TOMBSTONE_FRACTION * self._table.ntotal:
            self._rebuild(self._index)

    def _train_when_ready(self) -> None:
        """Deferred IVF training: once enough live vectors exist, train on them and move them in."""
        n = self._table.live
        nlist = _ivf_nlist(self._spec, n, auto=False)
        if n < _min_training_vectors(nlist):
            return
        live = self._table.live_positions()
        vectors = _vectors_by_position(self._index, self._dim)[live]
        log.info("training IVF (nlist=%d) on %d vectors", nlist, n)
        self._rebuild(_trained_ivf(vectors, self._dim, nlist, self._metric, self._spec), vectors)

    def _rebuild(self, template: faiss.Index, vectors: np.ndarray | None = None) -> None:
        """Replace the FAISS index with one like ``template`` holding only the live vectors."""
        live = self._table.live_positions()
        if vectors is None:
            if not self._table.dead:
                return
            vectors = _vectors_by_position(self._index, self._dim)[live]
        index = (
            template
            if template is not self._index
            else _empty_like(template, self._dim, self._metric, self._spec)
        )
        _use_threads()
        index.add(np.ascontiguousarray(vectors))
        self._index = index
        self._table = _IdTable(self._table.pos_ids[live].copy())
        self._alive_selector = None

    # --- search --------------------------------------------------------------

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed_ids: np.ndarray | None = None,
        params: SearchParams | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest neighbours, best first: ``(scores float32 (nq, k), ids int64 (nq, k))``.

        ``queries`` is (nq, dim) or (dim,). Rows are padded with id -1 and score
        -inf (cosine, ip) / +inf (l2) when fewer than ``k`` vectors qualify.
        With ``allowed_ids`` only those ids come back (unknown ones are ignored),
        and whenever at least ``k`` of them are live exactly ``k`` come back.
        ``params`` overrides efSearch / nprobe for this call, or asks for an
        exhaustive search; the spec stays as it is (FAISS's per-call
        ``SearchParameters``, so concurrent searches do not see each other's).

        Raises:
            InvalidK: ``k`` is not a positive integer.
            DimensionMismatch / InvalidVectors: bad queries.
            InvalidIds: ``allowed_ids`` not non-negative integers.
        """
        k = _check_k(k)
        q = _check_queries(queries, self._dim, self._metric)
        allowed = (
            None
            if allowed_ids is None
            else np.unique(_check_ids(allowed_ids, field="allowed_ids", unique=False))
        )
        with self._lock.read():
            cand = self._candidates(allowed)
            k_eff = min(k, cand.count)
            if not k_eff or not len(q):
                return self._pad(np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64), k)
            _use_threads(len(q))
            exact = params is not None and params.exact
            if exact or cand.small or self._kind == "flat" or not self.trained:
                distances, labels = self._exhaustive(q, k_eff, cand.selector)
            else:
                distances, labels = self._approximate(q, k_eff, cand, params or _DEFAULT_PARAMS)
                short = (labels >= 0).sum(axis=1) < k_eff
                if short.any():
                    distances[short], labels[short] = self._exhaustive(q[short], k_eff, cand.selector)
            return self._results(distances, labels, k)

    def _candidates(self, allowed: np.ndarray | None) -> _Candidates:
        live = self._table.live
        if allowed is None:
            if self._table.dead and self._alive_selector is None:
                self._alive_selector = _bitmap_selector(self._table.live_positions(), self._table.ntotal)
            selector = self._alive_selector if self._table.dead else None
            return _Candidates(live, selector, small=live <= EXACT_MAX_CANDIDATES)
        positions = self._table.positions(allowed)
        count = len(positions)
        small = count <= max(EXACT_MAX_CANDIDATES, EXACT_MAX_FRACTION * live)
        selector = _bitmap_selector(positions, self._table.ntotal) if count else None
        return _Candidates(count, selector, small)

    def _approximate(
        self, q: np.ndarray, k: int, cand: _Candidates, params: SearchParams = _DEFAULT_PARAMS
    ) -> tuple[np.ndarray, np.ndarray]:
        """HNSW or IVF search restricted to the candidates.

        Under a filter HNSW widens its beam by the inverse of the allowed
        fraction: the beam holds ``efSearch`` nodes of any kind, so with 1 in 8
        allowed it would otherwise see ~efSearch/8 usable ones (recall drops
        sharply, worst under inner product). IVF needs no such help: its
        probed lists are scanned completely, and short rows fall back anyway.
        """
        if isinstance(self._index, faiss.IndexHNSWFlat):
            widen = self._table.live / max(cand.count, 1)
            base = params.ef_search or self._spec.hnsw_ef_search
            ef = min(MAX_EF_SEARCH, math.ceil(max(base, k) * widen))
            faiss_params = faiss.SearchParametersHNSW(efSearch=max(ef, k), sel=cand.selector)
        else:
            nprobe = params.nprobe or self._spec.ivf_nprobe
            faiss_params = faiss.SearchParametersIVF(nprobe=min(nprobe, self._index.nlist), sel=cand.selector)
        return self._index.search(q, k, params=faiss_params)

    def _exhaustive(
        self, q: np.ndarray, k: int, selector: faiss.IDSelector | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact search over the selected positions, still inside FAISS.

        Flat is exhaustive already; HNSWFlat's raw vectors sit in a flat
        ``storage`` index under the same positions; an IVFFlat probing all of
        its lists compares the query with every stored vector.
        """
        if isinstance(self._index, faiss.IndexIVFFlat):
            params = faiss.SearchParametersIVF(nprobe=self._index.nlist, sel=selector)
            return self._index.search(q, k, params=params)
        flat = (
            faiss.downcast_index(self._index.storage)
            if isinstance(self._index, faiss.IndexHNSWFlat)
            else self._index
        )
        return flat.search(q, k, params=faiss.SearchParameters(sel=selector))

    def _results(self, distances: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions -> document ids, FAISS distances -> documented scores, padded to k."""
        ids = np.where(labels >= 0, self._table.pos_ids[np.maximum(labels, 0)], -1)
        if self._metric == "l2":
            scores = np.sqrt(np.maximum(distances, 0, dtype=np.float32))
        elif self._metric == "cosine":
            scores = np.clip(distances, -1.0, 1.0)
        else:
            scores = distances
        return self._pad(scores.astype(np.float32, copy=False), ids.astype(np.int64, copy=False), k)

    def _pad(self, scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        fill = np.float32(np.inf if self._metric == "l2" else -np.inf)
        out_scores = np.full((len(scores), k), fill, dtype=np.float32)
        out_ids = np.full((len(ids), k), -1, dtype=np.int64)
        width = ids.shape[1]
        out_scores[:, :width] = np.where(ids >= 0, scores, fill)
        out_ids[:, :width] = ids
        return out_scores, out_ids

    # --- persistence -----------------------------------------------------------

    def save(self, directory: Path | str, extra: Mapping[str, Any] | None = None) -> None:
        """Write a snapshot atomically (temp sibling, fsync, rename; see ``_write_atomically``).

        ``extra`` (JSON-serialisable, e.g. ``{"last_change_id": 42}``) goes into
        the manifest and is what ``extra`` returns after loading; None keeps the
        current one. Searches may run during a save; mutations wait for it.

        Raises:
            IndexFileError: the snapshot could not be written (the previous one is left intact).
        """
        directory = Path(directory)
        clean_extra = _check_extra(self._extra if extra is None else extra)
        with self._lock.read():
            _write_atomically(directory, lambda tmp: self._write_files(tmp, clean_extra))
        self._extra = clean_extra

    def _write_files(self, tmp: Path, extra: dict[str, Any]) -> None:
        faiss.write_index(self._index, str(tmp / INDEX_FILE))
        with open(tmp / IDS_FILE, "wb") as fh:
            np.save(fh, self._table.pos_ids, allow_pickle=False)
        manifest = self._manifest(extra)
        manifest["files"] = {name: (tmp / name).stat().st_size for name in (INDEX_FILE, IDS_FILE)}
        # The manifest goes last: a directory with a manifest is a complete snapshot.
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        for name in (INDEX_FILE, IDS_FILE, MANIFEST_FILE):
            _fsync_path(tmp / name)

    def _manifest(self, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self._kind,
            "trained": self.trained,
            "nlist": self.nlist,
            "dim": self._dim,
            "metric": self._metric,
            "spec": self._spec.model_dump(mode="json"),
            "count": self._table.live,
            "positions": self._table.ntotal,
            "faiss_version": faiss.__version__,
            "extra": extra,
        }


# =============================================================================
# Bulk build and load
# =============================================================================


def build_index(
    spec: IndexSpec,
    dim: int,
    metric: Metric,
    ids: np.ndarray,
    vectors: np.ndarray,
    *,
    progress: Progress | None = None,
) -> FaissIndex:
    """Build an index over existing vectors in one go.

    ``auto`` is resolved by ``len(ids)`` (:func:`choose_kind`); an IVF is trained
    on these vectors. An empty input gives an empty index (see
    :meth:`FaissIndex.empty` for how each kind starts empty).

    Raises:
        InsufficientTrainingData: an explicit ``ivf`` with fewer than 39 vectors
            per list (field ``index.kind``; an IVF chosen by ``auto`` never is).
        InvalidIds / DimensionMismatch / InvalidVectors: as for ``add``.
    """
    _check_space(dim, metric)
    ids = _check_ids(ids, field="ids", unique=True)
    vectors = _check_vectors(vectors, dim, metric, len(ids))
    n = len(ids)
    auto = spec.kind == "auto"
    kind: ConcreteKind = choose_kind(n) if auto else spec.kind
    if kind == "flat":
        index = _new_flat(dim, metric)
    elif kind == "hnsw":
        index = _new_hnsw(dim, metric, spec)
    else:
        nlist = _ivf_nlist(spec, n, auto=auto)
        _require_training_data(spec, nlist, n)
        index = _trained_ivf(vectors, dim, nlist, metric, spec)
    result = FaissIndex(spec=spec, kind=kind, dim=dim, metric=metric, index=index)
    if n:
        result._append(ids, vectors, progress)
    return result


def empty_index(spec: IndexSpec, dim: int, metric: Metric) -> FaissIndex:
    """Same as :meth:`FaissIndex.empty`: an index for a space with no documents yet."""
    return FaissIndex.empty(spec, dim, metric)


def load_index(directory: Path | str) -> FaissIndex:
    """Load a snapshot written by :meth:`FaissIndex.save`.

    Raises:
        IndexFileError: missing directory, or a manifest, index file or id array
            that is absent, unreadable or inconsistent with the others.
    """
    directory = Path(directory)
    try:
        _recover_interrupted_swap(directory)
        return _load(directory)
    except OSError as exc:
        raise IndexFileError(f"cannot read index snapshot {directory}: {exc}", field="index") from exc


def _load(directory: Path) -> FaissIndex:
    if not directory.is_dir():
        raise IndexFileError(f"no index snapshot at {directory}", field="index")
    manifest = _read_manifest(directory)
    try:
        spec = IndexSpec.model_validate(manifest["spec"])
        dim, metric, kind = int(manifest["dim"]), manifest["metric"], manifest["kind"]
        _check_space(dim, metric)
        if kind not in get_args(ConcreteKind):
            raise ValueError(f"unknown kind {kind!r}")
    except (KeyError, TypeError, ValueError, IndexerError) as exc:
        raise IndexFileError(f"index manifest in {directory} is invalid: {exc}", field="index") from exc
    _check_file_sizes(directory, manifest)
    try:
        index = faiss.read_index(str(directory / INDEX_FILE))
        pos_ids = np.load(directory / IDS_FILE, allow_pickle=False)
    except (OSError, RuntimeError, ValueError) as exc:
        raise IndexFileError(f"cannot read index files in {directory}: {exc}", field="index") from exc
    table = _check_loaded(directory, manifest, kind, dim, metric, index, pos_ids)
    return FaissIndex(
        spec=spec,
        kind=kind,
        dim=dim,
        metric=metric,
        index=index,
        table=table,
        extra=manifest.get("extra") or {},
    )


def _read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"cannot read {MANIFEST_FILE} in {directory}: {exc}", field="index") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexFileError(f"{directory} does not hold a vecdex FAISS index snapshot", field="index")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFileError(
            f"{directory} has snapshot format version {manifest.get('format_version')!r}; "
            f"this vecdex reads version {FORMAT_VERSION}",
            field="index",
        )
    return manifest


def _check_file_sizes(directory: Path, manifest: dict[str, Any]) -> None:
    """A truncated file (disk full, copy interrupted) is caught before FAISS parses it."""
    for name, size in (manifest.get("files") or {}).items():
        path = directory / name
        actual = path.stat().st_size if path.is_file() else None
        if actual != size:
            raise IndexFileError(
                f"{path} is missing or truncated ({actual} bytes, expected {size})", field="index"
            )


def _check_loaded(
    directory: Path,
    manifest: dict[str, Any],
    kind: str,
    dim: int,
    metric: str,
    index: faiss.Index,
    pos_ids: np.ndarray,
) -> _IdTable:
    expected = {"hnsw": faiss.IndexHNSWFlat, "ivf": faiss.IndexIVFFlat}.get(kind, faiss.IndexFlat)
    if kind == "ivf" and not manifest.get("trained", True):
        expected = faiss.IndexFlat
    problems = []
    if not isinstance(index, expected):
        problems.append(f"index file holds {type(index).__name__}, manifest says {kind}")
    if index.d != dim or index.metric_type != _faiss_metric(metric):
        problems.append("index file dimension or metric differs from the manifest")
    if pos_ids.ndim != 1 or pos_ids.dtype != np.int64 or len(pos_ids) != index.ntotal:
        problems.append(f"{IDS_FILE} does not match the index ({pos_ids.shape} for {index.ntotal} vectors)")
    if problems:
        raise IndexFileError(f"inconsistent snapshot in {directory}: " + "; ".join(problems), field="index")
    table = _IdTable(pos_ids)
    if table.has_duplicates() or table.live != manifest.get("count"):
        raise IndexFileError(f"inconsistent snapshot in {directory}: id array is corrupt", field="index")
    return table


# =============================================================================
# Atomic snapshot directories
# =============================================================================


def _write_atomically(directory: Path, write: Callable[[Path], None]) -> None:
    """Write a snapshot via a temporary sibling directory swapped into place.

    ``write`` fills a fresh ``.<name>.tmp-*`` sibling (same filesystem, so the
    renames are atomic) and fsyncs its files. An existing snapshot is renamed
    aside to ``.<name>.old-*``, the new one renamed in, the parent fsynced, the
    old one deleted. A crash leaves either the old or the new snapshot complete
    at ``directory`` -- or, between the two renames, the old one aside, which
    :func:`load_index` moves back. On error the temporary directory is removed
    and the previous snapshot is untouched.
    """
    parent = directory.parent
    if directory.exists() and not directory.is_dir():
        raise IndexFileError(f"{directory} exists and is not a directory", field="index")
    tmp = directory.with_name(f".{directory.name}.tmp-{uuid.uuid4().hex}")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()  # not tempfile.mkdtemp: its 0700 mode would outlive the rename
    except OSError as exc:
        raise IndexFileError(f"cannot create a snapshot next to {directory}: {exc}", field="index") from exc
    try:
        write(tmp)
        _fsync_path(tmp)
        _swap_into_place(tmp, directory)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, (OSError, RuntimeError)):
            raise IndexFileError(f"could not save index snapshot to {directory}: {exc}", field="index") from exc
        raise
    _remove_stale_siblings(directory)


def _swap_into_place(tmp: Path, directory: Path) -> None:
    old: Path | None = None
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old-{uuid.uuid4().hex}")
        os.rename(directory, old)
    try:
        os.rename(tmp, directory)
    except BaseException:
        if old is not None:
            os.rename(old, directory)
        raise
    _fsync_path(directory.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _recover_interrupted_swap(directory: Path) -> None:
    """If a save crashed between its two renames, put the set-aside snapshot back."""
    if directory.exists():
        return
    aside = [p for p in directory.parent.glob(f".{directory.name}.old-*") if (p / MANIFEST_FILE).is_file()]
    if aside:
        newest = max(aside, key=lambda p: p.stat().st_mtime)
        log.warning("restoring index snapshot %s from interrupted save (%s)", directory, newest.name)
        os.rename(newest, directory)


def _remove_stale_siblings(directory: Path) -> None:
    """Delete temp/aside directories a crashed save left behind (old enough not to be another save's)."""
    cutoff = time.time() - STALE_SIBLING_SECONDS
    for pattern in (f".{directory.name}.tmp-*", f".{directory.name}.old-*"):
        for path in directory.parent.glob(pattern):
            try:
                if path.stat().st_mtime < cutoff:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass


def _fsync_path(path: Path) -> None:
    """Flush a file's or a directory's entries to disk (directories: where the OS allows it)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() and hasattr(os, "O_DIRECTORY") else 0)
    try:
        fd = os.open(path, flags)
    except (IsADirectoryError, PermissionError):  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
