"""Several vectors per document in any :class:`~indexers.base.VectorIndex`, searched as documents.

Why: a space that chunks its documents (:mod:`embedders.chunking`) indexes one
vector per passage but must still answer "the k best *documents*", each with
its best passages, under the same filter of document ids, with k guaranteed.
This wraps an engine's index (composition: FAISS or Milvus alike) instead of
teaching every engine about passages.

A passage's key in the inner index is ``document id << PASSAGE_BITS | its
number``, so the document of any hit is one shift away and a document's keys
are known from how many passages it has (:attr:`PassageIndex.counts`, saved
beside the inner index). Ranking a document by its best passage (max-sim) is
what dense passage retrieval does (Karpukhin et al. 2020); the search asks the
inner index for more passages than documents wanted and deepens until k
distinct documents are in or the index is exhausted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedders.chunking import ChunkSpec

from .base import Metric, SearchParams, VectorIndex
from .errors import IndexerError

__all__ = ["PASSAGE_BITS", "DocumentHit", "PassageIndex", "doc_of", "passage_key", "passage_rows"]

PASSAGE_BITS = 12
"""Bits of a key that number the passage: 4,096 passages per document (embedders.chunking.MAX_PASSAGES)."""
_PASSAGES_FILE = "passages.json"
_FIRST_DEPTH = 4
"""Passages asked per document wanted on the first try (most documents' best passages come in)."""


def passage_key(doc_id: int | np.ndarray, number: int | np.ndarray) -> np.ndarray:
    return (np.asarray(doc_id, dtype=np.int64) << PASSAGE_BITS) | np.asarray(number, dtype=np.int64)


def doc_of(key: int | np.ndarray) -> np.ndarray:
    return np.asarray(key, dtype=np.int64) >> PASSAGE_BITS


@dataclass
class DocumentHit:
    """A document found through its passages: its best passage's score, and its best passages
    (number, score), best first."""

    doc_id: int
    score: float
    passages: list[tuple[int, float]] = field(default_factory=list)


class PassageIndex:
    """Documents of ``inner``'s passages, cut by ``chunking``. Its ``search`` has the shape of
    :meth:`VectorIndex.search` with document ids, so every ranking path works on it unchanged;
    :meth:`search_documents` also says which passages matched. Not thread-safe by itself: the space
    runtime's lock guards it, as it guards any index."""

    def __init__(self, inner: VectorIndex, chunking: ChunkSpec, counts: dict[int, int] | None = None) -> None:
        self.inner = inner
        self.chunking = chunking
        self.counts: dict[int, int] = dict(counts or {})

    # what the service reads of any index, from the inner one
    backend = property(lambda self: self.inner.backend)
    dim = property(lambda self: self.inner.dim)
    kind = property(lambda self: self.inner.kind)
    checkpoint = property(lambda self: self.inner.checkpoint)

    @property
    def metric(self) -> Metric:
        return self.inner.metric

    def __len__(self) -> int:
        """Documents with at least one passage."""
        return len(self.counts)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.counts

    def ids(self) -> np.ndarray:
        """The documents held, sorted."""
        return np.array(sorted(self.counts), dtype=np.int64)

    def put(self, doc_ids: Sequence[int], vectors: Sequence[np.ndarray]) -> None:
        """Replace the passages of these documents: ``vectors[i]`` is document ``doc_ids[i]``'s passages,
        one row each, in passage order. A zero row (a passage with nothing embeddable) is not indexed but
        keeps its number; a document without any other row is removed."""
        if len(doc_ids) != len(vectors):
            raise IndexerError(f"{len(vectors)} passage matrices for {len(doc_ids)} documents", field="vectors")
        for doc_id, matrix in zip(doc_ids, vectors):  # checked whole before anything changes
            if len(matrix) >> PASSAGE_BITS:
                raise IndexerError(
                    f"document {doc_id} has {len(matrix)} passages; at most {1 << PASSAGE_BITS}", field="vectors"
                )
        self.remove(np.asarray(doc_ids, dtype=np.int64))
        keys, rows, counts = passage_rows(doc_ids, vectors)
        self.counts.update(counts)
        if len(keys):
            self.inner.add(keys, rows)

    def remove(self, doc_ids: np.ndarray) -> int:
        """Remove every passage of these documents (unknown ones ignored); returns how many documents were in."""
        keys = self.keys_of(doc_ids)
        gone = [int(d) for d in doc_ids if int(d) in self.counts]
        for d in gone:
            del self.counts[d]
        if len(keys):
            self.inner.remove(keys)
        return len(gone)

    def keys_of(self, doc_ids: np.ndarray) -> np.ndarray:
        """The inner keys of these documents' passages (documents without passages add none)."""
        parts = [passage_key(d, np.arange(self.counts[int(d)])) for d in doc_ids if int(d) in self.counts]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed_ids: np.ndarray | None = None,
        params: SearchParams | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`VectorIndex.search` over documents: (scores, document ids), each (nq, k), a document's
        score its best passage's, padded with id -1 as FAISS pads."""
        fill = np.inf if self.metric == "l2" else -np.inf
        scores = np.full((len(queries), k), fill, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, query in enumerate(queries):
            for col, hit in enumerate(self.search_documents(query, k, allowed_ids, params, per_document=1)):
                scores[row, col], ids[row, col] = hit.score, hit.doc_id
        return scores, ids

    def search_documents(
        self,
        query: np.ndarray,
        k: int,
        allowed_doc_ids: np.ndarray | None = None,
        params: SearchParams | None = None,
        per_document: int = 3,
    ) -> list[DocumentHit]:
        """The ``k`` best documents for one query vector (fewer only when fewer are allowed and
        indexed), each with up to ``per_document`` of its best passages."""
        allowed = None if allowed_doc_ids is None else self.keys_of(np.asarray(allowed_doc_ids, dtype=np.int64))
        if allowed is not None and len(allowed) == 0:
            return []
        available = len(self.inner) if allowed is None else len(allowed)
        if available == 0 or k <= 0:
            return []
        depth = min(available, max(k * _FIRST_DEPTH, k + per_document))
        while True:
            scores, keys = self.inner.search(query[None, :], depth, allowed_ids=allowed, params=params)
            hits = _group(scores[0], keys[0], per_document)
            if len(hits) >= k or depth >= available:
                return hits[:k]
            depth = min(available, depth * 4)

    def save(self, directory: Path, *, checkpoint: int | None = None) -> None:
        """The inner index's snapshot, then the chunk spec and passage counts beside it (atomically)."""
        self.inner.save(directory, checkpoint=checkpoint)
        tmp = directory / (_PASSAGES_FILE + ".tmp")
        body = {"chunking": self.chunking.model_dump(mode="json"), "counts": sorted(self.counts.items())}
        tmp.write_text(json.dumps(body), encoding="utf-8")
        tmp.replace(directory / _PASSAGES_FILE)

    @classmethod
    def wrap_saved(cls, inner: VectorIndex, directory: Path) -> PassageIndex | None:
        """The passage index saved at ``directory`` around its reopened ``inner`` index; None when the
        index there holds one vector per document."""
        path = directory / _PASSAGES_FILE
        if not path.exists():
            return None
        body = json.loads(path.read_text(encoding="utf-8"))
        counts = {int(d): int(n) for d, n in body["counts"]}
        return cls(inner, ChunkSpec.model_validate(body["chunking"]), counts)


def passage_rows(
    doc_ids: Sequence[int], vectors: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """The inner index's keys and rows for these documents' passage matrices, and each document's
    passage count: zero rows (nothing embeddable) are left out but keep their numbers, and a document
    with no other row has no count. For building an inner index whole (``factory.build``) or adding."""
    keys, rows, counts = [], [], {}
    for doc_id, matrix in zip(doc_ids, vectors):
        matrix = np.asarray(matrix, dtype=np.float32)
        live = np.flatnonzero(np.any(matrix != 0, axis=1)) if len(matrix) else np.empty(0, dtype=np.int64)
        if len(live) == 0:
            continue
        keys.append(passage_key(doc_id, live))
        rows.append(matrix[live])
        counts[int(doc_id)] = len(matrix)
    if not keys:
        return np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.float32), {}
    return np.concatenate(keys), np.concatenate(rows), counts


def _group(scores: np.ndarray, keys: np.ndarray, per_document: int) -> list[DocumentHit]:
    """Passage hits (best first) as document hits in order of their best passage."""
    out: dict[int, DocumentHit] = {}
    for score, key in zip(scores.tolist(), keys.tolist()):
        if key < 0:
            break
        doc = key >> PASSAGE_BITS
        hit = out.get(doc)
        if hit is None:
            out[doc] = DocumentHit(doc, score, [(key & ((1 << PASSAGE_BITS) - 1), score)])
        elif len(hit.passages) < per_document:
            hit.passages.append((key & ((1 << PASSAGE_BITS) - 1), score))
    return list(out.values())
