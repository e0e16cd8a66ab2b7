"""Input checks every engine needs, raising the package's errors with the offending field.

Kept apart from any engine so that each one refuses the same bad input with
the same error (the contract test holds them all to it): ids that are not
non-negative int64 or repeat, vectors of the wrong width or holding NaN, a
``k`` below 1, a checkpoint that is not a change id.
"""

from __future__ import annotations

from typing import Any, get_args

import numpy as np

from .base import Metric
from .errors import DimensionMismatch, IndexerError, InvalidIds, InvalidK, InvalidVectors

__all__ = [
    "INT64_MAX",
    "check_checkpoint",
    "check_ids",
    "check_k",
    "check_queries",
    "check_space",
    "check_vectors",
    "is_valid_id",
    "normalize_rows",
]

METRICS: tuple[str, ...] = get_args(Metric)
INT64_MAX = int(np.iinfo(np.int64).max)


def check_space(dim: Any, metric: Any) -> None:
    """``dim`` a positive integer and ``metric`` one of cosine / ip / l2 (fields ``dim``, ``metric``)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise IndexerError(f"dim must be a positive integer, got {dim!r}", field="dim")
    if metric not in METRICS:
        raise IndexerError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}", field="metric")


def check_ids(ids: Any, *, field: str, unique: bool) -> np.ndarray:
    """A 1-D int64 copy of ``ids``, all >= 0 (and distinct when ``unique``)."""
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1:
        raise InvalidIds(f"{field} must be a 1-D array, got shape {arr.shape}", field=field)
    if arr.dtype.kind not in "iu":
        raise InvalidIds(f"{field} must be integers (int64 document ids), got dtype {arr.dtype}", field=field)
    if arr.dtype.kind == "u" and int(arr.max()) > INT64_MAX:
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


def is_valid_id(doc_id: object) -> bool:
    """Whether ``doc_id`` could be in an index at all (``__contains__`` answers False otherwise)."""
    if isinstance(doc_id, bool) or not isinstance(doc_id, (int, np.integer)):
        return False
    return 0 <= int(doc_id) <= INT64_MAX


def _as_float32(arr: np.ndarray, field: str) -> np.ndarray:
    if arr.dtype.kind not in "fiu":
        raise InvalidVectors(f"{field} must be real numbers, got dtype {arr.dtype}", field=field)
    with np.errstate(over="ignore"):  # overflow becomes inf, refused just below
        out = np.array(arr, dtype=np.float32, order="C", copy=True)
    if not np.isfinite(out).all():
        raise InvalidVectors(f"{field} contain NaN or infinite values (after conversion to float32)", field=field)
    return out


def normalize_rows(arr: np.ndarray) -> None:
    """L2-normalise float32 rows in place; a zero row stays zero (and scores 0 against everything)."""
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    np.divide(arr, norms, out=arr, where=norms > 0)


def check_vectors(vectors: Any, dim: int, metric: str, n: int) -> np.ndarray:
    """A C-contiguous float32 copy of ``vectors`` (n, dim), L2-normalised for cosine."""
    arr = np.asarray(vectors)
    if arr.size == 0 and n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    if arr.ndim != 2:
        raise DimensionMismatch(f"vectors must be a 2-D array (n, {dim}), got shape {arr.shape}", field="vectors")
    if arr.shape[1] != dim:
        raise DimensionMismatch(f"vectors have dimension {arr.shape[1]}, the index has {dim}", field="vectors")
    if arr.shape[0] != n:
        raise InvalidIds(f"got {n} ids for {arr.shape[0]} vectors", field="ids")
    out = _as_float32(arr, "vectors")
    if metric == "cosine":
        normalize_rows(out)
    return out


def check_queries(queries: Any, dim: int, metric: str) -> np.ndarray:
    """A C-contiguous float32 (nq, dim) copy of ``queries`` ((dim,) is one query), normalised for cosine."""
    arr = np.asarray(queries)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise DimensionMismatch(f"queries must be (nq, {dim}) or ({dim},), got shape {arr.shape}", field="queries")
    if arr.shape[1] != dim:
        raise DimensionMismatch(f"queries have dimension {arr.shape[1]}, the index has {dim}", field="queries")
    out = _as_float32(arr, "queries")
    if metric == "cosine":
        normalize_rows(out)
    return out


def check_k(k: Any) -> int:
    """``k`` as an int >= 1 (field ``k``)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InvalidK(f"k must be an integer, got {k!r}", field="k")
    if k <= 0:
        raise InvalidK(f"k must be >= 1, got {k}", field="k")
    return int(k)


def check_checkpoint(checkpoint: Any) -> int:
    """A change id: an int >= 0 (field ``checkpoint``)."""
    if isinstance(checkpoint, bool) or not isinstance(checkpoint, (int, np.integer)) or checkpoint < 0:
        raise IndexerError(f"checkpoint must be a change id (an integer >= 0), got {checkpoint!r}", field="checkpoint")
    return int(checkpoint)
