"""Local search of item2vec's training parameters within a time budget.

Every trial trains on a *validation* split carved out of the training part of the
outer split, and is scored on that split's cases; the test cases of the outer split
are never looked at, so the chosen spec can still be judged honestly on them
afterwards. Trials are ranked by nDCG@k, ties broken by HR@k.

Protocol ``last`` (the default): the outer split holds out each user's latest event
(:func:`~embedders.item2vec.evaluate.leave_last_out`) and validation each user's
second-to-last, so every user with three events is a validation case. With
``time`` both splits are cut at one timestamp quantile, which on a 100k-rating log
left 81 validation cases: too few to tell settings apart (most trials scored zero).

The search (:mod:`embedders.item2vec.search_plan`): the base spec first, then the base
again with a second training seed (the *noise probe*: how far two seeds of one spec
score apart), then one-parameter moves to neighbouring values, accepted when they beat
the centre by more than the noise margin and combined; random draws around the centre
only once the neighbourhood is exhausted. A spec other than the base is chosen only
when its validation nDCG beats the base's by more than the margin *and*, retrained with
the second seed (the *confirmation*), it beats the base's second seed too, with the mean
of its two seeds ahead of the base's two-seed mean by more than ``margin / sqrt(2)``. Random search, which the tuner did
before, changed every parameter at once: on MovieLens 100k its 40 draws in 150 s
never beat the defaults.

The budget is kept, not just checked: a trial whose predicted time (the slowest rate
seen so far, seconds per unit of ``epochs x (negative + 1) x window x dim``) would
end past the budget, with the confirmation's predicted time kept in reserve, is not
started; the base spec always runs.
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
from embedders.item2vec.search_plan import SearchPlan, beats
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
"""Values tried per parameter, in order: a move goes from a value to its neighbours in this order."""

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
    """The chosen spec, every search trial in the order run (the first is the base spec) and the reruns.

    ``reruns`` are specs retrained with a second seed (``spec_changes`` then holds
    ``seed``): the base (the noise probe) and, when there is one, the finalist (its
    confirmation). ``margin`` is the nDCG gain a change had to beat; ``chosen`` the
    index in ``trials`` of the chosen spec's trial (0: the base).
    """

    best_spec: Item2VecSpec
    trials: list[Trial] = field(default_factory=list)
    reruns: list[Trial] = field(default_factory=list)
    margin: float = 0.0
    chosen: int = 0

    @property
    def best(self) -> Trial:
        """The chosen spec's search trial (the base's when no change was confirmed)."""
        return self.trials[self.chosen]


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


def _mean(a: Trial, b: Trial) -> tuple[float, float]:
    return ((a.metrics.ndcg + b.metrics.ndcg) / 2, (a.metrics.hit_rate + b.metrics.hit_rate) / 2)


def _second_seed(spec: Item2VecSpec) -> int:
    return spec.seed + 1 if spec.seed < 2**31 - 1 else spec.seed - 1


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
    min_gain: float | None = None,
) -> TuneResult:
    """Local search over ``search_space`` (default :data:`SEARCH_SPACE`) around ``base_spec``.

    The base spec is always trained first, so at least one trial comes back even
    with a zero budget; no new trial starts once ``budget_seconds`` have passed (a
    running one finishes). ``max_trials`` caps the search trials (the base counts; the
    reruns do not). ``min_gain``: the nDCG gain a change must beat; ``None`` (default):
    the noise probe's seed-to-seed difference, at least one case's worth (``1 / cases``).
    ``seed`` seeds the random fallback draws. Progress: phase "tune" counted in seconds of
    the budget, with ``trial``, ``best_ndcg`` and ``best_hit_rate`` noted after each trial.

    Raises:
        InvalidParameter: a bad budget, ``k``, fraction or ``min_gain``, or an unknown search parameter.
        CorpusTooSmall: the validation split has no case, or its training part
            cannot train the base spec.
    """
    if not budget_seconds >= 0:
        raise InvalidParameter(f"budget_seconds must be >= 0, got {budget_seconds}", field="budget_seconds")
    if k < 1:
        raise InvalidParameter(f"k must be at least 1, got {k}", field="k")
    if min_gain is not None and not min_gain >= 0:
        raise InvalidParameter(f"min_gain must be >= 0, got {min_gain}", field="min_gain")
    base = base_spec or Item2VecSpec()
    space = dict(SEARCH_SPACE if search_space is None else search_space)
    unknown = sorted(set(space) - set(Item2VecSpec.model_fields))
    if unknown:
        raise InvalidParameter(f"unknown search parameter(s): {', '.join(unknown)}", field="search_space")
    if base.mode == "basket":
        space.pop("window", None)  # basket: the context is the whole basket
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
    total = max(1, math.ceil(budget_seconds))
    progress.start("tune", total)
    reported = 0
    trials: list[Trial] = []
    reruns: list[Trial] = []
    done: list[tuple[Item2VecSpec, float]] = []

    def spec_of(changes: Mapping[str, Any]) -> Item2VecSpec:
        return Item2VecSpec.model_validate({**base.model_dump(), **changes})

    def fits(*specs: Item2VecSpec) -> bool:
        return not done or time.monotonic() - started + sum(predicted_seconds(done, s) for s in specs) <= budget_seconds

    def train(spec: Item2VecSpec, changes: dict[str, Any]) -> Trial:
        t0 = time.monotonic()
        embedder = Item2VecEmbedder(spec).fit_log(inner.train)
        metrics = evaluate(VectorRecommender.from_embedder(embedder, half_life), inner.cases, k, catalogue)
        trial = Trial(spec_changes=changes, metrics=metrics, seconds=time.monotonic() - t0)
        done.append((spec, trial.seconds))
        return trial

    def tick() -> float:
        nonlocal reported
        elapsed = time.monotonic() - started
        step = min(total, math.floor(elapsed)) - reported
        if step > 0:
            progress.advance(step)
            reported += step
        return elapsed

    def finalist() -> int:
        """Index of the best trial if it beats the base by the margin, else 0 (the base)."""
        top = max(range(len(trials)), key=lambda i: (_rank(trials[i]), -i))
        return top if beats(_rank(trials[top]), _rank(trials[0]), margin) else 0

    def note() -> None:
        shown = trials[finalist()]
        note_metrics(progress, trial=len(trials), best_ndcg=round(shown.metrics.ndcg, 4),
                     best_hit_rate=round(shown.metrics.hit_rate, 4))

    second = _second_seed(base)
    trials.append(train(base, {}))  # CorpusTooSmall here: nothing to tune around
    margin = min_gain if min_gain is not None else 1.0 / trials[0].metrics.cases
    note()
    more = max_trials is None or len(trials) < max_trials
    if more and tick() < budget_seconds and fits(base):
        probe = train(base.model_copy(update={"seed": second}), {"seed": second})
        reruns.append(probe)
        if min_gain is None:
            margin = max(margin, abs(probe.metrics.ndcg - trials[0].metrics.ndcg))
    plan = SearchPlan(base.model_dump(), space, random.Random(seed), margin)
    plan.report({}, _rank(trials[0]))
    skipped = 0
    while more and tick() < budget_seconds:
        changes = next(plan, None)
        if changes is None:
            break  # every distinct change set has been tried
        spec = spec_of(changes)
        current = finalist()
        reserve = [spec] + ([spec_of(trials[current].spec_changes)] if current else [])
        if not fits(spec, max(reserve, key=cost).model_copy(update={"seed": second})):
            plan.skip(changes)  # would end past the budget (confirmation kept in reserve): a cheaper one may fit
            skipped += 1
            if skipped >= MAX_SKIPPED:
                break
            continue
        skipped = 0
        try:
            trial = train(spec, dict(changes))
        except CorpusTooSmall:
            plan.report(changes, None)  # e.g. a session gap that leaves no session long enough
            continue
        trials.append(trial)
        plan.report(changes, _rank(trial))
        tick()
        note()
        more = max_trials is None or len(trials) < max_trials

    chosen = finalist()
    if chosen:  # the confirmation: the finalist with the second seed, two-seed means against the base's
        changes = trials[chosen].spec_changes
        spec = spec_of(changes).model_copy(update={"seed": second})
        check = None
        if len(reruns) == 1 and fits(spec):  # no probe ran: there is no two-seed mean of the base to beat
            try:
                check = train(spec, {**changes, "seed": second})
                reruns.append(check)
            except CorpusTooSmall:
                check = None  # the second seed cannot train it: unconfirmed, so the base spec stays
        confirmed = (
            check is not None
            and beats(_rank(check), _rank(reruns[0]), 0.0)  # better with the second seed too
            and beats(_mean(trials[chosen], check), _mean(trials[0], reruns[0]), margin / math.sqrt(2))
        )
        if not confirmed:
            chosen = 0  # not confirmed by a second seed (or it did not fit the budget): keep the base
    if reported < total:
        progress.advance(total - reported)  # the phase ends complete, whatever stopped the search
    best_spec = spec_of(trials[chosen].spec_changes)
    return TuneResult(best_spec=best_spec, trials=trials, reruns=reruns, margin=margin, chosen=chosen)
