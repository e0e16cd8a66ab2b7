"""Offline evaluation of item recommendations: time split, baselines, ranking metrics.

The task is next-item prediction: for each test user, recommend ``k`` items from
their history and see whether (and where) the item they actually touched last
comes up. The split is by time, never random, so no model learns from the future
it is asked to predict: everything trained on happened before one cutoff.

Every recommender is a callable ``(history, k, exclude) -> list[int]`` that
leaves out items already in the history (unless built with
``exclude_seen=False``) and the ``exclude`` set, so models and baselines are
compared on identical terms.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from embedders.errors import InvalidParameter
from embedders.item2vec.sequences import Interaction, by_user, split_sessions

DEFAULT_HALF_LIFE = 1.0
"""Half-life (in events) of a history item's weight in a recommendation query.

On MovieLens 100k with the default :class:`~embedders.item2vec.spec.Item2VecSpec`
(``context`` scoring; bench/bench_item2vec_real.py, HR@10 / nDCG@10): validation split
(each user's second-to-last rating) 1: 0.234 / 0.123, 2: 0.229 / 0.124 - a tie; the
test split (the last rating), looked at afterwards, 1: 0.215 / 0.114, 2: 0.185 / 0.102,
and 1 was ahead at 7 of 8 specs tried there. On the planted logs the old cosine
defaults were chosen on: 1: 0.378 / 0.182, 2: 0.374 / 0.176, 3: 0.366 / 0.166,
5: 0.318 / 0.142, none (all history alike): 0.218 / 0.103. The latest item says most
about the next one.
"""


# ----------------------------------------------------------------------------------
# The split
# ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One next-item prediction: ``user``'s ``history`` (time order) and the ``target`` item."""

    user: str
    history: list[Interaction]
    target: int


@dataclass(frozen=True)
class Split:
    """Training events (all before ``cutoff``) and the held-out cases."""

    train: list[Interaction]
    cases: list[Case]
    cutoff: float


def time_split(interactions: Iterable[Interaction], test_fraction: float = 0.1) -> Split:
    """Leave-last-out next-item prediction on a time-based split.

    The cutoff is the timestamp quantile at ``1 - test_fraction``. Training gets
    every event strictly before it. A test case is a user whose last event is at
    or after the cutoff, has a positive weight (a "dislike" is no target) and has
    at least one earlier event; the history is all of the user's events before the
    last one - including events after the cutoff, which are known when the
    prediction is made but never trained on - and the target is the last event's item.

    Raises:
        InvalidParameter: ``test_fraction`` outside (0, 1).
    """
    if not 0.0 < test_fraction < 1.0:
        raise InvalidParameter(f"test_fraction must be in (0, 1), got {test_fraction}", field="test_fraction")
    events = list(interactions)
    if not events:
        return Split(train=[], cases=[], cutoff=math.inf)
    cutoff = float(np.quantile(np.array([e.ts for e in events], dtype=np.float64), 1.0 - test_fraction))
    train = [e for e in events if e.ts < cutoff]
    cases: list[Case] = []
    for user, history in by_user(events).items():
        last = history[-1]
        if last.ts >= cutoff and len(history) >= 2 and last.weight > 0:
            cases.append(Case(user=user, history=history[:-1], target=last.item))
    return Split(train=train, cases=cases, cutoff=cutoff)


def leave_last_out(interactions: Iterable[Interaction]) -> Split:
    """Per-user leave-last-out: each user's latest event (by timestamp) is the target.

    A case is a user with at least two events whose latest has a positive weight; the
    history is everything before it, and training gets every event except the held-out
    ones (so other users' later events are trained on: the usual protocol of
    recommendation papers, and of the issue's MovieLens measurement; :func:`time_split`
    is the stricter one). Ties in time keep input order. ``cutoff`` is ``nan``.
    """
    train: list[Interaction] = []
    cases: list[Case] = []
    for user, history in by_user(interactions).items():
        last = history[-1]
        if len(history) >= 2 and last.weight > 0:
            cases.append(Case(user=user, history=history[:-1], target=last.item))
            train.extend(history[:-1])
        else:
            train.extend(history)
    return Split(train=train, cases=cases, cutoff=math.nan)


# ----------------------------------------------------------------------------------
# Recommenders
# ----------------------------------------------------------------------------------


class Recommender(Protocol):
    """``(history, k, exclude) -> up to k item ids``, best first."""

    def __call__(self, history: Sequence[Interaction], k: int, exclude: Collection[int] = ...) -> list[int]: ...


def recency_weights(history: Sequence[Interaction], half_life: float | None = DEFAULT_HALF_LIFE) -> np.ndarray:
    """Weight of each history event in a query: ``event.weight * 0.5 ** (age / half_life)``.

    ``age`` counts events back from the latest (0 for the last one), so a burst of
    clicks ages the past faster than a quiet week does. ``half_life=None`` weights
    events by their own weight only. A negative event weight (a dislike) gives a
    negative query weight: the item pushes the query away. The service's "recommend
    for a user" uses exactly this function.

    Raises:
        InvalidParameter: ``half_life`` not positive.
    """
    if half_life is not None and not half_life > 0:
        raise InvalidParameter(f"half_life must be positive, got {half_life}", field="half_life")
    n = len(history)
    weights = np.array([e.weight for e in history], dtype=np.float64)
    if half_life is None or n == 0:
        return weights
    age = np.arange(n - 1, -1, -1, dtype=np.float64)
    return weights * np.power(0.5, age / half_life)


def _check_k(k: int) -> None:
    if k < 1:
        raise InvalidParameter(f"k must be at least 1, got {k}", field="k")


def _blocked(history: Sequence[Interaction], exclude: Collection[int], exclude_seen: bool) -> set[int]:
    blocked = {int(i) for i in exclude}
    if exclude_seen:
        blocked.update(e.item for e in history)
    return blocked


class PopularityRecommender:
    """The most-interacted items of the training events (ties: lower id first), same for everyone."""

    name = "popularity"

    def __init__(self, train: Iterable[Interaction], *, exclude_seen: bool = True) -> None:
        counts = Counter(e.item for e in train if e.weight > 0)
        self.ranking: list[int] = [item for item, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        self.exclude_seen = exclude_seen

    def __call__(self, history: Sequence[Interaction], k: int, exclude: Collection[int] = frozenset()) -> list[int]:
        _check_k(k)
        blocked = _blocked(history, exclude, self.exclude_seen)
        out: list[int] = []
        for item in self.ranking:
            if item not in blocked:
                out.append(item)
                if len(out) == k:
                    break
        return out


class CooccurrenceRecommender:
    """Item-item co-occurrence within training sessions ("people who took X also took Y").

    ``score(j) = sum_i w_i * C[i, j]`` over the history items ``i`` with their
    :func:`recency_weights` ``w_i``, where ``C[i, j]`` counts the training sessions
    holding both. Lists shorter than ``k`` are filled by popularity, so hit rates
    compare with the other recommenders on equal terms.
    """

    name = "co-occurrence"

    def __init__(
        self,
        train: Iterable[Interaction],
        gap_seconds: float | None,
        *,
        half_life: float | None = DEFAULT_HALF_LIFE,
        exclude_seen: bool = True,
    ) -> None:
        from scipy import sparse  # a gensim dependency: there wherever item2vec trains

        train = list(train)
        sessions: list[set[int]] = [
            {e.item for e in session}
            for history in by_user(e for e in train if e.weight > 0).values()
            for session in split_sessions(history, gap_seconds)
        ]
        # Sessions x items (0/1), then C = S^T S without its diagonal: a sparse product, not a loop over
        # pairs (whole-history sessions of a rating log hold hundreds of items: n^2 pairs each).
        self._ids = np.array(sorted(set().union(*sessions)), dtype=np.int64)
        self._col = {int(i): c for c, i in enumerate(self._ids)}
        rows = np.repeat(np.arange(len(sessions)), [len(x) for x in sessions])
        cols = np.fromiter((self._col[i] for x in sessions for i in x), dtype=np.int64, count=len(rows))
        S = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sessions), len(self._ids)))
        C = (S.T @ S).tolil()
        C.setdiag(0)
        self._C = C.tocsr()
        self._C.eliminate_zeros()
        self._popular = PopularityRecommender(train, exclude_seen=exclude_seen)
        self.half_life = half_life
        self.exclude_seen = exclude_seen

    def __call__(self, history: Sequence[Interaction], k: int, exclude: Collection[int] = frozenset()) -> list[int]:
        _check_k(k)
        blocked = _blocked(history, exclude, self.exclude_seen)
        out: list[int] = []
        if len(self._ids):
            q = np.zeros(len(self._ids))
            for event, w in zip(history, recency_weights(history, self.half_life)):
                c = self._col.get(event.item)
                if c is not None:
                    q[c] += w
            scores = np.asarray(self._C @ q).ravel()  # C is symmetric: sum_i q_i C[i, :]
            gone = [self._col[i] for i in blocked if i in self._col]
            scores[gone] = 0.0
            good = np.flatnonzero(scores > 0)
            # Score descending, then id ascending (ids are sorted, so column order is id order).
            top = good[np.lexsort((good, -scores[good]))][:k]
            out = [int(i) for i in self._ids[top]]
        if len(out) < k:
            out += self._popular(history, k - len(out), blocked | set(out))
        return out


