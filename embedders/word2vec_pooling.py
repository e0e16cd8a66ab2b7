"""How word2vec turns token lists into document vectors: the saved pooling state, the weights, SIF's component.

Split from :mod:`embedders.word2vec` (which trains, saves and serves) so the arithmetic of a
document vector, which every embedding and SIF's fit share, reads in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from embedders.base import Progress

Weighting = Literal["mean", "tfidf", "sif"]


@dataclass(frozen=True)
class Pooling:
    """Everything that maps token lists to document vectors; exactly what is saved."""

    words: list[str]
    key_to_index: dict[str, int]
    vectors: np.ndarray  # float32 (V, dim), possibly memory-mapped
    counts: np.ndarray  # int64 (V,) raw training counts
    doc_freqs: np.ndarray  # int64 (V,)
    n_docs: int
    total_tokens: int
    weights: np.ndarray  # float32 (V,) per-token weight for the spec's weighting
    component: np.ndarray | None  # float32 (dim,) SIF's first principal component


def token_weights(
    weighting: Weighting, counts: np.ndarray, doc_freqs: np.ndarray, n_docs: int, total_tokens: int, sif_a: float
) -> np.ndarray:
    """Per-word weights (float32) for a weighting, from training-corpus statistics."""
    if weighting == "mean":
        return np.ones(len(counts), dtype=np.float32)
    if weighting == "tfidf":
        # Smoothed idf (as scikit-learn): never zero, so a word in every document still counts a little.
        return (np.log((1.0 + n_docs) / (1.0 + doc_freqs.astype(np.float64))) + 1.0).astype(np.float32)
    p = counts.astype(np.float64) / max(total_tokens, 1)
    return (sif_a / (sif_a + p)).astype(np.float32)


def pool(indices: np.ndarray, weights: np.ndarray, vectors: np.ndarray, weighting: Weighting) -> np.ndarray:
    """Weighted average of the rows ``indices`` (float64, before any component removal)."""
    w = weights[indices].astype(np.float64)
    rows = np.asarray(vectors[indices], dtype=np.float64)
    total = w @ rows
    # SIF divides by the token count (Arora et al.); the others are true weighted means.
    denom = float(len(indices)) if weighting == "sif" else float(w.sum())
    return total / denom if denom > 0 else total


def first_component(
    pooling: Pooling,
    docs: Iterable[list[str]],
    progress: Progress,
    indices_of: Callable[[Pooling, list[str]], np.ndarray],
) -> np.ndarray:
    """First principal component (uncentred, as Arora et al.) of the training documents'
    weighted vectors, from the streamed dim x dim scatter matrix (memory independent of corpus size).
    ``indices_of`` maps a document's tokens to vocabulary rows exactly as embedding will."""
    dim = pooling.vectors.shape[1]
    scatter = np.zeros((dim, dim), dtype=np.float64)
    batch: list[np.ndarray] = []

    def flush() -> None:
        if batch:
            x = np.stack(batch)
            scatter[:] += x.T @ x
            progress.advance(len(batch))
            batch.clear()

    for tokens in docs:
        indices = indices_of(pooling, tokens)
        batch.append(
            pool(indices, pooling.weights, pooling.vectors, "sif") if indices.size else np.zeros(dim, dtype=np.float64)
        )
        if len(batch) == 1000:
            flush()
    flush()
    _, eigvecs = np.linalg.eigh(scatter)
    u = eigvecs[:, -1]
    # Fix the sign so the saved component does not depend on LAPACK's choice.
    if u[np.argmax(np.abs(u))] < 0:
        u = -u
    return (u / np.linalg.norm(u)).astype(np.float32)


def with_component(pooling: Pooling, component: np.ndarray) -> Pooling:
    return Pooling(**{**pooling.__dict__, "component": component})
