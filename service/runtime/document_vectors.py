"""One pipeline for a document's vector in a space: the stored vector, else the family's, then (maybe) store it.

Every path that needs documents' vectors goes through :func:`document_vectors`:
a build (page by page), the catch-up that replays the change log, "more like
this", recommendation's cold-start text vectors and evaluation. The sources,
in order:

1. vectors the user gave with the document (family capability GIVEN_VECTORS;
   stored at upsert under :data:`~service.vector_store.GIVEN_GENERATION`, read by
   document id: they are the user's data, not a function of the text);
2. vectors stored for the same text in this space (by content hash; the
   space's own generation for a trained family, any for a fixed one), when the
   space stores vectors;
3. what the family itself gives (:func:`indexers.pipeline.fill_vectors`: a
   vector learned in training, else an embedding of the text).

New vectors from 3 are stored when asked, so the next rebuild or replay reuses
them. Rows left without a vector (nothing embeddable, no given vector) are
``ok == False``: callers leave them out of the index.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from embedders.base import Embedder
from embedders.capabilities import Capability
from embedders.registry import has
from indexers.pipeline import fill_vectors

from ..observability import metrics
from ..store.vector_store import GIVEN_GENERATION, given_vectors, reusable_vectors, save_vectors


@dataclass(frozen=True)
class SpaceVectors:
    """Which space (and generation) the vectors are for, with the embedder that makes them."""

    space_id: int
    generation: int
    embedder: Embedder
    store_vectors: bool

    @property
    def given(self) -> bool:
        """Vectors come with the documents (family ``vectors``): nothing is ever embedded."""
        return has(self.embedder, Capability.GIVEN_VECTORS)

    @property
    def reuse_generation(self) -> int | None:
        """Whose stored vectors are valid here: this generation's for a trained family (each
        generation is another vector space), any generation's for a fixed one."""
        return self.generation if self.embedder.trainable else None


@dataclass
class DocumentVectors:
    """Vectors (n, dim) of the requested documents in request order; ``ok`` marks the usable rows."""

    ids: np.ndarray
    vectors: np.ndarray
    ok: np.ndarray
    embedded: int = 0
    reused: int = 0
    from_training: int = 0


def document_vectors(
    session: Session,
    target: SpaceVectors,
    ids: Sequence[int],
    texts: Sequence[str],
    hashes: Sequence[str],
    *,
    use_trained: bool = False,
    store: bool = False,
) -> DocumentVectors:
    """The documents' vectors in ``target`` (see the module docstring for the order of sources).

    ``use_trained`` allows vectors learned in training for these ids; right
    during a build (the texts are those trained on) and for families whose
    vectors do not depend on text at all (item2vec), wrong for a document whose
    text changed since. ``store`` writes the new vectors (if the space stores any).
    """
    id_list = [int(i) for i in ids]
    dim = target.embedder.dim
    if target.given:
        known, vectors = given_vectors(session, target.space_id, id_list, dim)
        ok = known & np.any(vectors != 0, axis=1)
        return DocumentVectors(np.asarray(id_list, dtype=np.int64), vectors, ok, reused=int(ok.sum()))
    if target.store_vectors and id_list:
        known, vectors = reusable_vectors(session, target.space_id, id_list, hashes, dim, target.reuse_generation)
    else:
        known, vectors = np.zeros(len(id_list), dtype=bool), np.zeros((len(id_list), dim), dtype=np.float32)
    trained_ok = use_trained or has(target.embedder, Capability.TRAIN_INTERACTIONS)
    start = time.perf_counter()
    filled = fill_vectors(target.embedder, id_list, texts, vectors, known, use_trained=trained_ok)
    # Every embedding the service does passes here (builds, catch-up, more-like-this, ...): one recording point
    # for the throughput metric, which counts only texts the model embedded.
    metrics.observe_embedding(target.embedder.type, filled.embedded, time.perf_counter() - start)
    id_array = np.asarray(id_list, dtype=np.int64)
    # Store what is new; and for a fixed family also what was reused, since it may have come from another
    # generation, whose rows the next generation switch drops.
    keep = filled.fresh | (known & filled.ok) if target.reuse_generation is None else filled.fresh
    if store and target.store_vectors and keep.any():
        rows = np.flatnonzero(keep)
        save_vectors(
            session,
            target.space_id,
            target.generation,
            id_array[rows].tolist(),
            [hashes[i] for i in rows],
            filled.vectors[rows],
        )
    return DocumentVectors(
        id_array,
        filled.vectors,
        filled.ok,
        embedded=filled.embedded,
        reused=int(known.sum()),
        from_training=filled.from_training,
    )


__all__ = ["GIVEN_GENERATION", "DocumentVectors", "SpaceVectors", "document_vectors"]