class AdjacentCooccurrenceRecommender:
    """Adjacent-pair co-occurrence, the issue's baseline: "people who took X right before or after took Y".

    ``C[i, j]`` counts how often ``j`` came right before or right after ``i`` in a
    user's time-ordered training events (no sessions); a history scores ``sum C[i, j]``
    over its ``last`` latest items. Lists shorter than ``k`` are filled by popularity.
    """

    name = "adjacent pairs"

    def __init__(self, train: Iterable[Interaction], *, last: int = 5, exclude_seen: bool = True) -> None:
        train = list(train)
        self._pairs: dict[int, Counter[int]] = defaultdict(Counter)
        for history in by_user(e for e in train if e.weight > 0).values():
            for a, b in zip(history, history[1:]):
                if a.item != b.item:
                    self._pairs[a.item][b.item] += 1
                    self._pairs[b.item][a.item] += 1
        self._popular = PopularityRecommender(train, exclude_seen=exclude_seen)
        self.last = last
        self.exclude_seen = exclude_seen

    def __call__(self, history: Sequence[Interaction], k: int, exclude: Collection[int] = frozenset()) -> list[int]:
        _check_k(k)
        blocked = _blocked(history, exclude, self.exclude_seen)
        scores: Counter[int] = Counter()
        for event in [e for e in history if e.weight > 0][-self.last:]:
            for other, count in self._pairs.get(event.item, {}).items():
                if other not in blocked:
                    scores[other] += count
        out = [j for j, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]
        if len(out) < k:
            out += self._popular(history, k - len(out), blocked | set(out))
        return out


