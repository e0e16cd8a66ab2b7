"""The embedding step of "stored vector, else embed, then index", free of SQL and HTTP.

Callers (the service's build, catch-up, more-like-this, recommend and
evaluation paths) look up what they already have — vectors stored in SQL, or
given by the user — and hand the rest to :func:`fill_vectors`, which asks the
family for what it can give, in order of preference:

1. a vector learned in training for that very id (doc2vec's document vectors,
   item2vec's item vectors: capability ``TRAINED_VECTORS``), when the caller
   allows it (``use_trained``) — faster than inference and the better vector;
2. an embedding of the text (capability ``EMBED_TEXT``); a blank text gets none.

A family with neither (``vectors``: the user sends them) leaves the row empty.
Rows that stay all-zero are reported as not ``ok``: a zero vector has no
direction and would match everything equally under cosine, so it is never
indexed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embedders.base import Embedder
from embedders.capabilities import Capability
from embedders.registry import has


@dataclass
class Filled:
    """The vectors of one batch (n, dim) with their ``ok`` mask and where the new ones came from.

    ``fresh`` marks the rows filled here (trained or embedded), i.e. those a
    caller may want to store; ``embedded`` counts texts sent to the model and
    ``from_training`` the rows taken from training.
    """

    vectors: np.ndarray
    ok: np.ndarray
    fresh: np.ndarray
    embedded: int = 0
    from_training: int = 0


def fill_vectors(
    embedder: Embedder,
    ids: Sequence[int],
    texts: Sequence[str],
    vectors: np.ndarray,
    known: np.ndarray,
    *,
    use_trained: bool = True,
) -> Filled:
    """Fill the rows of ``vectors`` not ``known`` (in place) from training, else by embedding their text."""
    todo = ~np.asarray(known, dtype=bool)
    fresh = np.zeros(len(ids), dtype=bool)
    from_training = embedded = 0
    if todo.any() and use_trained and has(embedder, Capability.TRAINED_VECTORS):
        rows = np.flatnonzero(todo)
        mask, trained = embedder.trained_vectors([int(ids[i]) for i in rows])  # type: ignore[attr-defined]
        got = rows[mask]
        vectors[got] = trained[mask]
        fresh[got] = True
        todo[got] = False
        from_training = len(got)
    if todo.any() and has(embedder, Capability.EMBED_TEXT):
        # A blank text (an item with only an id and metadata) has nothing to embed: some models would
        # still return a vector for it (BERT's [CLS][SEP]), which would match every blank item alike.
        rows = np.array([i for i in np.flatnonzero(todo) if texts[i].strip()], dtype=np.int64)
        if len(rows):
            vectors[rows] = embedder.embed_documents([texts[i] for i in rows])
        fresh[rows] = True
        embedded = len(rows)
    ok = np.any(vectors != 0, axis=1)
    return Filled(vectors=vectors, ok=ok, fresh=fresh & ok, embedded=embedded, from_training=from_training)
