"""Queries over a space: text search, "more like this", word neighbours and analogies.

Each query resolves names against SQL, catches the space up with the change
log, runs inside FAISS (metadata filters become an IDSelector), and hydrates
the hits with one SQL query.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embedders.base import ContextualTokens, WordVectors

from sqlalchemy import select

from .db import Database
from .errors import InvalidInput, NotFound
from .models import Document
from .repository import SpaceRef, filtered_ids, hit_rows, max_change_id, resolve_space
from .schemas import Hit, TokenVector, WordScore
from .spaces import SpaceRuntime, SpaceRuntimes
from .vector_store import reusable_vectors


def check_k(k: int, max_k: int, field: str = "k") -> None:
    if k <= 0 or k > max_k:
        raise InvalidInput(f"k must be between 1 and {max_k}, got {k}", field=field, code="invalid_k")


class Searcher:
    """Query entry points; holds only the collaborators, no state of its own.

    The query path reads SQL twice: one session resolves the collection and
    space in a single join and reads the head of the change log (so a space
    already caught up skips the replay query), the other hydrates the hits
    with one column select. ORM entities stay out of it: they cost more than
    the FAISS search itself.
    """

    def __init__(self, db: Database, runtimes: SpaceRuntimes, max_k: int) -> None:
        self.db = db
        self.runtimes = runtimes
        self.max_k = max_k

    def _resolve(
        self, collection_name: str, space_name: str | None, where: dict[str, Any] | None = None
    ) -> tuple[SpaceRef, SpaceRuntime, np.ndarray | None]:
        with self.db.sessions() as session:
            ref = resolve_space(session, collection_name, space_name)
            head = max_change_id(session, ref.collection_id)
            allowed = filtered_ids(session, ref, where) if where else None
        return ref, self.runtimes.get(ref, head), allowed

    def search(
        self, collection_name: str, query: str, k: int, where: dict[str, Any], space_name: str | None, snippet: int
    ) -> tuple[str, list[Hit]]:
        check_k(k, self.max_k)
        space, runtime, allowed = self._resolve(collection_name, space_name, where)
        vector = runtime.embedder.embed_query(query)
        return space.name, self._run(runtime, vector, k, allowed, snippet, exclude=None)

    def similar(
        self, collection_name: str, external_id: str, k: int, where: dict[str, Any], space_name: str | None, snippet: int
    ) -> tuple[str, list[Hit]]:
        """Neighbours of a stored document (itself excluded), from its stored vector when there is one."""
        check_k(k, self.max_k)
        space, runtime, allowed = self._resolve(collection_name, space_name, where)
        with self.db.sessions() as session:
            doc = session.execute(
                select(Document.id, Document.text, Document.content_hash).where(
                    Document.collection_id == space.collection_id, Document.external_id == external_id
                )
            ).first()
            if doc is None:
                raise NotFound(
                    f"document {external_id!r} not found in collection {collection_name!r}",
                    field="external_id",
                    code="document_not_found",
                )
            mask, vectors = reusable_vectors(
                session, space.id, [doc.id], [doc.content_hash], runtime.embedder.dim, runtime.vector_generation
            )
        vector = vectors[0] if mask[0] else runtime.embedder.embed_documents([doc.text])[0]
        if not np.any(vector):
            raise InvalidInput(
                f"document {external_id!r} has no vector in space {space.name!r} (nothing in it is embeddable)",
                field="external_id",
                code="empty_text",
            )
        return space.name, self._run(runtime, vector, k, allowed, snippet, exclude=doc.id)

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
        with self.db.sessions() as session:
            rows = hit_rows(session, [i for i, _ in pairs], snippet)
        # A hit deleted between the search and this read is dropped rather than shown half-empty.
        return [
            Hit(id=i, external_id=rows[i].external_id, score=s, text=rows[i].text, metadata=rows[i].metadata)
            for i, s in pairs
            if i in rows
        ]

    def _model(self, collection_name: str, space_name: str) -> tuple[SpaceRef, object]:
        space, runtime, _ = self._resolve(collection_name, space_name)
        return space, runtime.embedder

    def _word_model(self, collection_name: str, space_name: str) -> tuple[SpaceRef, WordVectors]:
        space, model = self._model(collection_name, space_name)
        if not isinstance(model, WordVectors):
            raise InvalidInput(
                f"space {space.name!r} ({space.embedder_type}) has no word vectors; use a word2vec space",
                field="space",
                code="not_supported",
            )
        return space, model

    def contextual_tokens(
        self, collection_name: str, space_name: str, text: str, neighbors: int, with_vectors: bool
    ) -> tuple[str, list[TokenVector]]:
        """Each token's vector in its sentence (and its nearest vocabulary words): the context effect, visible."""
        space, model = self._model(collection_name, space_name)
        if not isinstance(model, ContextualTokens):
            raise InvalidInput(
                f"space {space.name!r} ({space.embedder_type}) has no contextual token vectors; use a bilstm space",
                field="space",
                code="not_supported",
            )
        tokens, vectors = model.token_vectors(text)
        if not tokens:
            raise InvalidInput("text has no tokens", field="text", code="empty_text")
        near = model.contextual_neighbors(text, neighbors) if neighbors else None
        return space.name, [
            TokenVector(
                token=tok,
                vector=vectors[i].tolist() if with_vectors else None,
                neighbors=[WordScore(word=w, score=s) for w, s in near[i][1]] if near else None,
            )
            for i, tok in enumerate(tokens)
        ]

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