class VectorRecommender:
    """Top-k around the recency-weighted sum of the history items' unit vectors.

    Candidates are scored by cosine, or - given ``context`` vectors (one row per item,
    the skip-gram's output vectors) - by the dot product of the query with them, which
    is what the service does for ``scoring="context"`` spaces (the prediction keeps
    popularity in the score; see :class:`~embedders.item2vec.spec.Item2VecSpec`).
    History items without a vector are skipped; when none has one the answer is empty
    (or the ``fallback`` recommender's). Vectors are normalised once here, so a query
    is one matrix-vector product.
    """

    name = "item2vec"

    def __init__(
        self,
        item_ids: np.ndarray,
        vectors: np.ndarray,
        half_life: float | None = DEFAULT_HALF_LIFE,
        *,
        exclude_seen: bool = True,
        fallback: Recommender | None = None,
        context: np.ndarray | None = None,
    ) -> None:
        ids = np.asarray(item_ids, dtype=np.int64)
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or len(ids) != len(matrix):
            raise InvalidParameter("item_ids and vectors must have one row per item", field="vectors")
        if context is not None and np.shape(context) != matrix.shape:
            raise InvalidParameter("context vectors must have the shape of the item vectors", field="context")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self._ids = ids
        self._unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
        self._candidates = self._unit if context is None else np.asarray(context, dtype=np.float32)
        self._row = {int(i): r for r, i in enumerate(ids)}
        self.half_life = half_life
        self.exclude_seen = exclude_seen
        self.fallback = fallback

    @classmethod
    def from_embedder(
        cls, embedder: Any, half_life: float | None = DEFAULT_HALF_LIFE, **kwargs: Any
    ) -> VectorRecommender:
        """A recommender over every item an :class:`~embedders.item2vec.Item2VecEmbedder` has a vector for,
        scoring as the embedder's spec says (``context``: dot with the context vectors)."""
        ids, vectors = embedder.item_vectors()
        if getattr(getattr(embedder, "spec", None), "scoring", "cosine") == "context" and "context" not in kwargs:
            _, kwargs["context"] = embedder.context_vectors()
        return cls(ids, vectors, half_life, **kwargs)

    def query_vector(self, history: Sequence[Interaction]) -> np.ndarray | None:
        """The (unnormalised) query vector of a history; None when no history item has a vector."""
        weights = recency_weights(history, self.half_life)
        rows = [(self._row[e.item], w) for e, w in zip(history, weights) if e.item in self._row]
        if not rows:
            return None
        index = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
        w = np.fromiter((w for _, w in rows), dtype=np.float64, count=len(rows))
        return (w @ self._unit[index].astype(np.float64)).astype(np.float32)

    def __call__(self, history: Sequence[Interaction], k: int, exclude: Collection[int] = frozenset()) -> list[int]:
        _check_k(k)
        blocked = _blocked(history, exclude, self.exclude_seen)
        query = self.query_vector(history)
        if query is None or not np.any(query):
            return self.fallback(history, k, blocked) if self.fallback is not None else []
        scores = self._candidates @ query
        rows = [self._row[i] for i in blocked if i in self._row]
        scores[rows] = -np.inf
        available = int(np.isfinite(scores).sum())
        take = min(k, available)
        if take == 0:
            return []
        top = np.argpartition(-scores, take - 1)[:take]
        # Sort the few winners: score descending, then id ascending for a stable order.
        top = top[np.lexsort((self._ids[top], -scores[top]))]
        return [int(i) for i in self._ids[top]]


