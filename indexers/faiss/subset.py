"""Searching a few allowed vectors, the id arrays a filter hands the index, and the shape of results.

Why a module of its own: these are the parts of a filtered search that do not
need the index's state beyond its FAISS object, and keeping them here keeps
:mod:`.index` about the index's life cycle.
"""

from __future__ import annotations

import faiss
import numpy as np

__all__ = ["exhaustive", "flat_storage", "pad", "results", "search_among", "sorted_unique"]


def flat_storage(index: faiss.Index) -> faiss.IndexFlat | None:
    """The flat index holding the raw vectors by position (Flat itself, HNSWFlat's storage), or None (IVF)."""
    if isinstance(index, faiss.IndexHNSWFlat):
        return faiss.downcast_index(index.storage)
    return index if isinstance(index, faiss.IndexFlat) else None


def exhaustive(
    index: faiss.Index, q: np.ndarray, k: int, selector: faiss.IDSelector | None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact search over the selected positions, still inside FAISS.

    Flat is exhaustive already; HNSWFlat's raw vectors sit in a flat ``storage`` index under the
    same positions; an IVFFlat probing all of its lists compares the query with every stored vector.
    """
    if isinstance(index, faiss.IndexIVFFlat):
        return index.search(q, k, params=faiss.SearchParametersIVF(nprobe=index.nlist, sel=selector))
    flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSWFlat) else index
    return flat.search(q, k, params=faiss.SearchParameters(sel=selector))


def search_among(index: faiss.Index, q: np.ndarray, k: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact search over a few allowed positions: the query compared with just those stored vectors.

    Why not the flat index with a selector: that walks every stored vector to test the bitmap
    (10,000 allowed of 1M: 2.5 ms). Why not gathering the allowed vectors and ``faiss.knn``: the copy
    of a few MB faults in fresh pages each query (13,000 of 100k: 1.8 ms). FAISS's ``*_by_idx`` kernels
    compute the distances in place (0.6 ms there), the same arithmetic as its flat search. Returns
    FAISS's (distances, labels) with labels as positions of ``index``, best first (``k`` <= allowed).
    """
    flat = flat_storage(index)
    if flat is None:
        raise TypeError(f"no flat storage to read vectors from in {type(index).__name__}")
    q = np.ascontiguousarray(q, dtype=np.float32)
    nq, n = len(q), len(positions)
    ids = np.ascontiguousarray(np.tile(positions.astype(np.int64, copy=False), nq))
    distances = np.empty((nq, n), dtype=np.float32)
    ip = flat.metric_type == faiss.METRIC_INNER_PRODUCT
    kernel = faiss.fvec_inner_products_by_idx if ip else faiss.fvec_L2sqr_by_idx
    kernel(faiss.swig_ptr(distances), faiss.swig_ptr(q), flat.get_xb(), faiss.swig_ptr(ids), flat.d, nq, n)
    key = -distances if ip else distances  # smaller is better
    best = np.argpartition(key, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (nq, 1))
    rows = np.arange(nq)[:, None]
    best = best[rows, np.argsort(key[rows, best], axis=1, kind="stable")]
    return distances[rows, best], positions[best]


def sorted_unique(ids: np.ndarray) -> np.ndarray:
    """``np.unique(ids)``, skipped when they already are (a filter's ids come sorted and unique; ``unique``
    hashed 5,000 of them in 0.7 ms, more than the search)."""
    if len(ids) < 2 or bool((ids[1:] > ids[:-1]).all()):
        return ids
    return np.unique(ids)


def results(
    distances: np.ndarray, labels: np.ndarray, k: int, metric: str, pos_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions -> document ids, FAISS distances -> documented scores, padded to k."""
    ids = np.where(labels >= 0, pos_ids[np.maximum(labels, 0)], -1)
    if metric == "l2":
        scores = np.sqrt(np.maximum(distances, 0, dtype=np.float32))
    elif metric == "cosine":
        scores = np.clip(distances, -1.0, 1.0)
    else:
        scores = distances
    return pad(scores.astype(np.float32, copy=False), ids.astype(np.int64, copy=False), k, metric)


def pad(scores: np.ndarray, ids: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows widened to ``k`` with id -1 and the worst score (+inf for l2, -inf otherwise), as FAISS pads."""
    fill = np.float32(np.inf if metric == "l2" else -np.inf)
    out_scores = np.full((len(scores), k), fill, dtype=np.float32)
    out_ids = np.full((len(ids), k), -1, dtype=np.int64)
    width = ids.shape[1]
    out_scores[:, :width] = np.where(ids >= 0, scores, fill)
    out_ids[:, :width] = ids
    return out_scores, out_ids
