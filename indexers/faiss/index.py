"""FAISS-backed vector index: SQL document ids in, nearest neighbours out.

How ids work. The FAISS index never sees a document id. Vectors live at
internal *positions* 0..ntotal-1 in insertion order, and ``IdTable`` (:mod:`.ids`) maps
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

import logging
import math
from pathlib import Path

import faiss
import numpy as np

from embedders.base import NullProgress, Progress

from ..base import ConcreteKind, IndexSpec, Metric, SearchParams
from ..masked_ids import id_mask
from ..validation import (
    check_checkpoint,
    check_ids,
    check_k,
    check_queries,
    check_space,
    check_vectors,
    is_valid_id,
)
from . import kinds
from .ids import Candidates, IdTable, bitmap_selector
from .rwlock import ReadWriteLock
from .snapshot import Snapshot, read_snapshot, write_snapshot
from .subset import exhaustive, flat_storage, pad, results, search_among, sorted_unique
from .threads import use_threads

__all__ = ["FaissIndex"]

log = logging.getLogger(__name__)

# Rebuild from live vectors once this fraction of positions are tombstones:
# dead HNSW nodes still cost traversal and memory, but a rebuild is O(N log N),
# so it is amortised over at least a quarter of the index being rewritten.
COMPACT_TOMBSTONE_FRACTION = 0.25

# Filtered searches go straight to the exhaustive path when the allowed set is
# this small (absolute) or this thin (fraction of live vectors): scanning a few
# thousand vectors is cheaper than a graph walk that would come back short.
EXACT_MAX_CANDIDATES = 2_048
EXACT_MAX_FRACTION = 0.02
# Flat / HNSWFlat: allowed sets up to this many floats (count x dim: 16,384 of 64-d) are gathered and
# compared exactly (100k docs, 10 % allowed: 2.8 ms as a widened HNSW walk, ~0.5 ms gathered).
GATHER_MAX_FLOATS = 1 << 20

# Ceiling on the widened HNSW beam of a filtered search (IndexSpec's own limit).
MAX_EF_SEARCH = 4_096
_DEFAULT_PARAMS = SearchParams()  # the spec's own settings

ADD_CHUNK = 16_384  # bulk builds add in chunks so progress can be reported


class FaissIndex:
    """A FAISS index addressed by SQL document ids (see the module docstring for how).

    Made through :mod:`indexers.factory` (backend ``"faiss"``), which calls
    :meth:`build` (bulk, from existing vectors), :meth:`empty` (a space with
    no documents yet) or :meth:`open`; the constructor itself is internal.
    """

    def __init__(
        self,
        *,
        spec: IndexSpec,
        kind: ConcreteKind,
        dim: int,
        metric: Metric,
        index: faiss.Index,
        table: IdTable | None = None,
        checkpoint: int = 0,
    ) -> None:
        self._spec = spec
        self._kind: ConcreteKind = kind
        self._dim = int(dim)
        self._metric: Metric = metric
        self._index = index
        self._table = IdTable() if table is None else table
        self._checkpoint = checkpoint
        self._lock = ReadWriteLock()
        self._alive_selector: faiss.IDSelector | None = None
        self._memo: dict[int, tuple[np.ndarray, int, Candidates]] = {}  # read-only filter mask -> its candidates

    # --- construction ------------------------------------------------------

    @classmethod
    def empty(cls, spec: IndexSpec, dim: int, metric: Metric) -> FaissIndex:
        """An index for a space with no documents yet.

        ``auto`` resolves to ``flat`` (there is nothing to size it by; rebuild
        with :meth:`build` once ``choose_kind(len(index))`` says
        otherwise). An explicit ``ivf`` cannot be trained on nothing, so it
        stores vectors exactly (flat) until it holds enough to train, then
        trains and moves them into the IVF by itself (see ``trained``).
        """
        check_space(dim, metric)
        kind: ConcreteKind = "flat" if spec.kind == "auto" else spec.kind
        index = kinds.new_hnsw(dim, metric, spec) if kind == "hnsw" else kinds.new_flat(dim, metric)
        return cls(spec=spec, kind=kind, dim=dim, metric=metric, index=index)

    @classmethod
    def build(
        cls,
        spec: IndexSpec,
        dim: int,
        metric: Metric,
        ids: np.ndarray,
        vectors: np.ndarray,
        progress: Progress | None = None,
    ) -> FaissIndex:
        """Build an index over existing vectors in one go.

        ``auto`` is resolved by ``len(ids)`` (:func:`~.kinds.choose_kind`); an IVF
        is trained on these vectors. An empty input gives an empty index (see
        :meth:`empty` for how each kind starts empty). ``progress`` gets phase
        ``"index"`` with total ``len(ids)`` and is advanced per ``ADD_CHUNK`` added.

        Raises:
            InsufficientTrainingData: an explicit ``ivf`` with fewer than 39 vectors
                per list (field ``index.kind``; an IVF chosen by ``auto`` never is).
            InvalidIds / DimensionMismatch / InvalidVectors: as for ``add``.
        """
        check_space(dim, metric)
        ids = check_ids(ids, field="ids", unique=True)
        vectors = check_vectors(vectors, dim, metric, len(ids))
        n = len(ids)
        auto = spec.kind == "auto"
        kind: ConcreteKind = kinds.choose_kind(n) if auto else spec.kind
        if kind == "flat":
            index = kinds.new_flat(dim, metric)
        elif kind == "hnsw":
            index = kinds.new_hnsw(dim, metric, spec)
        else:
            nlist = kinds.ivf_nlist(spec, n, auto=auto)
            kinds.require_training_data(spec, nlist, n)
            index = kinds.trained_ivf(vectors, dim, nlist, metric, spec)
        result = cls(spec=spec, kind=kind, dim=dim, metric=metric, index=index)
        progress = progress or NullProgress()
        progress.start("index", n)
        if n:
            result._append(ids, vectors, progress)
        return result

    @classmethod
    def open(cls, directory: Path | str) -> FaissIndex:
        """Load a snapshot written by :meth:`save` (see :func:`.snapshot.read_snapshot` for the checks).

        Raises:
            IndexFileError: missing, incomplete or inconsistent snapshot (field ``index``).
        """
        snap = read_snapshot(Path(directory))
        return cls(
            spec=snap.spec,
            kind=snap.kind,
            dim=snap.dim,
            metric=snap.metric,
            index=snap.index,
            table=snap.table,
            checkpoint=snap.checkpoint,
        )

    # --- properties ----------------------------------------------------------

    @property
    def backend(self) -> str:
        return "faiss"

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
    def checkpoint(self) -> int:
        """The change id given to the last ``save`` (or read from the snapshot opened); 0 if none."""
        return self._checkpoint

    def ids(self) -> np.ndarray:
        """The live document ids, sorted (for reconciling with SQL)."""
        with self._lock.read():
            return self._table.live_ids()

    def __len__(self) -> int:
        return self._table.live

    def __contains__(self, doc_id: object) -> bool:
        if not is_valid_id(doc_id):
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
        ids = check_ids(ids, field="ids", unique=True)
        vectors = check_vectors(vectors, self._dim, self._metric, len(ids))
        if not len(ids):
            return
        with self._lock.write():
            self._append(ids, vectors)
            self._after_mutation()

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (unknown ones ignored); returns how many were present."""
        ids = np.unique(check_ids(ids, field="ids", unique=False))
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
        use_threads()
        if progress is None:
            self._index.add(vectors)
        else:
            for start in range(0, len(vectors), ADD_CHUNK):
                chunk = vectors[start : start + ADD_CHUNK]
                self._index.add(chunk)
                progress.advance(len(chunk))
        self._table.remove(ids)
        self._table.append(ids)
        self._alive_selector, self._memo = None, {}

    def _after_mutation(self) -> None:
        self._alive_selector, self._memo = None, {}
        if not self.trained:
            self._train_when_ready()
        if self._table.dead > COMPACT_TOMBSTONE_FRACTION * self._table.ntotal:
            self._rebuild(self._index)

    def _train_when_ready(self) -> None:
        """Deferred IVF training: once enough live vectors exist, train on them and move them in."""
        n = self._table.live
        nlist = kinds.ivf_nlist(self._spec, n, auto=False)
        if n < kinds.min_training_vectors(nlist):
            return
        live = self._table.live_positions()
        vectors = kinds.vectors_by_position(self._index, self._dim)[live]
        log.info("training IVF (nlist=%d) on %d vectors", nlist, n)
        self._rebuild(kinds.trained_ivf(vectors, self._dim, nlist, self._metric, self._spec), vectors)

    def _rebuild(self, template: faiss.Index, vectors: np.ndarray | None = None) -> None:
        """Replace the FAISS index with one like ``template`` holding only the live vectors."""
        live = self._table.live_positions()
        if vectors is None:
            if not self._table.dead:
                return
            vectors = kinds.vectors_by_position(self._index, self._dim)[live]
        index = (
            template
            if template is not self._index
            else kinds.empty_like(template, self._dim, self._metric, self._spec)
        )
        use_threads()
        index.add(np.ascontiguousarray(vectors))
        self._index = index
        self._table = IdTable(self._table.pos_ids[live].copy())
        self._alive_selector, self._memo = None, {}

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
        k = check_k(k)
        q = check_queries(queries, self._dim, self._metric)
        given_mask = id_mask(allowed_ids)  # ids cut from a mask: sorted, distinct, valid already
        if given_mask is not None or allowed_ids is None:
            allowed = allowed_ids
        else:
            allowed = sorted_unique(check_ids(allowed_ids, field="allowed_ids", unique=False))
        with self._lock.read():
            cand = self._candidates(allowed, given_mask)
            k_eff = min(k, cand.count)
            if not k_eff or not len(q):
                return self._pad(np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64), k)
            use_threads(len(q))
            exact = params is not None and params.exact
            if cand.positions is not None:
                distances, labels = search_among(self._index, q, k_eff, cand.positions)
            elif exact or cand.small or self._kind == "flat" or not self.trained:
                distances, labels = self._exhaustive(q, k_eff, cand.selector)
            else:
                distances, labels = self._approximate(q, k_eff, cand, params or _DEFAULT_PARAMS)
                short = (labels >= 0).sum(axis=1) < k_eff
                if short.any():
                    distances[short], labels[short] = self._exhaustive(q[short], k_eff, cand.selector)
            return self._results(distances, labels, k)

    def _candidates(self, allowed: np.ndarray | None, given_mask: tuple[int, np.ndarray] | None = None) -> Candidates:
        """What a search may return; for a read-only mask (a filter answer its cache shares between
        queries) remembered until the index changes: shifting, counting and packing 1M flags cost ~0.3 ms."""
        if given_mask is None or given_mask[1].flags.writeable:
            return self._fresh_candidates(allowed, given_mask)
        start, mask = given_mask
        hit = self._memo.get(id(mask))
        if hit is None or hit[0] is not mask or hit[1] != start:
            hit = (mask, start, self._fresh_candidates(allowed, given_mask))
            if len(self._memo) >= 8:
                self._memo = {}  # a new dict, not a pop: concurrent readers may be iterating none of it
            self._memo[id(mask)] = hit
        return hit[2]

    def _fresh_candidates(self, allowed: np.ndarray | None, given_mask: tuple[int, np.ndarray] | None) -> Candidates:
        live = self._table.live
        if allowed is None:
            if self._table.dead and self._alive_selector is None:
                self._alive_selector = bitmap_selector(self._table.live_positions(), self._table.ntotal)
            selector = self._alive_selector if self._table.dead else None
            return Candidates(live, selector, small=live <= EXACT_MAX_CANDIDATES)
        by_position = self._table.position_mask(*given_mask) if given_mask is not None else None
        if by_position is not None:  # the filter's mask, shifted: no id -> position lookup, no scatter
            count = int(np.count_nonzero(by_position))
            positions = None
        else:
            positions = self._table.positions(allowed)
            count = len(positions)
        small = count <= max(EXACT_MAX_CANDIDATES, EXACT_MAX_FRACTION * live)
        gather = small or count * self._dim <= GATHER_MAX_FLOATS
        if count and gather and self._flat_storage() is not None:
            positions = np.flatnonzero(by_position) if positions is None else positions
            return Candidates(count, None, True, positions=positions)
        if not count:
            return Candidates(0, None, small)
        if by_position is not None:  # IDSelectorBitmap tests bit (i & 7) of byte i >> 3: little-endian
            return Candidates(count, faiss.IDSelectorBitmap(np.packbits(by_position, bitorder="little")), small)
        return Candidates(count, bitmap_selector(positions, self._table.ntotal), small)

    def _approximate(
        self, q: np.ndarray, k: int, cand: Candidates, params: SearchParams = _DEFAULT_PARAMS
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
            faiss_params = kinds.hnsw_params(max(ef, k), cand.selector)
        else:
            nprobe = params.nprobe or self._spec.ivf_nprobe
            faiss_params = faiss.SearchParametersIVF(nprobe=min(nprobe, self._index.nlist), sel=cand.selector)
        return self._index.search(q, k, params=faiss_params)

    def _exhaustive(self, q: np.ndarray, k: int, selector: faiss.IDSelector | None) -> tuple[np.ndarray, np.ndarray]:
        return exhaustive(self._index, q, k, selector)

    def _flat_storage(self) -> faiss.IndexFlat | None:
        return flat_storage(self._index)

    def _results(self, distances: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return results(distances, labels, k, self._metric, self._table.pos_ids)

    def _pad(self, scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return pad(scores, ids, k, self._metric)

    # --- persistence -----------------------------------------------------------

    def save(self, directory: Path | str, *, checkpoint: int | None = None) -> None:
        """Write a snapshot atomically (temp sibling, fsync, rename; see :mod:`indexers.atomic`).

        ``checkpoint`` (the last change id the index contains) goes into the
        manifest and is what ``checkpoint`` returns after opening; None keeps
        the current one. Searches may run during a save; mutations wait for it.

        Raises:
            IndexerError: ``checkpoint`` is not an integer >= 0 (field ``checkpoint``).
            IndexFileError: the snapshot could not be written (the previous one is left intact).
        """
        value = self._checkpoint if checkpoint is None else check_checkpoint(checkpoint)
        with self._lock.read():
            snap = Snapshot(
                spec=self._spec,
                kind=self._kind,
                dim=self._dim,
                metric=self._metric,
                index=self._index,
                table=self._table,
                checkpoint=value,
            )
            write_snapshot(Path(directory), snap)
        self._checkpoint = value
