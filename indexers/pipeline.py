"""The batch pipeline: documents -> embedder -> (ids, vectors) ready for an index.

Kept apart from the service so it can be benchmarked and reused by batch jobs
that never touch HTTP. It only streams; storing vectors and building the index
is the caller's business.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from embedders.base import Embedder, HasTrainedVectors, NullProgress, Progress, TrainingDocument


@dataclass(frozen=True)
class EmbeddedBatch:
    """One batch's result. ``skipped`` are ids with nothing embeddable (e.g. every word unknown);
    ``embedded`` counts the texts sent to the embedder (the rest had vectors learned in training)."""

    ids: np.ndarray
    vectors: np.ndarray
    skipped: np.ndarray
    embedded: int = 0


def embed_batches(
    batches: Iterable[Sequence[TrainingDocument]],
    embedder: Embedder,
    progress: Progress | None = None,
    *,
    use_trained: bool = True,
) -> Iterator[EmbeddedBatch]:
    """Embed documents batch by batch.

    Families that learned a vector per training document (doc2vec) use it for
    the documents they were trained on (``use_trained``) instead of re-inferring,
    which is both faster and the better vector. Rows that come back all-zero
    are reported as skipped rather than indexed: a zero vector has no direction
    and would match everything equally under cosine.
    """
    progress = progress or NullProgress()
    trained = use_trained and isinstance(embedder, HasTrainedVectors)
    for batch in batches:
        if not batch:
            continue
        ids = np.fromiter((d.id for d in batch), dtype=np.int64, count=len(batch))
        vectors = np.zeros((len(batch), embedder.dim), dtype=np.float32)
        todo = np.ones(len(batch), dtype=bool)
        if trained:
            known, trained_vecs = embedder.trained_vectors(ids.tolist())  # type: ignore[attr-defined]
            vectors[known] = trained_vecs[known]
            todo &= ~known
        if todo.any():
            vectors[todo] = embedder.embed_documents([d.text for d, t in zip(batch, todo) if t])
        ok = np.any(vectors != 0, axis=1)
        yield EmbeddedBatch(ids=ids[ok], vectors=vectors[ok], skipped=ids[~ok], embedded=int(todo.sum()))
        progress.advance(len(batch))
