"""FAISS index kinds: how ``auto`` resolves, how many IVF lists, and how each kind is made.

One module so that the sizing rules (FAISS wiki, "Guidelines to choose an
index") and the FAISS constructors that follow them change together.
"""

from __future__ import annotations

import functools
import math

import faiss
import numpy as np

from ..base import ConcreteKind, IndexSpec
from ..errors import InsufficientTrainingData
from .threads import use_threads

__all__ = [
    "FLAT_MAX_VECTORS",
    "HNSW_MAX_VECTORS",
    "MIN_POINTS_PER_LIST",
    "choose_kind",
    "empty_like",
    "faiss_metric",
    "hnsw_params",
    "ivf_nlist",
    "min_training_vectors",
    "new_flat",
    "new_hnsw",
    "require_training_data",
    "trained_ivf",
    "vectors_by_position",
]

# --- "auto" thresholds (see choose_kind) -------------------------------------
FLAT_MAX_VECTORS = 10_000
HNSW_MAX_VECTORS = 1_000_000

# k-means wants this many training points per list; below it FAISS warns and
# the centroids are noise (faiss.ClusteringParameters.min_points_per_centroid).
MIN_POINTS_PER_LIST = 39


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


def default_nlist(n: int) -> int:
    return max(1, round(4 * math.sqrt(n)))


def ivf_nlist(spec: IndexSpec, n: int, *, auto: bool) -> int:
    """The list count for ``n`` training vectors.

    An explicit ``ivf_nlist`` is honoured when the kind was asked for by name
    (and may then fail to train); under ``auto`` it is capped so that training
    always has ``MIN_POINTS_PER_LIST`` vectors per list.
    """
    nlist = spec.ivf_nlist or default_nlist(n)
    if auto:
        nlist = max(1, min(nlist, n // MIN_POINTS_PER_LIST))
    return nlist


def min_training_vectors(nlist: int) -> int:
    return MIN_POINTS_PER_LIST * nlist


def require_training_data(spec: IndexSpec, nlist: int, n: int) -> None:
    needed = min_training_vectors(nlist)
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


def faiss_metric(metric: str) -> int:
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


def new_flat(dim: int, metric: str) -> faiss.Index:
    return faiss.IndexFlatL2(dim) if metric == "l2" else faiss.IndexFlatIP(dim)


def new_hnsw(dim: int, metric: str, spec: IndexSpec) -> faiss.Index:
    index = faiss.IndexHNSWFlat(dim, spec.hnsw_m, faiss_metric(metric))
    index.hnsw.efConstruction = spec.hnsw_ef_construction
    index.hnsw.efSearch = spec.hnsw_ef_search
    return index


def hnsw_params(ef_search: int, selector: faiss.IDSelector | None) -> faiss.SearchParametersHNSW:
    """HNSW search parameters; the unfiltered ones are made once per beam width and shared.

    Why shared: a SWIG constructor gives up the GIL like any FAISS call, and
    under concurrent searches getting it back is what costs. FAISS only reads
    its parameters, so threads may search with one object at once.
    """
    if selector is None:
        return _unfiltered_hnsw(ef_search)
    return faiss.SearchParametersHNSW(efSearch=ef_search, sel=selector)


@functools.lru_cache(maxsize=256)
def _unfiltered_hnsw(ef_search: int) -> faiss.SearchParametersHNSW:
    return faiss.SearchParametersHNSW(efSearch=ef_search)


def new_ivf(quantizer: faiss.Index, dim: int, nlist: int, metric: str, spec: IndexSpec) -> faiss.Index:
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss_metric(metric))
    index.nprobe = min(spec.ivf_nprobe, nlist)
    return index


def trained_ivf(vectors: np.ndarray, dim: int, nlist: int, metric: str, spec: IndexSpec) -> faiss.Index:
    """An empty IVFFlat whose k-means coarse quantizer was trained on ``vectors``."""
    index = new_ivf(new_flat(dim, metric), dim, nlist, metric, spec)
    use_threads()
    index.train(vectors)
    return index


def empty_like(index: faiss.Index, dim: int, metric: str, spec: IndexSpec) -> faiss.Index:
    """A fresh empty index of the same kind; an IVF keeps its trained quantizer (no retraining)."""
    if isinstance(index, faiss.IndexIVFFlat):
        quantizer = faiss.clone_index(index.quantizer)
        return new_ivf(quantizer, dim, index.nlist, metric, spec)
    if isinstance(index, faiss.IndexHNSWFlat):
        return new_hnsw(dim, metric, spec)
    return new_flat(dim, metric)


def vectors_by_position(index: faiss.Index, dim: int) -> np.ndarray:
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

