"""Random search of item2vec's training parameters within a time budget.

Every trial trains on a *validation* split carved out of the training part of the
outer split, and is scored on that split's cases; the test cases of the outer split
are never looked at, so the chosen spec can still be judged honestly on them
afterwards. Trials are ranked by nDCG@k, ties broken by HR@k, then by order (the
base spec, tried first, wins a full tie).

Protocol ``last`` (the default): the outer split holds out each user's latest event
(:func:`~embedders.item2vec.evaluate.leave_last_out`) and validation each user's
second-to-last, so every user with three events is a validation case. With
``time`` both splits are cut at one timestamp quantile, which on a 100k-rating log
left 81 validation cases: too few to tell settings apart (most trials scored zero).

The budget is kept, not just checked: a trial whose predicted time (the slowest rate
seen so far, seconds per unit of ``epochs x (negative + 1) x window x dim``) would
end past the budget is not started; the base spec always runs.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from embedders.base import NullProgress, Progress, note_metrics
from embedders.errors import CorpusTooSmall, InvalidParameter
from embedders.item2vec.embedder import Item2VecEmbedder
from embedders.item2vec.evaluate import (
    DEFAULT_HALF_LIFE,
    Metrics,
    VectorRecommender,
    catalogue_of,
    evaluate,
    leave_last_out,
    time_split,
)
from embedders.item2vec.sequences import Interaction
from embedders.item2vec.spec import Item2VecSpec

SEARCH_SPACE: Mapping[str, Sequence[Any]] = {
    "window": (2, 3, 5, 8, 12),
    "epochs": (5, 10, 20, 40),
    "negative": (5, 10, 20),
    "ns_exponent": (-1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0),
    "sample": (0.0, 1e-5, 1e-4, 1e-3),
    "dim": (32, 64, 128),
    "session_gap_minutes": (None, 30.0, 240.0, 1440.0),
    "scoring": ("context", "cosine"),
}
"""Values tried per parameter (each trial draws every parameter independently)."""

MAX_SKIPPED = 50
"""Candidates in a row predicted not to fit the budget before the search stops."""


@dataclass(frozen=True)
class Trial:
    """One trained and scored spec: what differs from the base spec, its validation metrics, its time."""

    spec_changes: dict[str, Any]
    metrics: Metrics
    seconds: float


@dataclass(frozen=True)
class TuneResult:
    """The best spec found and every trial in the order run (the first is the base spec)."""

    best_spec: Item2VecSpec
    trials: list[Trial] = field(default_factory=list)

    @property
    def best(self) -> Trial:
        return max(self.trials, key=_rank)


def _rank(trial: Trial) -> tuple[float, float]:
    return (trial.metrics.ndcg, trial.metrics.hit_rate)


def cost(spec: Item2VecSpec) -> float:
    """Relative training work of a spec: what a trial's time scales with (at fixed data)."""
    window = 1 if spec.mode == "basket" else spec.window
    return float(spec.epochs * (spec.negative + 1) * window * spec.dim)


def predicted_seconds(done: Sequence[tuple[Item2VecSpec, float]], candidate: Item2VecSpec) -> float:
    """The candidate's time at the slowest rate seen so far (seconds per unit of :func:`cost`)."""
    rate = max(seconds / cost(spec) for spec, seconds in done)
    return rate * cost(candidate)


def _candidates(
    base: Item2VecSpec, space: Mapping[str, Sequence[Any]], rng: random.Random
) -> Iterable[dict[str, Any]]:
    """Distinct random change sets (values equal to the base's are dropped), base excluded."""
    keys = [k for k in space if not (k == "window" and base.mode == "basket")]  # basket: context is the basket
    options = {k: {v for v in space[k] if v != getattr(base, k)} for k in keys}
    # Distinct change sets: per key, one of its other values or no change (if the base value is listed).
    size = math.prod(len(options[k]) + (getattr(base, k) in space[k]) for k in keys)
    seen: set[tuple[tuple[str, Any], ...]] = {()}
    target = size + (0 if all(getattr(base, k) in space[k] for k in keys) else 1)  # () is seen from the start
    misses = 0
    while len(seen) < target and misses < 1000:
        changes = {k: v for k in keys if (v := rng.choice(list(space[k]))) != getattr(base, k)}
        key = tuple(sorted(changes.items()))
        if key in seen:
            misses += 1
            continue
        misses = 0
        seen.add(key)
        yield changes


