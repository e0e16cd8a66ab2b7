"""Offline evaluation and tuning of item2vec: the split, the metrics, the baselines, the search.

Metrics are checked against values worked out by hand on tiny inputs; the split
against the rule that nothing trained on happens at or after the cutoff.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
import pytest

from embedders import CorpusTooSmall, InvalidParameter
from embedders.item2vec import (
    Case,
    CooccurrenceRecommender,
    Interaction,
    Item2VecEmbedder,
    Item2VecSpec,
    Metrics,
    PopularityRecommender,
    VectorRecommender,
    by_user,
    catalogue_of,
    compare,
    evaluate,
    leave_last_out,
    recency_weights,
    time_split,
)
from embedders.item2vec import tune as tune_module
from embedders.item2vec.synthetic import planted_log
from embedders.item2vec.tune import SEARCH_SPACE, TuneResult, predicted_seconds, tune

from .conftest import RecordingProgress


def ev(user: str, item: int, ts: float, weight: float = 1.0) -> Interaction:
    return Interaction(user=user, item=item, ts=ts, weight=weight)


# -- metrics -------------------------------------------------------------------------------


class Fixed:
    """A recommender that answers a fixed list per user."""

    def __init__(self, answers: dict[str, list[int]]) -> None:
        self.answers = answers

    def __call__(self, history: Sequence[Interaction], k: int, exclude: Collection[int] = frozenset()) -> list[int]:
        return self.answers[history[0].user][:k]


def test_metrics_by_hand() -> None:
    cases = [
        Case("a", [ev("a", 1, 0)], target=10),  # rank 1
        Case("b", [ev("b", 1, 0)], target=30),  # rank 3
        Case("c", [ev("c", 1, 0)], target=99),  # miss
    ]
    rec = Fixed({"a": [10, 20, 30], "b": [10, 20, 30], "c": [40, 20, 10]})
    m = evaluate(rec, cases, k=3, catalogue=range(1, 51))
    assert m.cases == 3
    assert m.hit_rate == pytest.approx(2 / 3)
    assert m.mrr == pytest.approx((1 + 1 / 3 + 0) / 3)  # 4/9
    assert m.ndcg == pytest.approx((1 + 1 / math.log2(4) + 0) / 3)  # (1 + 0.5) / 3 = 0.5
    assert m.coverage == pytest.approx(4 / 50)  # 10, 20, 30, 40
    # At k=2 the rank-3 hit no longer counts, and only the first two items are shown.
    m2 = evaluate(rec, cases, k=2, catalogue=range(1, 26))
    # Coverage counts catalogue items only: 10, 20 (40 is not in this catalogue).
    assert (m2.hit_rate, m2.mrr, m2.ndcg, m2.coverage) == pytest.approx((1 / 3, 1 / 3, 1 / 3, 2 / 25))
    assert evaluate(rec, [], k=3, catalogue=[]) == Metrics(0.0, 0.0, 0.0, 0.0, 0)
    with pytest.raises(InvalidParameter):
        evaluate(rec, cases, k=0, catalogue=[1])


def test_recency_weights() -> None:
    history = [ev("u", 1, 0, 1.0), ev("u", 2, 1, 1.0), ev("u", 3, 2, 2.0), ev("u", 4, 3, -1.0)]
    assert recency_weights(history, 1.0) == pytest.approx([0.125, 0.25, 1.0, -1.0])
    assert recency_weights(history, 2.0) == pytest.approx([0.5**1.5, 0.5, 2 * 0.5**0.5, -1.0])
    assert recency_weights(history, None) == pytest.approx([1.0, 1.0, 2.0, -1.0])
    assert recency_weights([], 2.0).shape == (0,)
    with pytest.raises(InvalidParameter):
        recency_weights(history, 0.0)


# -- the split ------------------------------------------------------------------------------


def test_time_split_never_leaks() -> None:
    log, _ = planted_log(n_users=120, n_groups=4, items_per_group=10, seed=11)
    split = time_split(log, test_fraction=0.2)
    histories = by_user(log)
    assert split.train and split.cases
    assert split.cutoff == pytest.approx(float(np.quantile([e.ts for e in log], 0.8)))
    assert max(e.ts for e in split.train) < split.cutoff, "no training event at or after the cutoff"
    assert sorted(split.train, key=lambda e: (e.ts, e.user)) == [e for e in log if e.ts < split.cutoff]
    expected = {u for u, h in histories.items() if h[-1].ts >= split.cutoff and len(h) >= 2}
    assert {c.user for c in split.cases} == expected
    for case in split.cases:
        full = histories[case.user]
        assert case.target == full[-1].item, "the target is the user's last event"
        assert case.history == full[:-1]
    # Histories may reach past the cutoff (known at prediction time, never trained on).
    assert any(c.history[-1].ts >= split.cutoff for c in split.cases)


def test_time_split_edge_cases() -> None:
    log = [
        ev("a", 1, 1), ev("a", 2, 2), ev("a", 3, 10),  # last event after the cutoff: a case
        ev("b", 4, 9),  # only one event: no history, no case
        ev("c", 5, 3), ev("c", 6, 11, weight=-1.0),  # a dislike is no target
        ev("d", 7, 4), ev("d", 8, 5),  # all before the cutoff: training only
    ]
    split = time_split(log, test_fraction=0.25)
    assert split.cutoff == pytest.approx(float(np.quantile([e.ts for e in log], 0.75)))
    assert [(c.user, c.target, [e.item for e in c.history]) for c in split.cases] == [("a", 3, [1, 2])]
    assert all(e.ts < split.cutoff for e in split.train)
    # An event exactly at the cutoff is held out, and a last event there makes a case.
    log.append(ev("e", 9, 0.5))
    split = time_split(log, test_fraction=0.25)  # 9 events: the 0.75 quantile is the 7th timestamp, 9.0
    assert split.cutoff == 9.0
    assert ev("b", 4, 9) not in split.train and len(split.train) == 6
    assert "b" not in {c.user for c in split.cases}, "b has no earlier event"
    assert time_split([], 0.1).cases == []
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(InvalidParameter):
            time_split(log, bad)


# -- recommenders -----------------------------------------------------------------------------


def test_popularity_recommender() -> None:
    train = [ev("a", 1, 0), ev("b", 1, 0), ev("c", 1, 0), ev("a", 2, 1), ev("b", 2, 1), ev("a", 3, 2),
             ev("a", 9, 3, weight=-1.0), ev("b", 9, 3, weight=-1.0), ev("c", 9, 3, weight=-1.0), ev("d", 9, 3, -1.0)]
    rec = PopularityRecommender(train)
    assert rec([], 5, set()) == [1, 2, 3], "dislikes are no popularity"
    assert rec([ev("x", 1, 0)], 2, set()) == [2, 3], "seen items are left out"
    assert rec([ev("x", 1, 0)], 2, {2}) == [3]
    assert PopularityRecommender(train, exclude_seen=False)([ev("x", 1, 0)], 1, set()) == [1]


def test_cooccurrence_recommender() -> None:
    hour = 3600.0
    train = [
        ev("a", 1, 0), ev("a", 2, 10), ev("a", 3, 20),  # session {1, 2, 3}
        ev("a", 4, 5 * hour), ev("a", 1, 5 * hour + 10),  # session {1, 4}
        ev("b", 1, 0), ev("b", 2, 10),  # session {1, 2}
        ev("c", 5, 0), ev("c", 6, 10), ev("d", 5, 0), ev("d", 6, 5), ev("e", 5, 0), ev("e", 7, 5),
    ]
    rec = CooccurrenceRecommender(train, gap_seconds=1800)
    # After item 1: 2 (2 sessions) > 3, 4 (1 each, id order); then popularity fills (5, 6).
    assert rec([ev("x", 1, 0)], 5, set()) == [2, 3, 4, 5, 6]
    # Whole histories as sessions: a's 1, 2, 3, 4 all co-occur once in a's history.
    assert CooccurrenceRecommender(train, gap_seconds=None)([ev("x", 4, 0)], 2, set()) == [1, 2]
    # Recency: the latest item dominates the older one.
    assert rec([ev("x", 1, 0), ev("x", 5, 1)], 1, set()) == [6]


def test_vector_recommender_ranks_by_cosine_of_weighted_history() -> None:
    ids = np.array([10, 11, 12, 13, 14], dtype=np.int64)
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0], [0.1, 5.0]], dtype=np.float32)
    rec = VectorRecommender(ids, vectors, half_life=1.0)
    assert rec([ev("u", 10, 0)], 3, set()) == [11, 14, 12]
    assert rec([ev("u", 10, 0)], 10, {11}) == [14, 12, 13], "k larger than the catalogue"
    # Latest event weighs twice the one before it: 12 (up) beats 10 (right).
    q = rec.query_vector([ev("u", 10, 0), ev("u", 12, 1)])
    assert q is not None and q.tolist() == pytest.approx([0.5, 1.0])
    assert rec([ev("u", 10, 0), ev("u", 12, 1)], 1, set()) == [14]
    # A dislike pushes away: the query is minus 13's vector, i.e. towards 10.
    assert rec([ev("u", 13, 0, weight=-1.0)], 1, set()) == [10]
    # Unknown items are skipped; with nothing known, the fallback answers.
    assert rec([ev("u", 999, 0)], 3, set()) == []
    fallback = VectorRecommender(ids, vectors, fallback=PopularityRecommender([ev("a", 12, 0)]))
    assert fallback([ev("u", 999, 0)], 3, set()) == [12]


# -- compare and tune on a small planted log ---------------------------------------------------------

FAST = {"dim": 16, "epochs": 5, "workers": 1}


@pytest.fixture(scope="module")
def small_log() -> list[Interaction]:
    log, _ = planted_log(n_users=150, n_groups=4, items_per_group=12, seed=21)
    return log


def test_compare_runs_every_recommender_on_the_same_split(small_log: list[Interaction]) -> None:
    split = time_split(small_log, 0.1)
    # A 30-minute session gap in the spec: the co-occurrence baseline cuts sessions the same way.
    spec = Item2VecSpec(**FAST, session_gap_minutes=30)
    results = compare(lambda train: Item2VecEmbedder(spec).fit_log(train), split, k=10)
    assert set(results) == {"item2vec", "popularity", "co-occurrence"}
    assert {m.cases for m in results.values()} == {len(split.cases)}
    catalogue = catalogue_of(split)
    assert results["popularity"] == evaluate(PopularityRecommender(split.train), split.cases, 10, catalogue)
    cooccurrence = CooccurrenceRecommender(split.train, 1800.0)
    assert results["co-occurrence"] == evaluate(cooccurrence, split.cases, 10, catalogue)
    assert results["item2vec"].hit_rate > results["popularity"].hit_rate


def test_tune_with_no_budget_returns_the_base_trial(small_log: list[Interaction]) -> None:
    base = Item2VecSpec(**FAST)
    result = tune(small_log, base, budget_seconds=0.0, k=10, seed=1, max_trials=5)
    assert isinstance(result, TuneResult)
    assert len(result.trials) == 1 and result.trials[0].spec_changes == {}
    assert result.best_spec == base
    assert result.trials[0].metrics.cases > 0 and result.trials[0].seconds > 0


def test_tune_searches_within_budget_on_validation_only(
    small_log: list[Interaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = time_split(small_log, 0.1)
    validation = time_split(outer.train, 0.2)
    trained_on: list[list[Interaction]] = []
    scored_on: list[list[Case]] = []

    class Recording(Item2VecEmbedder):
        def fit_log(self, interactions, progress=None):  # type: ignore[no-untyped-def]
            trained_on.append(list(interactions))
            return super().fit_log(trained_on[-1], progress)

    def recording_evaluate(recommender, cases, k, catalogue):  # type: ignore[no-untyped-def]
        scored_on.append(list(cases))
        return evaluate(recommender, cases, k, catalogue)

    monkeypatch.setattr(tune_module, "Item2VecEmbedder", Recording)
    monkeypatch.setattr(tune_module, "evaluate", recording_evaluate)
    base = Item2VecSpec(**FAST)
    progress = RecordingProgress()
    budget = 1.0
    # The default search space has thousands of combinations: only the budget stops it
    # (max_trials is a safety net, so a broken budget check fails fast instead of running on).
    result = tune(small_log, base, budget_seconds=budget, k=5, seed=3, progress=progress,
                  test_fraction=0.1, validation_fraction=0.2, max_trials=150, protocol="time")
    trials = result.trials
    assert trials[0].spec_changes == {}
    assert 2 <= len(trials) < 100
    keys = [tuple(sorted(t.spec_changes.items())) for t in trials]
    assert len(set(keys)) == len(keys), "no spec is tried twice"
    assert all(set(t.spec_changes) <= set(SEARCH_SPACE) for t in trials)
    # No trial starts after the budget: all but the last finished within it.
    assert sum(t.seconds for t in trials[:-1]) < budget
    # The chosen trial is the base's or one that beat it by the noise margin (and was confirmed
    # with a second seed, so a rerun of it exists); best_spec is its spec.
    best = result.best
    assert best in trials
    assert result.best_spec == base.model_copy(update=best.spec_changes)
    assert best is trials[0] or best.metrics.ndcg - trials[0].metrics.ndcg > result.margin
    # Validation only: every trial (and every rerun with a second seed) trained on the validation
    # split's training part and scored on its cases; no event at or after the outer cutoff is looked at.
    assert len(trained_on) == len(scored_on) == len(trials) + len(result.reruns)
    assert all(data == validation.train for data in trained_on)
    assert all(cases == validation.cases for cases in scored_on)
    assert all(e.ts < outer.cutoff for c in validation.cases for e in c.history)
    assert progress.done["tune"] == progress.totals["tune"] == 1


def test_tune_stops_when_the_search_space_is_exhausted(small_log: list[Interaction]) -> None:
    base = Item2VecSpec(**FAST)
    space = {"epochs": (2, 3), "ns_exponent": (-0.5, base.ns_exponent)}
    result = tune(small_log, base, budget_seconds=60.0, k=5, seed=0, search_space=space)
    changes = sorted(tuple(sorted(t.spec_changes.items())) for t in result.trials)
    # A value equal to the base's is no change, and the base's own value (epochs 5) is a point of the
    # search: 3 epoch values x 2 ns_exponent values, each tried once (the base among them).
    assert changes == sorted([(), (("epochs", 2),), (("epochs", 3),), (("ns_exponent", -0.5),),
                              (("epochs", 2), ("ns_exponent", -0.5)), (("epochs", 3), ("ns_exponent", -0.5))])
    assert result.trials[0].spec_changes == {}


def test_tune_rejects_bad_arguments(small_log: list[Interaction]) -> None:
    with pytest.raises(InvalidParameter):
        tune(small_log, Item2VecSpec(**FAST), budget_seconds=-1)
    with pytest.raises(InvalidParameter):
        tune(small_log, Item2VecSpec(**FAST), budget_seconds=1, search_space={"learning_rate": (1,)})
    with pytest.raises(CorpusTooSmall):
        tune(small_log[:3], Item2VecSpec(**FAST), budget_seconds=0)


def test_tune_validates_on_each_users_second_to_last_event_by_default(
    small_log: list[Interaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Protocol ``last``: validation = leave-last-out of the training part (many more cases than a time cut),
    and the outer test events (each user's latest) are never trained or scored on."""
    scored_on: list[list[Case]] = []

    def recording_evaluate(recommender, cases, k, catalogue):  # type: ignore[no-untyped-def]
        scored_on.append(list(cases))
        return evaluate(recommender, cases, k, catalogue)

    monkeypatch.setattr(tune_module, "evaluate", recording_evaluate)
    tune(small_log, Item2VecSpec(**FAST), budget_seconds=0.0, k=5)
    outer = leave_last_out(small_log)
    inner = leave_last_out(outer.train)
    assert scored_on == [inner.cases]
    assert len(inner.cases) > len(time_split(time_split(small_log, 0.1).train, 0.1).cases)
    held_out = {(c.user, c.target, c.history[-1].ts) for c in outer.cases}
    assert not any((c.user, c.target, c.history[-1].ts) in held_out for c in inner.cases)


def test_a_trial_predicted_to_overrun_the_budget_is_not_started() -> None:
    base = Item2VecSpec(**FAST)
    done = [(base, 2.0)]
    bigger = base.model_copy(update={"epochs": base.epochs * 4})
    assert predicted_seconds(done, bigger) == pytest.approx(8.0)
    assert predicted_seconds(done, base.model_copy(update={"dim": base.dim // 2})) == pytest.approx(1.0)
    # the slowest rate seen is the one used: a conservative guess
    assert predicted_seconds([(base, 2.0), (bigger, 4.0)], base) == pytest.approx(2.0)


def test_tune_keeps_its_budget_when_every_candidate_costs_more(
    small_log: list[Interaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base trial takes its time; a search space of only much dearer specs then starts no trial."""
    clock = iter(range(0, 10_000, 5))  # every reading of the clock advances 5 s: the base trial "takes" 5 s
    monkeypatch.setattr(tune_module.time, "monotonic", lambda: float(next(clock)))
    base = Item2VecSpec(**FAST)
    space = {"epochs": (base.epochs * 10, base.epochs * 20)}
    result = tune(small_log, base, budget_seconds=30.0, k=5, search_space=space)
    assert [t.spec_changes for t in result.trials] == [{}]
