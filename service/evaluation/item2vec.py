"""Offline evaluation and tuning of item2vec on a collection's own interactions.

The glue between the SQL interactions of an ``items`` collection and
:mod:`embedders.item2vec.evaluate` / :mod:`embedders.item2vec.tune`, shared by
``vecdex item2vec evaluate`` and ``vecdex item2vec tune``. Both train fresh models
on the part of the log before a time cutoff, never a space's served model: that
one was trained on the whole log, test events included, so scoring it on them
would measure memory, not prediction.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from embedders.base import NullProgress, Progress
from embedders.errors import CorpusTooSmall
from embedders.item2vec.embedder import Item2VecEmbedder
from embedders.item2vec.evaluate import DEFAULT_HALF_LIFE, Metrics, compare, leave_last_out, time_split
from embedders.item2vec.sequences import Interaction
from embedders.item2vec.spec import Item2VecSpec

from ..store.db import Database
from ..errors import InvalidInput, NotSupported
from ..store.interactions import load_interactions, require_items
from ..store.models import Space
from ..query.query_path import check_k
from ..store.repository import get_collection, get_space

FEW_CASES = 30
"""Below this many test cases a report says its figures are noisy (one hit moves HR@10 by 3+ points)."""

Protocol = Literal["time", "last"]
"""``time``: one global cutoff, each test user's last event after it (nothing after the cutoff is trained on).
``last``: per-user leave-last-out, every user's latest event held out and everything else trained on (the
usual protocol of recommendation papers; also scored against the adjacent-pairs baseline)."""

NOT_PARAMETERS = frozenset({"type", "workers"})
"""Spec fields left out of a suggested ``space create`` command (the type is ``-e``; threads are the machine's)."""


@dataclass(frozen=True)
class Source:
    """What a report trains on: the collection's log and the spec (a space's, or defaults) with overrides."""

    collection: str
    collection_id: int
    space: str | None
    spec: Item2VecSpec
    interactions: list[Interaction]


@dataclass(frozen=True)
class EvaluationReport:
    collection: str
    space: str | None
    spec: Item2VecSpec
    k: int
    test_fraction: float
    interactions: int
    train_interactions: int
    cutoff: float
    cases: int
    train_seconds: float
    methods: dict[str, Metrics]
    protocol: Protocol = "time"

    @property
    def few_cases(self) -> bool:
        return self.cases < FEW_CASES

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "space": self.space,
            "spec": self.spec.model_dump(mode="json"),
            "k": self.k,
            "protocol": self.protocol,
            "test_fraction": self.test_fraction if self.protocol == "time" else None,
            "interactions": self.interactions,
            "train_interactions": self.train_interactions,
            "cutoff": self.cutoff if math.isfinite(self.cutoff) else None,
            "cutoff_iso": iso(self.cutoff) if math.isfinite(self.cutoff) else None,
            "cases": self.cases,
            "train_seconds": self.train_seconds,
            "methods": {name: m.as_dict() for name, m in self.methods.items()},
        }


@dataclass(frozen=True)
class TuneReport:
    collection: str
    space: str | None
    base_spec: Item2VecSpec
    best_spec: Item2VecSpec
    k: int
    budget_seconds: float
    interactions: int
    seconds: float
    trials: list[dict[str, Any]] = field(default_factory=list)  # in the order run; the first is the base spec

    def best_changes(self) -> dict[str, Any]:
        """Fields where the best spec differs from the base spec."""
        base, best = self.base_spec.model_dump(), self.best_spec.model_dump()
        return {k: v for k, v in best.items() if base.get(k) != v}

    def create_params(self) -> dict[str, Any]:
        """``-p`` parameters that make a space with the best spec (fields differing from the defaults)."""
        return spec_params(self.best_spec)

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "space": self.space,
            "k": self.k,
            "budget_seconds": self.budget_seconds,
            "interactions": self.interactions,
            "seconds": self.seconds,
            "base_spec": self.base_spec.model_dump(mode="json"),
            "best_spec": self.best_spec.model_dump(mode="json"),
            "best_changes": self.best_changes(),
            "trials": self.trials,
            "create_command": create_command(self.collection, self.best_spec),
        }


