"""Queries over a space: text search, "more like this", word neighbours and analogies.

Each query resolves names against SQL, catches the space up with the change
log, runs inside FAISS (metadata filters become an IDSelector), and hydrates
the hits with one SQL query.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embedders.base import ContextualTokens, WordVectors
from embedders.bm25 import KeywordIndex
from embedders.errors import EmptyText
from indexers.base import SearchParams

from sqlalchemy import select

from .db import Database
from .errors import DocumentNotFound, InvalidK, InvalidWeights, NoReadySpace, NotSupported
from .fusion import fuse, overlaps
from .models import Collection, Document, Space
from .repository import SpaceRef, filtered_ids, hit_rows, max_change_id, resolve_space
from .schemas import Hit, HybridHit, SpaceRank, TokenVector, WordScore
from .spaces import SpaceRuntime, SpaceRuntimes
from .vector_store import reusable_vectors


def check_k(k: int, max_k: int, field: str = "k") -> None:
    if k <= 0 or k > max_k:
        raise InvalidK(f"k must be between 1 and {max_k}, got {k}", field=field)


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
        self,
        collection_name: str,
        query: str,
        k: int,
        where: dict[str, Any],
        space_name: str | None,
        snippet: int,
        params: SearchParams | None = None,
    ) -> tuple[str, list[Hit]]:
        """Top ``k`` documents for a text; ``params`` tunes this one search (ignored by keyword spaces)."""
        check_k(k, self.max_k)
        space, runtime, allowed = self._resolve(collection_name, space_name, where)
        return space.name, self._hydrate(self._ranked(runtime, query, k, allowed, params), snippet)

    def _ranked(
        self,
        runtime: SpaceRuntime,
        query: str,
        k: int,
        allowed: np.ndarray | None,
        params: SearchParams | None = None,
    ) -> list[tuple[int, float]]:
        """The top ``k`` (doc id, score) of a text query: by text in a keyword space, by vector otherwise."""
        if allowed is not None and len(allowed) == 0:
            return []
        if isinstance(runtime.index, KeywordIndex):
            return runtime.index.search_text(query, k, allowed_ids=allowed)
        vector = runtime.embedder.embed_query(query)
        scores, ids = runtime.index.search(vector[None, :], k, allowed_ids=allowed, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def _hydrate(self, pairs: list[tuple[int, float]], snippet: int) -> list[Hit]:
        with self.db.sessions() as session:
            rows = hit_rows(session, [i for i, _ in pairs], snippet)
        # A hit deleted between the search and this read is dropped rather than shown half-empty.
        return [
            Hit(id=i, external_id=rows[i].external_id, score=s, text=rows[i].text, metadata=rows[i].metadata)
            for i, s in pairs
            if i in rows
        ]

    def _text_spaces(self, collection_name: str, names: list[str] | None) -> list[str]:
        """The spaces a compare/hybrid query runs on: the named ones (deduplicated, in order), or
        every ready space that answers text queries (item2vec spaces answer items, not text)."""
        if names:
            return list(dict.fromkeys(names))
        with self.db.sessions() as session:
            collection_id = session.scalar(select(Collection.id).where(Collection.name == collection_name))
            if collection_id is None:
                resolve_space(session, collection_name, None)  # raises the usual collection_not_found
            rows = session.execute(
                select(Space.name)
                .where(Space.collection_id == collection_id, Space.status == "ready", Space.embedder_type != "item2vec")
                .order_by(Space.id)
            ).scalars()
            found = list(rows)
        if not found:
            raise NoReadySpace(
                f"collection {collection_name!r} has no ready space to query", field="spaces"
            )
        return found

    def _rankings(
        self, collection_name: str, query: str, depth: int, where: dict[str, Any], names: list[str] | None
    ) -> dict[str, list[tuple[int, float]]]:
        """Each space's top ``depth`` for the query; a space in which nothing of the query is known gives []."""
        out: dict[str, list[tuple[int, float]]] = {}
        for name in self._text_spaces(collection_name, names):
            space, runtime, allowed = self._resolve(collection_name, name, where)
            try:
                out[space.name] = self._ranked(runtime, query, depth, allowed)
            except EmptyText:
                out[space.name] = []
        return out

    def compare(
        self,
        collection_name: str,
        query: str,
        k: int,
        where: dict[str, Any],
        space_names: list[str] | None,
        snippet: int,
    ) -> tuple[dict[str, list[Hit]], dict[str, float]]:
        """The same query in several spaces, and how much each pair's top-k agree (Jaccard of ids)."""
        check_k(k, self.max_k)
        rankings = self._rankings(collection_name, query, k, where, space_names)
        results = {name: self._hydrate(pairs, snippet) for name, pairs in rankings.items()}
        return results, overlaps({name: [h.external_id for h in hits] for name, hits in results.items()})

    def hybrid(
        self,
        collection_name: str,
        query: str,
        k: int,
        where: dict[str, Any],
        space_names: list[str] | None,
        fusion: str,
        weights: dict[str, float],
        rrf_k: float,
        candidates: int | None,
        snippet: int,
    ) -> tuple[list[str], list[HybridHit]]:
        """One ranking fused from several spaces' (service.fusion); each hit says where it ranked in each."""
        check_k(k, self.max_k)
        depth = candidates if candidates is not None else min(self.max_k, max(k, 50))
        check_k(depth, self.max_k, field="candidates")
        if depth < k:
            raise InvalidK(f"candidates ({depth}) must be at least k ({k})", field="candidates")
        names = self._text_spaces(collection_name, space_names)
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise InvalidWeights(
                f"weights name spaces that are not queried: {', '.join(unknown)}", field="weights"
            )
        rankings = self._rankings(collection_name, query, depth, where, names)
        fused = fuse(rankings, fusion, weights, rrf_k)[:k]
        hits = {h.id: h for h in self._hydrate([(d, s) for d, s, _ in fused], snippet)}
        return list(rankings), [
            HybridHit(
                **hits[d].model_dump(),
                spaces={name: SpaceRank(rank=r, score=sc) for name, (r, sc) in per_space.items()},
            )
            for d, _, per_space in fused
            if d in hits
        ]

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
                raise DocumentNotFound(
                    f"document {external_id!r} not found in collection {collection_name!r}",
                    field="external_id",
                )
            if isinstance(runtime.index, KeywordIndex):
                mask, vectors = np.zeros(1, dtype=bool), np.zeros((1, 0), dtype=np.float32)
            else:
                mask, vectors = reusable_vectors(
                    session, space.id, [doc.id], [doc.content_hash], runtime.embedder.dim, runtime.vector_generation
                )
        if isinstance(runtime.index, KeywordIndex):
            # More like this, by keywords: the document's own text is the query.
            pairs = runtime.index.search_text(doc.text, k, allowed_ids=allowed, exclude=doc.id)
            return space.name, self._hydrate(pairs, snippet)
        vector = vectors[0] if mask[0] else runtime.embedder.embed_documents([doc.text])[0]
        if not np.any(vector):
            raise EmptyText(
                f"document {external_id!r} has no vector in space {space.name!r} (nothing in it is embeddable)",
                field="external_id",
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
        return self._hydrate(pairs, snippet)

    def _model(self, collection_name: str, space_name: str) -> tuple[SpaceRef, object]:
        space, runtime, _ = self._resolve(collection_name, space_name)
        return space, runtime.embedder

    def _word_model(self, collection_name: str, space_name: str) -> tuple[SpaceRef, WordVectors]:
        space, model = self._model(collection_name, space_name)
        if not isinstance(model, WordVectors):
            raise NotSupported(
                f"space {space.name!r} ({space.embedder_type}) has no word vectors; use a word2vec space",
                field="space",
            )
        return space, model

    def contextual_tokens(
        self, collection_name: str, space_name: str, text: str, neighbors: int, with_vectors: bool
    ) -> tuple[str, list[TokenVector]]:
        """Each token's vector in its sentence (and its nearest vocabulary words): the context effect, visible."""
        space, model = self._model(collection_name, space_name)
        if not isinstance(model, ContextualTokens):
            raise NotSupported(
                f"space {space.name!r} ({space.embedder_type}) has no contextual token vectors; use a bilstm space",
                field="space",
            )
        tokens, vectors = model.token_vectors(text)
        if not tokens:
            raise EmptyText("text has no tokens", field="text")
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
