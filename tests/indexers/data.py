"""Synthetic data and numpy ground truth shared by the index tests.

Clustered Gaussian data, because uniform random vectors in high dimension have
no meaningful neighbours and would make recall numbers say nothing about the
index. Ids are large, sparse and shuffled, so any confusion between document
ids and FAISS positions shows up as a wrong id.
"""

from __future__ import annotations

import numpy as np

from indexers import IndexSpec

DIM = 24
K = 10
KINDS = ("flat", "hnsw", "ivf")
METRICS = ("cosine", "ip", "l2")


def spec_for(kind: str, **overrides: object) -> IndexSpec:
    """Small-but-realistic parameters: cheap to build on 2 cores, still high recall."""
    params: dict[str, object] = dict(
        kind=kind, hnsw_m=16, hnsw_ef_construction=64, hnsw_ef_search=64, ivf_nlist=32, ivf_nprobe=8
    )
    params.update(overrides)
    return IndexSpec(**params)


def clustered(n: int, dim: int = DIM, *, clusters: int = 25, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim))
    points = centers[rng.integers(0, clusters, n)] + 0.35 * rng.standard_normal((n, dim))
    return points.astype(np.float32)


def doc_ids(n: int, *, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (10**10 + 7919 * rng.permutation(n)).astype(np.int64)


def queries_near(vectors: np.ndarray, nq: int, *, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vectors), nq, replace=False)
    return (vectors[rows] + 0.1 * rng.standard_normal((nq, vectors.shape[1]))).astype(np.float32)


def score_matrix(vectors: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """(nq, n) float64 scores in the index's documented units (l2: Euclidean distance)."""
    x = vectors.astype(np.float64)
    q = np.atleast_2d(queries).astype(np.float64)
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    if metric == "l2":
        sq = (q**2).sum(1)[:, None] - 2 * q @ x.T + (x**2).sum(1)[None, :]
        return np.sqrt(np.maximum(sq, 0))
    return q @ x.T


def brute_force(
    vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k (scores, ids) by numpy, best first."""
    s = score_matrix(vectors, queries, metric)
    order = np.argsort(s if metric == "l2" else -s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, order, axis=1), ids[order]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)]
    return sum(hits) / truth.size