def iso(ts: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def spec_params(spec: Item2VecSpec) -> dict[str, Any]:
    default = Item2VecSpec().model_dump()
    return {k: v for k, v in spec.model_dump().items() if k not in NOT_PARAMETERS and default.get(k) != v}


def _cli_value(value: Any) -> str:
    import json
    import shlex

    text = value if isinstance(value, str) else json.dumps(value)
    return shlex.quote(text)


def param_args(spec: Item2VecSpec) -> str:
    """``-p key=value ...`` (shell-quoted) for the fields where ``spec`` differs from the defaults."""
    return " ".join(f"-p {k}={_cli_value(v)}" for k, v in spec_params(spec).items())


def create_command(collection: str, spec: Item2VecSpec, name: str = "item2vec-tuned") -> str:
    """The ``vecdex space create`` line that builds a space with this spec."""
    import shlex

    return f"vecdex space create {shlex.quote(collection)} {name} -e item2vec {param_args(spec)}".rstrip()


def load_source(
    db: Database, collection: str, space: str | None = None, overrides: Mapping[str, Any] | None = None
) -> Source:
    """The collection's interactions and the spec to train with.

    The spec is the named space's (it must be an item2vec space) or
    :class:`Item2VecSpec`'s defaults, with ``overrides`` applied on top.

    Raises:
        NotFound: no such collection or space.
        Conflict: the collection is not of kind items.
        InvalidInput: the space is not an item2vec space.
        CorpusTooSmall: the collection has no interactions.
        pydantic.ValidationError: an override the spec refuses.
    """
    with db.sessions() as session:
        row = get_collection(session, collection)
        require_items(row)
        base: dict[str, Any] = {}
        space_name = None
        if space is not None:
            space_row: Space = get_space(session, row, space)
            if space_row.embedder_type != "item2vec":
                raise NotSupported(
                    f"space {space!r} is a {space_row.embedder_type} space; evaluation and tuning need an item2vec "
                    "space (or none: item2vec defaults, changed with -p key=value)",
                    field="space",
                )
            base = dict(space_row.embedder_spec)
            space_name = space_row.name
        collection_id = row.id
    spec = Item2VecSpec.model_validate({**base, **dict(overrides or {}), "type": "item2vec"})
    events = load_interactions(db, collection_id)
    if not events:
        raise CorpusTooSmall(
            f"collection {collection!r} has no interactions; record some first (vecdex ingest-interactions, "
            "or POST /collections/{name}/interactions)",
            field="interactions",
        )
    return Source(collection=collection, collection_id=collection_id, space=space_name, spec=spec, interactions=events)


def evaluate_source(
    source: Source,
    k: int = 10,
    test_fraction: float = 0.1,
    progress: Progress | None = None,
    *,
    half_life: float | None = DEFAULT_HALF_LIFE,
    protocol: Protocol = "time",
) -> EvaluationReport:
    """item2vec (trained on the events before the cutoff) vs popularity and co-occurrence on the same cases.

    ``protocol="last"``: per-user leave-last-out instead (:data:`Protocol`), with the
    adjacent-pairs baseline too; ``test_fraction`` is then unused.

    Raises:
        InvalidInput: ``k`` or ``test_fraction`` out of range.
        CorpusTooSmall: no test case (no user with an event after the cutoff and one before it), or
            too little before the cutoff to train on.
    """
    check_k(k, None)
    if not 0.0 < test_fraction < 1.0:
        raise InvalidInput(f"test fraction must be in (0, 1), got {test_fraction}", field="test_fraction")
    if protocol not in ("time", "last"):
        raise InvalidInput(f"unknown protocol {protocol!r}; use time or last", field="protocol")
    split = time_split(source.interactions, test_fraction) if protocol == "time" else leave_last_out(source.interactions)
    if not split.cases and protocol == "last":
        raise CorpusTooSmall(
            f"no test case in {len(source.interactions)} interactions: a case is a user with at least two events "
            "whose latest has a positive weight (record more interactions)",
            field="interactions",
        )
    if not split.cases:
        raise CorpusTooSmall(
            f"no test case in the latest {test_fraction:.0%} of {len(source.interactions)} interactions: a case is "
            "a user whose last event falls after the cutoff and who has an earlier one (record more interactions, "
            "or raise --test-fraction)",
            field="interactions",
        )
    progress = progress or NullProgress()
    seconds: list[float] = []

    def train(events: list[Interaction]) -> Item2VecEmbedder:
        t0 = time.perf_counter()
        embedder = Item2VecEmbedder(source.spec).fit_log(events, progress)
        seconds.append(time.perf_counter() - t0)
        return embedder

    methods = compare(train, split, k, half_life=half_life, adjacent=protocol == "last")
    return EvaluationReport(
        collection=source.collection,
        space=source.space,
        spec=source.spec,
        k=k,
        test_fraction=test_fraction,
        interactions=len(source.interactions),
        train_interactions=len(split.train),
        cutoff=split.cutoff,
        cases=len(split.cases),
        train_seconds=seconds[0] if seconds else 0.0,
        methods=methods,
        protocol=protocol,
    )


def tune_source(
    source: Source,
    budget_seconds: float = 60.0,
    k: int = 10,
    progress: Progress | None = None,
    *,
    seed: int = 0,
    test_fraction: float = 0.1,
) -> TuneReport:
    """:func:`embedders.item2vec.tune.tune` around the source's spec; trials as plain dicts (base first)."""
    from embedders.item2vec.tune import tune

    check_k(k, None)
    if not budget_seconds >= 0:
        raise InvalidInput(f"budget must be >= 0 seconds, got {budget_seconds}", field="budget")
    t0 = time.perf_counter()
    result = tune(
        source.interactions, source.spec, budget_seconds, k, seed, progress, test_fraction=test_fraction
    )
    trials = [
        {"trial": i, "changes": t.spec_changes, **t.metrics.as_dict(), "seconds": t.seconds}
        for i, t in enumerate(result.trials)
    ]
    return TuneReport(
        collection=source.collection,
        space=source.space,
        base_spec=source.spec,
        best_spec=result.best_spec,
        k=k,
        budget_seconds=budget_seconds,
        interactions=len(source.interactions),
        seconds=time.perf_counter() - t0,
        trials=trials,
    )
