"""Document queries over spaces: search (by text or vector), "more like this", compare and hybrid.

Each runs on :class:`~service.query_path.QueryPath`: resolve the space and
catch it up with the change log, turn the metadata filter into allowed ids
applied inside the index, rank, hydrate the hits with one SQL query. Word and
token queries live in :mod:`service.words`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from embedders.errors import EmptyText
from indexers.base import SearchParams

from ..store.db import Database
from ..errors import DocumentNotFound, InvalidK, InvalidWeights, NoReadySpace
from .fusion import fuse, overlaps
from .keyword_similar import keyword_similar
from ..store.models import Collection, Document, Space
from .batch_search import SearchJob, search_batch
from .batching import SearchQueue
from .query_path import Query, QueryPath, answers, check_k, check_offset
from ..store.repository import resolve_space
from ..schemas import Hit, HybridHit, SpaceRank, TokenVector, WordScore
from ..runtime.spaces import SpaceRuntimes
from .words import WordQueries

__all__ = ["Query", "Searcher", "check_k"]


class Searcher:
    """Query entry points; holds only the collaborators (the query path), no state of its own."""

    def __init__(self, db: Database, runtimes: SpaceRuntimes, max_k: int) -> None:
        self.path = QueryPath(db, runtimes, max_k)
        self.queue = SearchQueue(self.path)
        self.words = WordQueries(self.path)
        self.db = db
        self.runtimes = runtimes
        self.max_k = max_k

    def search(
        self,
        collection_name: str,
        query: str | Query,
        k: int,
        where: dict[str, Any],
        space_name: str | None,
        snippet: int,
        params: SearchParams | None = None,
        offset: int = 0,
    ) -> tuple[str, list[Hit]]:
        """Top ``k`` documents for a text or a vector after the best ``offset``; ``params`` tunes this one
        search (ignored by keyword spaces).

        The same path as a server's concurrent searches take (:mod:`.batch_search`), as a batch of one.
        """
        job = SearchJob(collection_name, _query(query), k, where, space_name, snippet, params, offset)
        search_batch(self.path, [job])
        if job.error is not None:
            raise job.error
        return job.space_name, job.hits

    async def search_queued(self, job: SearchJob) -> SearchJob:
        """The same search, queued with others arriving at the same time (:mod:`.batching`); for servers."""
        return await self.queue.search(job)

    def _query_spaces(self, collection_name: str, names: list[str] | None, query: Query) -> list[str]:
        """The spaces a compare/hybrid query runs on: the named ones (deduplicated, in order), or every
        ready space whose family takes such a query (a vector: the dense spaces of its length)."""
        if names:
            return list(dict.fromkeys(names))
        with self.db.sessions() as session:
            collection_id = session.scalar(select(Collection.id).where(Collection.name == collection_name))
            if collection_id is None:
                resolve_space(session, collection_name, None)  # raises the usual collection_not_found
            rows = session.execute(
                select(Space.name, Space.embedder_type, Space.dim)
                .where(Space.collection_id == collection_id, Space.status == "ready")
                .order_by(Space.id)
            ).all()
        found = [
            r.name
            for r in rows
            if answers(r.embedder_type, query) and (query.vector is None or r.dim == len(query.vector))
        ]
        if not found:
            what = "text queries" if query.vector is None else f"vectors of {len(query.vector)} numbers"
            raise NoReadySpace(f"collection {collection_name!r} has no ready space that takes {what}", field="spaces")
        return found

    def _rankings(
        self, collection_name: str, query: Query, depth: int, where: dict[str, Any], names: list[str]
    ) -> dict[str, list[tuple[int, float]]]:
        """Each space's top ``depth``; a space in which nothing of a text query is known gives []."""
        out: dict[str, list[tuple[int, float]]] = {}
        for name in names:
            space, runtime, allowed = self.path.resolve(collection_name, name, where)
            try:
                out[space.name] = self.path.ranked(runtime, query, depth, allowed)
            except EmptyText:
                out[space.name] = []
        return out

    def compare(
        self,
        collection_name: str,
        query: str | Query,
        k: int,
        where: dict[str, Any],
        space_names: list[str] | None,
        snippet: int,
    ) -> tuple[dict[str, list[Hit]], dict[str, float]]:
        """The same query in several spaces, and how much each pair's top-k agree (Jaccard of ids)."""
        check_k(k, self.max_k)
        q = _query(query)
        rankings = self._rankings(collection_name, q, k, where, self._query_spaces(collection_name, space_names, q))
        results = {name: self.path.hydrate(pairs, snippet, q.text) for name, pairs in rankings.items()}
        return results, overlaps({name: [h.external_id for h in hits] for name, hits in results.items()})

    def hybrid(
        self,
        collection_name: str,
        query: str | Query,
        k: int,
        where: dict[str, Any],
        space_names: list[str] | None,
        fusion: str,
        weights: dict[str, float],
        rrf_k: float,
        candidates: int | None,
        snippet: int,
        offset: int = 0,
    ) -> tuple[list[str], list[HybridHit]]:
        """One ranking fused from several spaces' (service.fusion), its best ``offset`` skipped; each hit
        says where it ranked in each (ranks within the spaces, not within the page)."""
        check_k(k, self.max_k)
        want = check_offset(k, offset, self.max_k)
        depth = candidates if candidates is not None else min(self.max_k, max(want, 50))
        check_k(depth, self.max_k, field="candidates")
        if depth < want:
            what = f"k + offset ({want})" if offset else f"k ({k})"
            raise InvalidK(f"candidates ({depth}) must be at least {what}", field="candidates")
        q = _query(query)
        names = self._query_spaces(collection_name, space_names, q)
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise InvalidWeights(f"weights name spaces that are not queried: {', '.join(unknown)}", field="weights")
        rankings = self._rankings(collection_name, q, depth, where, names)
        fused = fuse(rankings, fusion, weights, rrf_k)[offset:want]
        hits = {h.id: h for h in self.path.hydrate([(d, s) for d, s, _ in fused], snippet, q.text)}
        return list(rankings), [
            HybridHit(
                **hits[d].model_dump(),
                spaces={name: SpaceRank(rank=r, score=sc) for name, (r, sc) in per_space.items()},
            )
            for d, _, per_space in fused
            if d in hits
        ]

    def similar(
        self,
        collection_name: str,
        external_id: str,
        k: int,
        where: dict[str, Any],
        space_name: str | None,
        snippet: int,
        offset: int = 0,
    ) -> tuple[str, list[Hit]]:
        """Neighbours of a stored document (itself excluded), the best ``offset`` skipped: its vector through
        the one pipeline, or in a keyword space by the symmetric BM25 document similarity (:mod:`.keyword_similar`)."""
        check_k(k, self.max_k)
        want = check_offset(k, offset, self.max_k)
        space, runtime, allowed = self.path.resolve(collection_name, space_name, where)
        with self.db.sessions() as session:
            doc = session.execute(
                select(Document.id, Document.text, Document.content_hash).where(
                    Document.collection_id == space.collection_id, Document.external_id == external_id
                )
            ).first()
            if doc is None:
                raise DocumentNotFound(
                    f"document {external_id!r} not found in collection {collection_name!r}", field="external_id"
                )
            if runtime.keyword:  # symmetric, self-normalised BM25 (.keyword_similar), not its text as a query
                pairs = keyword_similar(runtime, doc.id, want, allowed)[offset:]
                return space.name, self.path.hydrate(pairs, snippet)
            got = runtime.vectors_of(session, [doc.id], [doc.text], [doc.content_hash])
        if not got.ok[0]:
            raise EmptyText(
                f"document {external_id!r} has no vector in space {space.name!r} (nothing in it is embeddable)",
                field="external_id",
            )
        pairs = self.path.nearest(runtime, got.vectors[0], want, allowed, exclude=doc.id)[offset:]
        return space.name, self.path.hydrate(pairs, snippet)

    # Word and token queries (service.words), kept here so callers have one entry point.

    def contextual_tokens(
        self, collection_name: str, space_name: str, text: str, neighbors: int, with_vectors: bool
    ) -> tuple[str, list[TokenVector]]:
        return self.words.contextual_tokens(collection_name, space_name, text, neighbors, with_vectors)

    def analyze(self, collection_name: str, space_name: str, text: str) -> tuple[str, list[str]]:
        return self.words.analyze(collection_name, space_name, text)

    def word_neighbors(self, collection_name: str, space_name: str, word: str, k: int) -> tuple[str, list[WordScore]]:
        return self.words.word_neighbors(collection_name, space_name, word, k)

    def analogy(
        self, collection_name: str, space_name: str, positive: list[str], negative: list[str], k: int
    ) -> tuple[str, list[WordScore]]:
        return self.words.analogy(collection_name, space_name, positive, negative, k)


def _query(query: str | Query) -> Query:
    return query if isinstance(query, Query) else Query(text=query)


