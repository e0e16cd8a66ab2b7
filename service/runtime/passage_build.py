"""Embedding a chunked space's documents passage by passage (``IndexSpec.chunking``).

Why its own module: the build and the change-log catch-up both turn documents into passage
matrices, and must cut and embed them the same way, or a document edited after the build
would be indexed by other passages than a rebuild would give it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embedders.base import Embedder, Progress
from embedders.chunking import ChunkSpec, passages
from indexers import factory
from indexers.base import IndexSpec
from indexers.factory import IndexLocation
from indexers.passages import PassageIndex, passage_rows

from ..store.corpus import SqlCorpus


def passage_matrices(embedder: Embedder, texts: Sequence[str], chunking: ChunkSpec) -> list[np.ndarray]:
    """Each text's passages embedded as documents, one row per passage of :func:`passages` (in one
    ``embed_documents`` call for all of them: a batch for bert)."""
    spans = [passages(t, chunking) for t in texts]
    flat = [t[a:b] for t, cut in zip(texts, spans) for a, b in cut]
    rows = embedder.embed_documents(flat) if flat else np.empty((0, embedder.dim), dtype=np.float32)
    out, at = [], 0
    for cut in spans:
        out.append(rows[at : at + len(cut)])
        at += len(cut)
    return out


def passage_index(
    spec: IndexSpec, embedder: Embedder, corpus: SqlCorpus, location: IndexLocation, progress: Progress
) -> PassageIndex:
    """Every document's passages, embedded page by page (phase ``embed``, counted in documents), then
    one inner index built over all of them (so ``auto`` and IVF see the passage count)."""
    assert spec.chunking is not None
    progress.start("embed", len(corpus))
    keys, rows, counts = [], [], {}
    for page in corpus.pages():
        k, r, c = passage_rows([d.id for d in page], passage_matrices(embedder, [d.text for d in page], spec.chunking))
        if len(k):
            keys.append(k)
            rows.append(r)
        counts.update(c)
        progress.advance(len(page))
    all_keys = np.concatenate(keys) if keys else np.empty(0, dtype=np.int64)
    all_rows = np.concatenate(rows) if rows else np.empty((0, embedder.dim), dtype=np.float32)
    inner = factory.build(spec, embedder.dim, embedder.metric, all_keys, all_rows, location, progress)
    return PassageIndex(inner, spec.chunking, counts)
