"""Recommendation queries over an item2vec space: "more like these, not like those".

Item vectors come from the space's trained model (items are SQL ids). Two
strategies, as Qdrant names them:

* ``average``: one query vector, ``avg_pos + (avg_pos - avg_neg)`` over unit
  vectors (weighted positives), searched in FAISS with the metadata filter as
  an IDSelector;
* ``best_score``: candidates are the FAISS neighbours of each positive; each
  is scored by its best similarity to a positive, or by minus its best
  similarity to a negative when a negative is closer, so anything nearer a
  negative than every positive sinks below the rest.

Cold start: an example item never seen in training has no item2vec vector. When
the space's spec names a ``cold_start_space`` (a text space of the same
collection), such examples are served from their text vectors there, items
without interactions can be recommended through it too, and every hit says
which source it came from. The two sources' hits are merged into one list by
score (item2vec's probability or cosine, the text space's cosine), so a text hit
earns its place instead of being given half the list.

Examples without a vector are skipped, not refused: a user's history often holds
an item the model never saw (added after the last build, or its only rater's
history too short to train on). They are listed in the response's ``skipped``;
only when nothing at all is left to recommend from is the request a 422
``no_interactions`` - naming what the caller sent (``positive[i]`` for examples,
``user`` for a user's history).

Scores: a ``scoring="context"`` space's index holds the skip-gram's output vectors
and queries are built from input vectors; the dot product is the model's
log-odds that the candidate belongs with the query, reported as its logistic
(0-1). A ``cosine`` space reports cosine similarity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from embedders.capabilities import Capability
from embedders.registry import has

from ..errors import EmptyHistory, ItemNotFound, NoInteractions, NotSupported
from ..store.models import Document
from ..recommend_schemas import RecommendHit, RecommendRequest, RecommendResponse, Strategy, UserRecommendRequest, WeightedItem
from ..store.repository import SpaceRef, max_change_id, resolve_space
from .query_path import QueryPath, check_k
from ..runtime.spaces import SpaceRuntime

BEST_SCORE_FANOUT = 4  # best_score: neighbours fetched per positive, as a multiple of k
SMALL_EXCLUDE = 256  # up to this many excluded items are over-fetched; more become an IDSelector


@dataclass
class Ranked:
    """One source's ranking: (item id, score) best first."""

    source: str
    pairs: list[tuple[int, float]] = field(default_factory=list)


