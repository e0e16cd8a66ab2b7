"""The tuner's search: local moves from the base, the noise margin, the second-seed confirmation, the budget.

Most tests replace training and scoring with a made-up objective of the spec (fast
and exact), so the search order itself is what is checked; one trains for real on a
planted log whose base spec is deliberately bad in one parameter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from embedders import InvalidParameter
from embedders.item2vec import Interaction, Item2VecSpec, Metrics
from embedders.item2vec import tune as tune_module
from embedders.item2vec.search_plan import SearchPlan, beats, neighbours
from embedders.item2vec.synthetic import planted_log
from embedders.item2vec.tune import SEARCH_SPACE, tune

from .conftest import RecordingProgress

FAST = {"dim": 16, "epochs": 5, "workers": 1}


@pytest.fixture(scope="module")
def small_log() -> list[Interaction]:
    log, _ = planted_log(n_users=150, n_groups=4, items_per_group=12, seed=21)
    return log


Objective = Callable[[Item2VecSpec], float]


def fake_training(monkeypatch: pytest.MonkeyPatch, objective: Objective) -> list[Item2VecSpec]:
    """Training and scoring replaced: a spec's validation nDCG (and HR, twice it) is ``objective(spec)``."""
    trained: list[Item2VecSpec] = []

    class Fake:
        def __init__(self, spec: Item2VecSpec) -> None:
            self.spec = spec

        def fit_log(self, interactions: Any, progress: Any = None) -> Fake:
            trained.append(self.spec)
            return self

    class FakeRecommender:
        @staticmethod
        def from_embedder(embedder: Fake, half_life: Any) -> Fake:
            return embedder

    def fake_evaluate(recommender: Fake, cases: Any, k: int, catalogue: Any) -> Metrics:
        ndcg = objective(recommender.spec)
        return Metrics(hit_rate=2 * ndcg, mrr=ndcg, ndcg=ndcg, coverage=0.5, cases=1000)

    monkeypatch.setattr(tune_module, "Item2VecEmbedder", Fake)
    monkeypatch.setattr(tune_module, "VectorRecommender", FakeRecommender)
    monkeypatch.setattr(tune_module, "evaluate", fake_evaluate)
    return trained


def peaked(**best: Any) -> Objective:
    """0.2 at ``best``, 0.02 less per step (in SEARCH_SPACE order) away from it in each named parameter."""
    def objective(spec: Item2VecSpec) -> float:
        loss = sum(abs(SEARCH_SPACE[k].index(getattr(spec, k)) - SEARCH_SPACE[k].index(v)) for k, v in best.items())
        return 0.2 - 0.02 * loss
    return objective


# -- the plan on its own ---------------------------------------------------------------------


def test_neighbours_are_the_adjacent_values_in_the_spaces_order() -> None:
    assert neighbours((2, 3, 5, 8, 12), 3) == [2, 5]
    assert neighbours((2, 3, 5, 8, 12), 2) == [3]
    assert neighbours((2, 3, 5, 8, 12), 12) == [8]
    assert neighbours((2, 3, 5, 8, 12), 4) == [3, 5]  # not listed: the nearest on each side
    assert neighbours((2, 3), 5) == [3]
    assert neighbours((None, 30.0, 240.0), None) == [30.0]
    assert neighbours(("context", "cosine"), "context") == ["cosine"]
    assert neighbours(("a", "b"), "c") == ["a", "b"]


def test_beats_needs_more_than_the_margin() -> None:
    assert beats((0.13, 0.2), (0.12, 0.3), 0.005)
    assert not beats((0.124, 0.4), (0.12, 0.2), 0.005)
    assert beats((0.12, 0.21), (0.12, 0.2), 0.0)  # no margin: HR breaks an nDCG tie
    assert not beats((0.12, 0.2), (0.12, 0.2), 0.0)


