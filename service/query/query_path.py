"""The shared steps of every query: resolve the space, catch it up, turn the filter into allowed ids, hydrate hits.

Searches, recommendations, evaluations and word queries all start and end the
same way; this is that one way, so a change to the query path (a faster filter,
a cache) is made once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedders.capabilities import Capability
from embedders.chunking import ChunkSpec
from embedders.chunking import passages as cut_passages
from embedders.errors import NotSupported
from embedders.registry import has
from indexers.base import SearchParams
from indexers.errors import DimensionMismatch

from ..store.db import Database
from ..errors import InvalidK, InvalidRequest
from ..store.filter_tree import parse_filter
from ..store.hot_reads import HotReads, SpaceState
from .filter_cache import FilterColumnsCache
from ..store.repository import HitRow, SpaceRef, filtered_ids
from ..schemas import Highlight, Hit, PassageHit
from .snippets import query_terms, snippet_for
from ..runtime.spaces import SpaceRuntime, SpaceRuntimes


class NeedsWorker(Exception):
    """Raised by a ``memory_only`` resolution: this query needs SQL, a space load or a catch-up first."""


def check_k(k: int, max_k: int | None, field: str = "k") -> None:
    """The one k check of the service: 1..VECDEX_MAX_K (no upper bound when ``max_k`` is None), else
    ``invalid_k`` naming ``field``."""
    if max_k is None:
        if k <= 0:
            raise InvalidK(f"k must be at least 1, got {k}", field=field)
    elif k <= 0 or k > max_k:
        raise InvalidK(f"k must be between 1 and {max_k}, got {k}", field=field)


def check_offset(k: int, offset: int, max_k: int | None, field: str = "offset") -> int:
    """The depth a query with ``offset`` asks the index for, ``k + offset``: refused (``invalid_request``
    naming ``field``) past VECDEX_MAX_K, the bound on what one query may rank, so paging costs no more
    than the deepest single query (the schema bounds ``offset`` itself)."""
    if offset < 0:
        raise InvalidRequest(f"offset must be at least 0, got {offset}", field=field)
    if max_k is not None and k + offset > max_k:
        raise InvalidRequest(
            f"k + offset must be at most {max_k} (VECDEX_MAX_K), got {k} + {offset} = {k + offset}", field=field
        )
    return k + offset


@dataclass(frozen=True)
class Query:
    """What a search ranks by: a text, or a vector (exactly one)."""

    text: str | None = None
    vector: np.ndarray | None = None

    @classmethod
    def of(cls, text: str | None, vector: Sequence[float] | None) -> Query:
        return cls(text, None if vector is None else np.asarray(vector, dtype=np.float32))


class QueryPath:
    """Resolve + catch up + filter, rank (text or vector, keyword or dense), hydrate.

    The path reads SQL twice, with fixed statements on the driver
    (:mod:`~service.store.hot_reads`): one resolves the collection and space
    and reads the head of the change log in a single statement (so a space
    already caught up skips the replay query), the other hydrates the hits.
    SQLAlchemy's statement machinery stays out of it: it cost more than the
    index search itself.
    """

    def __init__(self, db: Database, runtimes: SpaceRuntimes, max_k: int) -> None:
        self.db = db
        self.runtimes = runtimes
        self.max_k = max_k
        self.hot = HotReads(db)
        self.filters = FilterColumnsCache(db)

    def resolve(
        self, collection: str, space: str | None, where: dict[str, Any] | None = None, *, memory_only: bool = False
    ) -> tuple[SpaceRef, SpaceRuntime, np.ndarray | None]:
        """The space (default when None), loaded and caught up, and the ids its filter allows (None: all)."""
        state, runtime, allowed = self.resolve_state(collection, space, where, memory_only=memory_only)
        return state.ref, runtime, allowed

    def resolve_state(
        self, collection: str, space: str | None, where: dict[str, Any] | None = None, *, memory_only: bool = False
    ) -> tuple[SpaceState, SpaceRuntime, np.ndarray | None]:
        """:meth:`resolve` with the whole state read (its data version goes on to the hits' read).

        ``memory_only``: answer only from what this process holds (the space loaded and caught up, the
        filter's columns loaded and current) and raise :class:`NeedsWorker` where a load, a catch-up or a
        SQL filter would be needed: a caller on the event loop then hands the query to a worker thread.
        """
        state = self.hot.space_state(collection, space)
        if memory_only:
            runtime = self.runtimes.loaded(state.ref, state.head)
            if runtime is None or (where and not self.filters.current(state.ref.collection_id, state.head)):
                raise NeedsWorker()
        allowed = self.allowed_ids(state.ref, state.head, where, memory_only=memory_only)  # a 422 before any 409
        if memory_only and where and allowed is None:
            raise NeedsWorker()  # only SQL is exact for this filter
        return state, self.runtimes.get(state.ref, state.head), allowed

    def allowed_ids(
        self, ref: SpaceRef, head: int, where: dict[str, Any] | None, *, memory_only: bool = False
    ) -> np.ndarray | None:
        """The ids a filter allows (None: no filter): from the in-memory metadata columns, kept in step with
        the change log up to ``head``; from SQL while a collection's columns load, or where only SQL is
        exact (integers beyond 2**53). Checked against the schema first either way (a 422 naming the path)."""
        if not where:
            return None
        tree = parse_filter(where, ref.metadata_schema, ref.collection_name)
        allowed = self.filters.ids(self.db, ref, head, tree)
        if allowed is None and not memory_only:
            with self.db.sessions() as session:
                allowed = filtered_ids(session, ref, where)
        return allowed

    def ranked(
        self,
        runtime: SpaceRuntime,
        query: Query,
        k: int,
        allowed: np.ndarray | None,
        params: SearchParams | None = None,
        exclude: int | None = None,
    ) -> list[tuple[int, float]]:
        """The top ``k`` (doc id, score): by text in a keyword space, by vector (given or embedded) otherwise."""
        allowed = _without(allowed, exclude)
        if allowed is not None and len(allowed) == 0:
            return []  # nothing passes the filter: no need to embed the query
        if runtime.keyword:
            if query.text is None:
                raise NotSupported(
                    "a keyword space ranks texts: send a query, not a vector", field="vector"
                )
            return runtime.index.search_text(query.text, k, allowed_ids=allowed, exclude=exclude)  # type: ignore[union-attr]
        vector = self.query_vector(runtime, query)
        return self.nearest(runtime, vector, k, allowed, params, exclude)

    @staticmethod
    def query_vector(runtime: SpaceRuntime, query: Query) -> np.ndarray:
        """The query as a vector of the space: the given one (its length checked), else the text embedded."""
        if query.vector is None:
            return runtime.embedder.embed_query(query.text or "")
        if len(query.vector) != runtime.embedder.dim:
            raise DimensionMismatch(
                f"vector has {len(query.vector)} numbers; this space's vectors have {runtime.embedder.dim}",
                field="vector",
            )
        return query.vector

    @staticmethod
    def nearest(
        runtime: SpaceRuntime,
        vector: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        params: SearchParams | None = None,
        exclude: int | None = None,
    ) -> list[tuple[int, float]]:
        """The index's ``k`` nearest to one vector (one more fetched when ``exclude`` may be among them)."""
        allowed = _without(allowed, exclude)
        if allowed is not None and len(allowed) == 0:
            return []
        fetch = k + 1 if exclude is not None and allowed is None else k
        scores, ids = runtime.index.search(vector[None, :], fetch, allowed_ids=allowed, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0 and i != exclude][:k]

    def hydrate(self, pairs: list[tuple[int, float]], snippet: int, query: str | None = None) -> list[Hit]:
        """Hits with their external id, snippet and metadata, in the order given; the snippet is the
        window best matching ``query``'s terms, with them highlighted (:func:`make_hit`)."""
        rows = self.hot.hit_rows([i for i, _ in pairs], text_length(query, snippet))
        # A hit deleted between the search and this read is dropped rather than shown half-empty.
        return [make_hit(i, s, rows[i], query, snippet) for i, s in pairs if i in rows]


def text_length(query: str | None, snippet: int) -> int:
    """How much of each hit's text to read: all of it (0) when the query has terms to look for in it,
    else the snippet's length."""
    return 0 if query_terms(query) else snippet


def make_hit(
    doc_id: int,
    score: float,
    row: HitRow,
    query: str | None,
    snippet: int,
    passages: list[tuple[int, float]] | None = None,
    chunking: ChunkSpec | None = None,
) -> Hit:
    """A hit of ``row`` (read with :func:`text_length`, or whole for passages): its snippet and highlights
    for ``query``; in a chunked space its best ``passages`` (number, score) as offsets of the text, cut
    again by ``chunking`` (passages are a function of the text), and the snippet taken from the best one.

    Built without validation: every field comes typed from SQL, the index and :mod:`.snippets`
    (validating ten hits' metadata cost more than the read)."""
    found: list[PassageHit] = []
    if passages and chunking is not None:
        spans = cut_passages(row.text, chunking)
        found = [
            PassageHit.model_construct(start=spans[j][0], end=spans[j][1], score=s) for j, s in passages if j < len(spans)
        ]
    if found:
        best = found[0]
        cut = snippet_for(row.text[best.start:best.end], query, snippet)
        offset = best.start + cut.offset
    else:
        cut = snippet_for(row.text, query, snippet)
        offset = cut.offset
    return Hit.model_construct(
        id=doc_id,
        external_id=row.external_id,
        score=score,
        text=cut.text,
        metadata=row.metadata,
        text_offset=offset,
        highlights=[Highlight.model_construct(start=a, end=b) for a, b in cut.highlights],
        passages=found,
    )


def _without(allowed: np.ndarray | None, exclude: int | None) -> np.ndarray | None:
    """The allowed ids minus ``exclude`` (None stays None: everything is allowed)."""
    return allowed if allowed is None or exclude is None else allowed[allowed != exclude]


def answers(embedder_type: str, query: Query) -> bool:
    """Whether a space of this family takes such a query when compare/hybrid pick spaces themselves:
    text needs a family that embeds or keyword-scores text; a vector, a dense family that is not
    trained on interactions (those answer items)."""
    if query.text is not None:
        return has(embedder_type, Capability.EMBED_TEXT) or has(embedder_type, Capability.KEYWORD)
    return not has(embedder_type, Capability.KEYWORD) and not has(embedder_type, Capability.TRAIN_INTERACTIONS)
