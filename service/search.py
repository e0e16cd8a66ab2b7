"""Queries over a space: text search, "more like this", word neighbours and analogies.

Each query resolves names against SQL, catches the space up with the change
log, runs inside FAISS (metadata filters become an IDSelector), and hydrates
the hits with one SQL query.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embedders.base import WordVectors

from .db import Database
from .errors import InvalidInput
from .models import Collection, Space
from .repository import documents_by_ids, filtered_ids, get_collection, get_document, get_space
from .schemas import Hit, WordScore
from .spaces import SpaceRuntime, SpaceRuntimes
from .vector_store import reusable_vectors


def check_k(k: int, max_k: int, field: str = "k") -> None:
    if k <= 0 or k > max_k:
        raise InvalidInput(f"k must be between 1 and {max_k}, got {k}", field=field, code="invalid_k")


class Searcher:
    """Query entry points; holds only the collaborators, no state of its own."""

    def __init__(self, db: Database, runtimes: SpaceRuntimes, max_k: int) -> None:
        self.db = db
        self.runtimes = runtimes
        self.max_k = max_k

    def _resolve(self, collection_name: str, space_name: str | None) -> tuple[Collection, Space, SpaceRuntime]:
        with self.db.session() as session:
            collection = get_collection(session, collection_name)
            space = get_space(session, collection, space_name)
        return collection, space, self.runtimes.get(space)

    def _allowed(self, collection: Collection, where: dict[str, Any]) -> np.ndarray | None:
        if not where:
            return None
        with self.db.session() as session:
            return filtered_ids(session, collection, where)

    def search(
        self, collection_name: str, query: str, k: int, where: dict[str, Any], space_name: str | None, snippet: int
    ) -> tuple[str, list[Hit]]:
        check_k(k, self.max_k)
        collection, space, runtime = self._resolve(collection_name, space_name)
        vector = runtime.embedder.embed_query(query)
        allowed = self._allowed(collection, where)
        return space.name, self._run(runtime, vector, k, allowed, snippet, exclude=None)

    def similar(
        self, collection_name: str, external_id: str, k: int, where: dict[str, Any], space_name: str | None, snippet: int
    ) -> tuple[str, list[Hit]]:
        """Neighbours of a stored document (itself excluded), from its stored vector when there is one."""
        check_k(k, self.max_k)
        collection, space, runtime = self._resolve(collection_name, space_name)
        with self.db.session() as session:
            doc = get_document(session, collection, external_id)
            mask, vectors = reusable_vectors(session, space.id, [doc.id], [doc.content_hash], runtime.embedder.dim)
            doc_id, text = doc.id, doc.text
        vector = vectors[0] if mask[0] else runtime.embedder.embed_documents([text])[0]
        if not np.any(vector):
            raise InvalidInput(
                f"document {external_id!r} has no vector in space {space.name!r} (nothing in it is embeddable)",
                field="external_id",
                code="empty_text",
            )
        allowed = self._allowed(collection, where)
        return space.name, self._run(runtime, vector, k, allowed, snippet, exclude=doc_id)

    def _run(
        self,
        runtime: SpaceRuntime,
        vector: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        snippet: int,
        exclude: int | None,
    ) -> list[Hit]:
        if allowed is not None and exclude is not None:
            allowed = allowed[allowed != exclude]
        if allowed is not None and len(allowed) == 0:
            return []
        fetch = k + 1 if exclude is not None and allowed is None else k
        scores, ids = runtime.index.search(vector[None, :], fetch, allowed_ids=allowed)
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0 and i != exclude][:k]
        with self.db.session() as session:
            docs = documents_by_ids(session, [i for i, _ in pairs])
        # A hit deleted between the search and this read is dropped rather than shown half-empty.
        return [
            Hit(id=i, external_id=docs[i].external_id, score=s, text=docs[i].text[:snippet], metadata=docs[i].meta or {})
            for i, s in pairs
            if i in docs
        ]

    def _word_model(self, collection_name: str, space_name: str) -> tuple[Space, WordVectors]:
        _, space, runtime = self._resolve(collection_name, space_name)
        if not isinstance(runtime.embedder, WordVectors):
            raise InvalidInput(
                f"space {space.name!r} ({space.embedder_type}) has no word vectors; use a word2vec space",
                field="space",
                code="not_supported",
            )
        return space, runtime.embedder

    def word_neighbors(self, collection_name: str, space_name: str, word: str, k: int) -> tuple[str, list[WordScore]]:
        check_k(k, self.max_k)
        space, model = self._word_model(collection_name, space_name)
        return space.name, [WordScore(word=w, score=s) for w, s in model.word_neighbors(word, k)]

    def analogy(
        self, collection_name: str, space_name: str, positive: list[str], negative: list[str], k: int
    ) -> tuple[str, list[WordScore]]:
        check_k(k, self.max_k)
        space, model = self._word_model(collection_name, space_name)
        return space.name, [WordScore(word=w, score=s) for w, s in model.analogy(positive, negative, k)]