def test_a_flat_objective_tries_every_one_parameter_move_first_then_falls_back_to_random() -> None:
    base = Item2VecSpec().model_dump()
    plan = SearchPlan(base, SEARCH_SPACE, random.Random(0))
    plan.report({}, (0.1, 0.2))
    moves = []
    for _ in range(12):
        changes = next(plan)
        moves.append(changes)
        plan.report(changes, (0.1, 0.2))
    assert moves == [{"window": 2}, {"window": 5}, {"epochs": 10}, {"epochs": 40}, {"negative": 10},
                     {"ns_exponent": -0.5}, {"ns_exponent": 0.25}, {"sample": 1e-5}, {"dim": 32}, {"dim": 128},
                     {"session_gap_minutes": 30.0}, {"scoring": "cosine"}]
    assert plan.phase == "neighbourhood"
    draw = next(plan)  # nothing improved: the neighbourhood is exhausted
    assert plan.phase == "random" and draw not in moves and draw != {}


# -- tune with a made-up objective -------------------------------------------------------------


def test_the_base_runs_first_and_a_bad_parameter_is_walked_to_its_best_value(
    small_log: list[Interaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Base window 2, the objective peaks at window 8 (three steps away): the search walks 2 -> 3 -> 5 -> 8."""
    trained = fake_training(monkeypatch, peaked(window=8))
    base = Item2VecSpec(window=2, workers=1)
    result = tune(small_log, base, budget_seconds=600.0, k=5, max_trials=60)
    assert result.trials[0].spec_changes == {} and trained[0] == base
    assert trained[1] == base.model_copy(update={"seed": base.seed + 1})  # the noise probe
    assert result.best_spec == base.model_copy(update={"window": 8})
    windows = [t.spec_changes.get("window", 2) for t in result.trials]
    assert windows.index(8) <= 1 + 12 + 11 + 11  # found within three neighbourhood passes
    # Confirmed with the second seed: the last rerun is the chosen spec with seed 2.
    assert result.reruns[-1].spec_changes == {"window": 8, "seed": base.seed + 1}
    assert result.margin == pytest.approx(1 / 1000)  # both seeds score alike here: one case's worth


def test_improvements_in_two_parameters_are_combined(
    small_log: list[Interaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_training(monkeypatch, peaked(window=5, epochs=40))
    base = Item2VecSpec(workers=1)  # window 3, epochs 20: one step off in each
    result = tune(small_log, base, budget_seconds=600.0, k=5, max_trials=40)
    assert result.best_spec == base.model_copy(update={"window": 5, "epochs": 40})
    first = [t.spec_changes for t in result.trials[:14]]
    # One pass of 12 one-parameter moves, then the combination of the two that improved.
    assert first[13] == {"window": 5, "epochs": 40}
    assert all(len(c) == 1 for c in first[1:13])


def test_a_gain_within_the_margin_is_not_taken(small_log: list[Interaction], monkeypatch: pytest.MonkeyPatch) -> None:
    fake_training(monkeypatch, lambda spec: 0.2 + (0.004 if spec.negative == 10 else 0.0))
    result = tune(small_log, Item2VecSpec(workers=1), budget_seconds=600.0, k=5, max_trials=30, min_gain=0.005)
    assert result.best_spec == Item2VecSpec(workers=1) and result.chosen == 0
    assert max(t.metrics.ndcg for t in result.trials) > result.trials[0].metrics.ndcg  # it was seen, not taken
    result = tune(small_log, Item2VecSpec(workers=1), budget_seconds=600.0, k=5, max_trials=30, min_gain=0.001)
    assert result.best_spec.negative == 10


def test_a_gain_that_a_second_seed_does_not_repeat_is_not_taken(
    small_log: list[Interaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    """epochs 40 looks better with seed 1 only: the confirmation (seed 2) rejects it and the base is kept."""
    trained = fake_training(monkeypatch, lambda spec: 0.2 + (0.05 if spec.epochs == 40 and spec.seed == 1 else 0.0))
    base = Item2VecSpec(workers=1)
    result = tune(small_log, base, budget_seconds=600.0, k=5, max_trials=30)
    assert result.best_spec == base and result.best is result.trials[0]
    assert trained[-1] == base.model_copy(update={"epochs": 40, "seed": 2})  # the confirmation ran last
    assert [r.spec_changes for r in result.reruns] == [{"seed": 2}, {"epochs": 40, "seed": 2}]


def test_the_noise_probe_sets_the_margin(small_log: list[Interaction], monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeds 1 and 2 of the base score 0.01 apart: a 0.008 gain is noise, a 0.03 gain is not."""
    def objective(spec: Item2VecSpec) -> float:
        return 0.2 + (0.01 if spec.seed == 2 else 0.0) + {10: 0.008, 20: 0.03}.get(spec.negative, 0.0)

    fake_training(monkeypatch, objective)
    space = {"negative": (5, 10)}
    result = tune(small_log, Item2VecSpec(workers=1), budget_seconds=600.0, k=5, search_space=space)
    assert result.margin == pytest.approx(0.01)
    assert result.best_spec.negative == 5
    result = tune(small_log, Item2VecSpec(workers=1), budget_seconds=600.0, k=5, search_space={"negative": (5, 20)})
    assert result.best_spec.negative == 20


def test_the_budget_is_kept_with_the_confirmation_in_reserve(
    small_log: list[Interaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial 'takes' 1 s per unit of the base's cost (a fake clock moved by training only): nothing starts
    that is predicted to end, with the finalist's confirmation, past the budget, and the confirmation fits."""
    fake_training(monkeypatch, peaked(window=12))
    base = Item2VecSpec(window=2, workers=1)
    now = [0.0]
    fit = tune_module.Item2VecEmbedder.fit_log

    def timed_fit(self: Any, interactions: Any, progress: Any = None) -> Any:
        now[0] += tune_module.cost(self.spec) / tune_module.cost(base)
        return fit(self, interactions, progress)

    monkeypatch.setattr(tune_module.Item2VecEmbedder, "fit_log", timed_fit)
    monkeypatch.setattr(tune_module.time, "monotonic", lambda: now[0])
    progress = RecordingProgress()
    budget = 40.0
    result = tune(small_log, base, budget_seconds=budget, k=5, progress=progress)
    assert result.trials[0].spec_changes == {} and result.trials[0].seconds == 1.0
    assert 3 <= len(result.trials) < 40
    assert now[0] <= budget
    assert sum(t.seconds for t in result.trials + result.reruns) == pytest.approx(now[0])
    assert result.best_spec.window > 2  # it still improved on the base within the budget
    assert result.reruns[-1].spec_changes == {**result.best.spec_changes, "seed": 2}
    assert progress.done["tune"] == progress.totals["tune"] == 40


def test_max_trials_and_a_zero_budget(small_log: list[Interaction], monkeypatch: pytest.MonkeyPatch) -> None:
    trained = fake_training(monkeypatch, peaked(window=8))
    result = tune(small_log, Item2VecSpec(window=2, workers=1), budget_seconds=600.0, k=5, max_trials=4)
    assert len(result.trials) == 4
    trained.clear()
    result = tune(small_log, Item2VecSpec(window=2, workers=1), budget_seconds=0.0, k=5)
    assert len(trained) == 1 and [t.spec_changes for t in result.trials] == [{}] and result.reruns == []
    with pytest.raises(InvalidParameter):
        tune(small_log, Item2VecSpec(**FAST), budget_seconds=1, min_gain=-0.1)


# -- real training on a planted log ----------------------------------------------------------------


def test_on_a_planted_log_a_deliberately_bad_parameter_is_fixed(small_log: list[Interaction]) -> None:
    """One epoch barely trains: the search moves epochs up and the chosen spec validates better than the base."""
    base = Item2VecSpec(dim=16, epochs=1, workers=1)
    result = tune(small_log, base, budget_seconds=60.0, k=5, search_space={"epochs": (1, 5, 20)}, max_trials=6)
    assert result.trials[1].spec_changes == {"epochs": 5}  # the one neighbour of 1
    assert result.best_spec.epochs > 1
    assert result.best.metrics.ndcg > result.trials[0].metrics.ndcg + result.margin