def tune(
    interactions: Iterable[Interaction],
    base_spec: Item2VecSpec | None = None,
    budget_seconds: float = 300.0,
    k: int = 10,
    seed: int = 0,
    progress: Progress | None = None,
    *,
    test_fraction: float = 0.1,
    validation_fraction: float = 0.1,
    half_life: float | None = DEFAULT_HALF_LIFE,
    search_space: Mapping[str, Sequence[Any]] | None = None,
    max_trials: int | None = None,
    protocol: Literal["last", "time"] = "last",
) -> TuneResult:
    """Random search over ``search_space`` (default :data:`SEARCH_SPACE`) around ``base_spec``.

    The base spec is always trained first, so at least one trial comes back even
    with a zero budget; no new trial starts once ``budget_seconds`` have passed (a
    running one finishes). Progress: phase "tune" counted in seconds of the budget,
    with ``trial``, ``best_ndcg`` and ``best_hit_rate`` noted after each trial.

    Raises:
        InvalidParameter: a bad budget, ``k`` or fraction, or an unknown search parameter.
        CorpusTooSmall: the validation split has no case, or its training part
            cannot train the base spec.
    """
    if not budget_seconds >= 0:
        raise InvalidParameter(f"budget_seconds must be >= 0, got {budget_seconds}", field="budget_seconds")
    if k < 1:
        raise InvalidParameter(f"k must be at least 1, got {k}", field="k")
    base = base_spec or Item2VecSpec()
    space = dict(SEARCH_SPACE if search_space is None else search_space)
    unknown = sorted(set(space) - set(Item2VecSpec.model_fields))
    if unknown:
        raise InvalidParameter(f"unknown search parameter(s): {', '.join(unknown)}", field="search_space")
    progress = progress or NullProgress()

    if protocol == "last":
        outer = leave_last_out(interactions)
        inner = leave_last_out(outer.train)
    else:
        outer = time_split(interactions, test_fraction)
        inner = time_split(outer.train, validation_fraction)
    if not inner.cases:
        raise CorpusTooSmall(
            "the validation split has no user with an event after its cutoff and an earlier one", field="interactions"
        )
    catalogue = catalogue_of(inner)

    started = time.monotonic()
    progress.start("tune", max(1, math.ceil(budget_seconds)))
    reported = 0
    trials: list[Trial] = []
    best: Trial | None = None
    rng = random.Random(seed)
    plan = _candidates(base, space, rng)
    skipped = 0
    changes: dict[str, Any] | None = {}
    done: list[tuple[Item2VecSpec, float]] = []
    while changes is not None:
        spec = Item2VecSpec.model_validate({**base.model_dump(), **changes})
        if done and time.monotonic() - started + predicted_seconds(done, spec) > budget_seconds:
            skipped += 1  # would end past the budget: a cheaper candidate may still fit
            if skipped >= MAX_SKIPPED:
                break
            changes = next(plan, None)
            continue
        skipped = 0
        t0 = time.monotonic()
        try:
            embedder = Item2VecEmbedder(spec).fit_log(inner.train)
        except CorpusTooSmall:
            if not trials:
                raise  # the base spec cannot train here: nothing to tune around
            changes = next(plan, None)  # e.g. a session gap that leaves no session long enough
            continue
        metrics = evaluate(VectorRecommender.from_embedder(embedder, half_life), inner.cases, k, catalogue)
        trial = Trial(spec_changes=dict(changes), metrics=metrics, seconds=time.monotonic() - t0)
        trials.append(trial)
        done.append((spec, trial.seconds))
        if best is None or _rank(trial) > _rank(best):
            best = trial
        elapsed = time.monotonic() - started
        step = min(math.ceil(budget_seconds), math.floor(elapsed)) - reported
        if step > 0:
            progress.advance(step)
            reported += step
        note_metrics(progress, trial=len(trials), best_ndcg=round(best.metrics.ndcg, 4),
                     best_hit_rate=round(best.metrics.hit_rate, 4))
        if elapsed >= budget_seconds or (max_trials is not None and len(trials) >= max_trials):
            break
        changes = next(plan, None)
    assert best is not None
    total = max(1, math.ceil(budget_seconds))
    if reported < total:
        progress.advance(total - reported)  # the phase ends complete, whatever stopped the search
    best_spec = Item2VecSpec.model_validate({**base.model_dump(), **best.spec_changes})
    return TuneResult(best_spec=best_spec, trials=trials)