def _logistic(x: float) -> float:
    """1 / (1 + e^-x), without overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class Recommender:
    """Entry points of recommendation queries (HTTP and CLI share them)."""

    def __init__(self, path: QueryPath) -> None:
        """On the searches' query path: the same prepared reads and in-memory filter columns."""
        self.path = path
        self.db = path.db
        self.runtimes = path.runtimes
        self.max_k = path.max_k

    # --- entry points -------------------------------------------------------------------

    def recommend(self, collection: str, request: RecommendRequest) -> RecommendResponse:
        check_k(request.k, self.max_k)
        positives = request.weighted_positives()
        ref, runtime, allowed = self._resolve(collection, request.space, request.filter)
        with self.db.sessions() as session:
            pos_ids = self._item_ids(session, ref, [p.id for p in positives], "positive")
            neg_ids = self._item_ids(session, ref, request.negative, "negative")
            excluded = set(pos_ids) | set(neg_ids) | set(self._item_ids(session, ref, request.exclude, "exclude"))
            if request.exclude_seen_by is not None:
                excluded |= self._seen(session, ref, request.exclude_seen_by)
        weights = np.array([p.weight for p in positives], dtype=np.float32)
        return self._run(
            ref, runtime, pos_ids, weights, neg_ids, request.k, request.strategy, allowed, excluded,
            request.snippet_chars, [p.id for p in positives], list(request.negative),
            lambda i: f"positive[{i}]",
        )

    def for_user(self, collection: str, user: str, request: UserRecommendRequest) -> RecommendResponse:
        """From the user's latest ``history`` events, recency-weighted; events with a negative weight
        (dislikes, returns) become negatives."""
        from embedders.item2vec.evaluate import recency_weights

        from ..store.interactions import user_history

        check_k(request.k, self.max_k)
        ref, runtime, allowed = self._resolve(collection, request.space, request.filter)
        with self.db.sessions() as session:
            history = user_history(session, ref.collection_id, user, request.history)
            excluded = self._seen(session, ref, user) if request.exclude_seen else set()
            external = dict(
                session.execute(
                    select(Document.id, Document.external_id).where(Document.id.in_({e.item for e in history}))
                ).all()
            )
        weights = recency_weights(history, request.half_life)
        per_item: dict[int, float] = {}
        for event, w in zip(history, weights):
            per_item[event.item] = per_item.get(event.item, 0.0) + float(w)  # w carries the event's sign
        pos = [(i, w) for i, w in per_item.items() if w > 0]
        neg = [i for i, w in per_item.items() if w < 0]
        if not pos:
            raise EmptyHistory(
                f"user {user!r} has no positive interaction among the latest {request.history}",
                field="user",
            )
        return self._run(
            ref, runtime, [i for i, _ in pos], np.array([w for _, w in pos], dtype=np.float32), neg,
            request.k, request.strategy, allowed, excluded | {i for i, _ in pos}, request.snippet_chars,
            [external.get(i, str(i)) for i, _ in pos], [external.get(i, str(i)) for i in neg],
            lambda i: "user",
        )

    def similar_item(
        self, collection: str, item: str, k: int, where: dict[str, Any], space: str | None, snippet: int
    ) -> RecommendResponse:
        return self.recommend(
            collection,
            RecommendRequest(positive=[item], k=k, filter=where, space=space, snippet_chars=snippet),
        )

    # --- resolution ---------------------------------------------------------------------

    def _resolve(
        self, collection: str, space_name: str | None, where: dict[str, Any]
    ) -> tuple[SpaceRef, SpaceRuntime, np.ndarray | None]:
        ref, runtime, allowed = self.path.resolve(collection, space_name, where)
        if not (has(runtime.embedder, Capability.TRAIN_INTERACTIONS) and has(runtime.embedder, Capability.TRAINED_VECTORS)):
            raise NotSupported(
                f"space {ref.name!r} is a {ref.embedder_type} space; recommendations need an item2vec space",
                field="space",
            )
        return ref, runtime, allowed

    @staticmethod
    def _item_ids(session: Any, ref: SpaceRef, external_ids: Sequence[str], field: str) -> list[int]:
        if not external_ids:
            return []
        rows = dict(
            session.execute(
                select(Document.external_id, Document.id).where(
                    Document.collection_id == ref.collection_id, Document.external_id.in_(set(external_ids))
                )
            ).all()
        )
        for i, ext in enumerate(external_ids):
            if ext not in rows:
                raise ItemNotFound(
                    f"item {ext!r} not found in collection {ref.collection_name!r}",
                    field=f"{field}[{i}]",
                )
        return [rows[ext] for ext in external_ids]

    @staticmethod
    def _seen(session: Any, ref: SpaceRef, user: str) -> set[int]:
        from ..store.models import Interaction

        return set(
            session.scalars(
                select(Interaction.item_id)
                .where(Interaction.collection_id == ref.collection_id, Interaction.user_id == user)
                .distinct()
            )
        )

    # --- the query ----------------------------------------------------------------------

    def _run(
        self,
        ref: SpaceRef,
        runtime: SpaceRuntime,
        pos_ids: list[int],
        pos_weights: np.ndarray,
        neg_ids: list[int],
        k: int,
        strategy: Strategy,
        allowed: np.ndarray | None,
        excluded: set[int],
        snippet: int,
        pos_names: list[str],
        neg_names: list[str],
        field_of: Callable[[int], str],
    ) -> RecommendResponse:
        """The query: examples without a vector skipped (or served by text), one list merged by score.

        ``field_of(i)`` names positive ``i`` the way the caller sent it, for the error
        raised when no example at all has a vector or a text route.
        """
        embedder = runtime.embedder
        pos_known, pos_vecs = self._query_vectors(embedder, pos_ids)
        neg_known, neg_vecs = self._query_vectors(embedder, neg_ids)
        warm = np.asarray(pos_known, dtype=bool)
        cold = [i for i, known in enumerate(warm) if not known]
        text_space = getattr(embedder.spec, "cold_start_space", None)
        context = getattr(embedder, "metric", "cosine") == "ip"
        rankings: list[Ranked] = []
        if warm.any():
            candidates_allowed = self._allowed(runtime, allowed, excluded)
            P = _unit(pos_vecs[warm])
            N = _unit(neg_vecs[neg_known]) if len(neg_ids) else np.zeros((0, P.shape[1]), np.float32)
            ranked = Ranked("item2vec")
            if strategy == "average":
                ranked.pairs = self._average(runtime, P, pos_weights[warm], N, k, candidates_allowed, excluded)
            else:
                ranked.pairs = self._best_score(runtime, P, N, k, candidates_allowed, excluded)
            if context and strategy == "average":  # a dot product is a log-odds: its logistic is a probability
                ranked.pairs = [(i, _logistic(s)) for i, s in ranked.pairs]
            rankings.append(ranked)
        used_text: str | None = None
        served_cold: list[int] = []
        if text_space is not None:
            text = self._text_rankings(ref, runtime, text_space, pos_ids, cold, k, allowed, excluded)
            if text is not None:
                used_text = text_space
                served_cold, extra = text
                rankings.extend(extra)
        skipped = [pos_names[i] for i in cold if i not in served_cold]
        skipped += [neg_names[i] for i, known in enumerate(neg_known) if not known]
        if not warm.any() and not served_cold:
            first = cold[0]
            where = "" if text_space is None else f" nor text in space {text_space!r}"
            raise NoInteractions(
                f"no example has interactions in space {ref.name!r}{where} (not in its training data): "
                f"{', '.join(repr(pos_names[i]) for i in cold[:10])}"
                + ("" if text_space is not None else "; set cold_start_space in the space's spec to recommend from text"),
                field=field_of(first),
            )
        pairs = self._merge(rankings, k)
        rows = self.path.hot.hit_rows([i for i, _, _ in pairs], snippet)
        hits = [
            RecommendHit(
                id=i, external_id=rows[i].external_id, score=s, text=rows[i].text, metadata=rows[i].metadata, source=src
            )
            for i, s, src in pairs
            if i in rows
        ]
        return RecommendResponse(
            space=ref.name,
            strategy=strategy,
            cold_start_space=used_text,
            cold_examples=[pos_names[i] for i in served_cold],
            skipped=skipped,
            hits=hits,
        )

    @staticmethod
    def _query_vectors(embedder: Any, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The vectors queries are built from (input vectors; ``trained_vectors`` for older embedders)."""
        if not ids:
            return np.zeros(0, dtype=bool), np.zeros((0, embedder.dim), dtype=np.float32)
        lookup = getattr(embedder, "query_vectors", None) or embedder.trained_vectors
        known, vectors = lookup(ids)
        return np.asarray(known, dtype=bool), vectors

    @staticmethod
    def _allowed(runtime: SpaceRuntime, allowed: np.ndarray | None, excluded: set[int]) -> np.ndarray | None:
        """The IDSelector for candidates: the filter minus the excluded items (over-fetch when few are excluded)."""
        if not excluded:
            return allowed
        ex = np.fromiter(excluded, dtype=np.int64, count=len(excluded))
        if allowed is not None:
            return np.setdiff1d(allowed, ex)
        if len(excluded) > SMALL_EXCLUDE:
            return np.setdiff1d(runtime.index.ids(), ex)
        return None

    @staticmethod
    def _search(
        runtime: SpaceRuntime, queries: np.ndarray, fetch: int, allowed: np.ndarray | None, excluded: set[int]
    ) -> list[list[tuple[int, float]]]:
        if allowed is not None and len(allowed) == 0:
            return [[] for _ in range(len(queries))]
        extra = len(excluded) if allowed is None else 0
        scores, ids = runtime.index.search(queries.astype(np.float32), fetch + extra, allowed_ids=allowed)
        return [
            [(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0 and int(i) not in excluded]
            for row_ids, row_scores in zip(ids, scores)
        ]

    def _average(
        self, runtime: SpaceRuntime, P: np.ndarray, w: np.ndarray, N: np.ndarray, k: int,
        allowed: np.ndarray | None, excluded: set[int],
    ) -> list[tuple[int, float]]:
        query = (w[:, None] * P).sum(axis=0) / w.sum()
        if len(N):
            query = query + (query - N.mean(axis=0))
        if not np.any(query):
            return []
        return self._search(runtime, query[None, :], k, allowed, excluded)[0][:k]

    def _best_score(
        self, runtime: SpaceRuntime, P: np.ndarray, N: np.ndarray, k: int,
        allowed: np.ndarray | None, excluded: set[int],
    ) -> list[tuple[int, float]]:
        """Each candidate by its best cosine with a positive (or minus its best with a closer negative).

        ``context`` spaces: the candidates are each positive's predicted items (the index holds
        context vectors), compared with the examples by their input vectors, as in a cosine space:
        best_score asks "like which example?", a similarity, and the dot product's popularity term
        would otherwise let popular items of no example's group through (measured on the planted
        log of tests/service/test_recommend.py)."""
        fetched = self._search(runtime, P, max(BEST_SCORE_FANOUT * k, 50), allowed, excluded)
        cand = np.array(sorted({i for row in fetched for i, _ in row}), dtype=np.int64)
        if not len(cand):
            return []
        known, vecs = self._query_vectors(runtime.embedder, cand.tolist())
        cand, C = cand[known], _unit(vecs[known])
        best_pos = (C @ P.T).max(axis=1)
        score = best_pos
        if len(N):
            best_neg = (C @ N.T).max(axis=1)
            score = np.where(best_pos > best_neg, best_pos, -best_neg)
        order = np.argsort(-score, kind="stable")[:k]
        return [(int(cand[o]), float(score[o])) for o in order]

    def _text_rankings(
        self,
        ref: SpaceRef,
        runtime: SpaceRuntime,
        text_space: str,
        pos_ids: list[int],
        cold: list[int],
        k: int,
        allowed: np.ndarray | None,
        excluded: set[int],
    ) -> tuple[list[int], list[Ranked]] | None:
        """Cold start through the text space: cold examples by their text, and items with no
        interactions (absent from the item2vec index) near all the examples' text.

        Returns the cold examples it served (those with text) and the rankings; None when
        nothing came from text."""
        with self.db.sessions() as session:
            text_ref = resolve_space(session, ref.collection_name, text_space)
            head = max_change_id(session, ref.collection_id)
        text_runtime = self.runtimes.get(text_ref, head)
        vectors, has = self._text_vectors(text_ref, text_runtime, pos_ids)
        out: list[Ranked] = []
        cold_with_text = [i for i in cold if has[i]]
        if cold_with_text:
            query = _unit(vectors[cold_with_text]).mean(axis=0)
            base = self._allowed(text_runtime, allowed, excluded)
            out.append(Ranked("text", self._search(text_runtime, query[None, :], k, base, excluded)[0][:k]))
        if has.any():
            # Items nobody interacted with yet can only be found by their text.
            with self.db.sessions() as session:
                all_items = np.array(
                    session.scalars(select(Document.id).where(Document.collection_id == ref.collection_id)).all(),
                    dtype=np.int64,
                )
            unseen = np.setdiff1d(all_items, runtime.index.ids())
            if allowed is not None:
                unseen = np.intersect1d(unseen, allowed)
            unseen = np.setdiff1d(unseen, np.fromiter(excluded, dtype=np.int64, count=len(excluded)))
            if len(unseen):
                query = _unit(vectors[has]).mean(axis=0)
                out.append(Ranked("text", self._search(text_runtime, query[None, :], k, unseen, set())[0][:k]))
        return (cold_with_text, out) if out or cold_with_text else None

    def _text_vectors(
        self, text_ref: SpaceRef, text_runtime: SpaceRuntime, ids: list[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The examples' vectors in the text space (stored ones, else embedded now) and which have one."""
        with self.db.sessions() as session:
            rows = {
                r.id: r
                for r in session.execute(
                    select(Document.id, Document.text, Document.content_hash).where(Document.id.in_(set(ids)))
                )
            }
            got = text_runtime.vectors_of(
                session, ids, [rows[i].text for i in ids], [rows[i].content_hash for i in ids]
            )
        vectors = got.vectors
        return vectors, np.any(vectors != 0, axis=1)

    @staticmethod
    def _merge(rankings: list[Ranked], k: int) -> list[tuple[int, float, str]]:
        """One list, best score first: each item once (its best score and that score's source), then the top k.

        Every source earns its places by score; none is given a share of the list. Ties
        keep the sources' order (item2vec first) and each source's own ranking.
        """
        best: dict[int, tuple[float, int, str]] = {}
        order = 0
        for ranked in rankings:
            for i, score in ranked.pairs:
                if i not in best or score > best[i][0]:
                    best[i] = (score, best[i][1] if i in best else order, ranked.source)
                order += 1
        merged = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[1][1]))[:k]
        return [(i, score, src) for i, (score, _, src) in merged]