# ----------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metrics:
    """Ranking quality at ``k`` averaged over ``cases`` (one relevant item per case)."""

    hit_rate: float
    mrr: float
    ndcg: float
    coverage: float
    cases: int

    def as_dict(self) -> dict[str, float | int]:
        return {"hit_rate": self.hit_rate, "mrr": self.mrr, "ndcg": self.ndcg, "coverage": self.coverage,
                "cases": self.cases}


def evaluate(recommender: Recommender, cases: Sequence[Case], k: int, catalogue: Collection[int]) -> Metrics:
    """HR@k, MRR@k, nDCG@k (one relevant item: ``1 / log2(rank + 1)``) and catalogue coverage.

    Coverage is the number of distinct items recommended to anyone over the
    catalogue's size: a recommender that shows everyone the same ten items scores
    ``10 / len(catalogue)``, whatever its hit rate.
    """
    _check_k(k)
    hits = rr = dcg = 0.0
    shown: set[int] = set()
    for case in cases:
        recs = list(recommender(case.history, k, frozenset()))[:k]
        shown.update(recs)
        if case.target in recs:
            rank = recs.index(case.target) + 1
            hits += 1.0
            rr += 1.0 / rank
            dcg += 1.0 / math.log2(rank + 1)
    n = len(cases)
    size = len(catalogue)
    return Metrics(
        hit_rate=hits / n if n else 0.0,
        mrr=rr / n if n else 0.0,
        ndcg=dcg / n if n else 0.0,
        coverage=len(shown & set(catalogue)) / size if size else 0.0,
        cases=n,
    )


def catalogue_of(split: Split) -> set[int]:
    """Every item the split mentions (training events, histories, targets)."""
    items = {e.item for e in split.train}
    for case in split.cases:
        items.update(e.item for e in case.history)
        items.add(case.target)
    return items


_FROM_SPEC = object()


def compare(
    train_fn: Callable[[list[Interaction]], Any],
    split: Split,
    k: int = 10,
    *,
    gap_seconds: float | None | object = _FROM_SPEC,
    half_life: float | None = DEFAULT_HALF_LIFE,
    adjacent: bool = False,
) -> dict[str, Metrics]:
    """item2vec against the popularity and co-occurrence baselines (and, with ``adjacent``, the
    :class:`AdjacentCooccurrenceRecommender`) on one split.

    ``train_fn(split.train)`` returns a trained item2vec embedder (anything with
    ``item_vectors()``). The co-occurrence baseline cuts sessions with the embedder's
    ``spec.gap_seconds`` unless ``gap_seconds`` is given (None: whole histories).
    """
    embedder = train_fn(split.train)
    if gap_seconds is _FROM_SPEC:
        gap_seconds = getattr(getattr(embedder, "spec", None), "gap_seconds", 1800.0)
    assert gap_seconds is None or isinstance(gap_seconds, (int, float))
    catalogue = catalogue_of(split)
    recommenders: dict[str, Recommender] = {
        "item2vec": VectorRecommender.from_embedder(embedder, half_life),
        "popularity": PopularityRecommender(split.train),
        "co-occurrence": CooccurrenceRecommender(split.train, gap_seconds, half_life=half_life),
    }
    if adjacent:
        recommenders["adjacent pairs"] = AdjacentCooccurrenceRecommender(split.train)
    return {name: evaluate(rec, split.cases, k, catalogue) for name, rec in recommenders.items()}
