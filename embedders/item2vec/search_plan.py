"""The order in which :func:`embedders.item2vec.tune.tune` tries specs: a local search around the base.

Random draws that change every parameter at once land far from a good base spec (on
MovieLens 100k, 40 such draws around the defaults never beat them, many scored near
zero). The plan instead walks from the base one parameter at a time:

1. **Neighbourhood pass.** Every one-parameter move from the current centre to a
   neighbouring value (the values next to the centre's in the search space's order:
   ``window`` 3 -> 2 and 5, ``epochs`` 20 -> 10 and 40, ...) is tried, in the search
   space's order.
2. **Accept and combine.** A move is accepted when it beats the centre by more than
   the noise margin (nDCG, see :func:`beats`); the best accepted move of each parameter
   is kept, and when two or more parameters improved, their combination is tried too.
   The best of these becomes the new centre and the next pass starts from it (so a
   parameter that moved keeps going in the same direction: 5 -> 8 -> 12).
3. **Fallback.** Once a pass accepts nothing, the neighbourhood is exhausted: the plan
   draws random change sets around the centre (each parameter redrawn with a small
   probability), and a draw that beats the centre starts a new neighbourhood pass.
   Draws never repeat a tried set and stop when every distinct set has been tried.

The plan only proposes; the caller trains, scores and reports back
(:meth:`SearchPlan.report`), or says a proposal was not run (:meth:`SearchPlan.skip`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

Changes = dict[str, Any]
Key = tuple[tuple[str, Any], ...]
Score = tuple[float, float]  # (nDCG, HR): the ranking, as tune's


def beats(score: Score, other: Score, margin: float) -> bool:
    """Whether ``score`` beats ``other`` by more than ``margin`` in nDCG (margin 0: any gain; HR breaks a tie)."""
    if margin > 0:
        return score[0] - other[0] > margin
    return score > other


def neighbours(values: Sequence[Any], current: Any) -> list[Any]:
    """The values next to ``current`` in ``values`` (in its order); the nearest on each side if it is not listed."""
    values = list(values)
    if current in values:
        i = values.index(current)
        return [values[j] for j in (i - 1, i + 1) if 0 <= j < len(values)]
    numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if isinstance(current, (int, float)) and not isinstance(current, bool) and numeric:
        below = [v for v in numeric if v < current]
        above = [v for v in numeric if v > current]
        return ([max(below)] if below else []) + ([min(above)] if above else [])
    return values  # a categorical value not listed: every listed one is a neighbour


class SearchPlan:
    """Proposes change sets (relative to ``base``) in local-search order; see the module docstring."""

    def __init__(self, base: Mapping[str, Any], space: Mapping[str, Sequence[Any]], rng: random.Random,
                 margin: float = 0.0) -> None:
        self.base = dict(base)
        self.space = {k: tuple(v) for k, v in space.items()}
        self.keys = list(self.space)
        self.rng = rng
        self.margin = margin
        self.scores: dict[Key, Score | None] = {}  # tried (None: failed to train)
        self.seen: set[Key] = {()}  # proposed (tried or skipped); () is the base, run before the plan
        self.centre: Changes = {}
        self.phase = "neighbourhood"
        self._queue: list[Changes] = []
        self._pass: list[tuple[str, Changes]] = []  # this pass's one-parameter moves (key, changes)
        self._combined = False
        self._random: Iterator[Changes] = iter(())
        # Distinct change sets there are: per key, any listed value, plus the base's own if it is not listed.
        self.size = math.prod(len(set(self.space[k]) | {self.base[k]}) for k in self.keys)
        self._fill_pass()

    # -- bookkeeping ------------------------------------------------------------------------------

    def key(self, changes: Mapping[str, Any]) -> Key:
        """Canonical form: only values that differ from the base, sorted."""
        return tuple(sorted((k, v) for k, v in changes.items() if v != self.base[k]))

    def _value(self, changes: Mapping[str, Any], k: str) -> Any:
        return changes.get(k, self.base[k])

    def _changes(self, centre: Mapping[str, Any], **update: Any) -> Changes:
        merged = {**centre, **update}
        return {k: v for k, v in merged.items() if v != self.base[k]}

    def score(self, changes: Mapping[str, Any]) -> Score | None:
        return self.scores.get(self.key(changes))

    def report(self, changes: Mapping[str, Any], score: Score | None) -> None:
        """A proposal's validation score (``None``: it could not be trained)."""
        self.scores[self.key(changes)] = score
        if self.phase == "random" and score is not None:
            centre = self.score(self.centre)
            if centre is None or beats(score, centre, self.margin):
                self.centre = dict(changes)  # a draw beat the centre: search its neighbourhood
                self.phase = "neighbourhood"
                self._fill_pass()

    def skip(self, changes: Mapping[str, Any]) -> None:
        """A proposal that was not run (it would not fit the budget); it is not proposed again."""
        self.seen.add(self.key(changes))

    # -- the plan ---------------------------------------------------------------------------------

    def _fill_pass(self) -> None:
        self._pass = []
        self._combined = False
        for k in self.keys:
            for v in neighbours(self.space[k], self._value(self.centre, k)):
                changes = self._changes(self.centre, **{k: v})
                if self.key(changes) not in self.seen:
                    self.seen.add(self.key(changes))
                    self._pass.append((k, changes))
        self._queue = [changes for _, changes in self._pass]

    def _end_pass(self) -> bool:
        """Accept the pass's moves that beat the centre; True when the centre moved (a new pass is queued)."""
        centre = self.score(self.centre)
        if centre is None:
            return False
        best_per_key: dict[str, tuple[Score, Changes]] = {}
        for k, changes in self._pass:
            s = self.score(changes)
            if s is not None and beats(s, centre, self.margin) and (k not in best_per_key or s > best_per_key[k][0]):
                best_per_key[k] = (s, changes)
        if not best_per_key:
            return False
        if len(best_per_key) >= 2 and not self._combined:
            self._combined = True
            update = {k: self._value(ch, k) for k, (_, ch) in best_per_key.items()}
            combo = self._changes(self.centre, **update)
            if self.key(combo) not in self.seen:
                self.seen.add(self.key(combo))
                self._queue = [combo]
                self._pass.append(("+", combo))
                return True  # wait for the combination's score before moving the centre
        scored = [(s, ch) for _, ch in self._pass if (s := self.score(ch)) is not None]
        self.centre = dict(max((sc for sc in scored if beats(sc[0], centre, self.margin)), key=lambda sc: sc[0])[1])
        self._fill_pass()
        return True

    def _draws(self) -> Iterator[Changes]:
        """Random change sets around the centre: each parameter redrawn with probability 2 / parameters."""
        p = min(1.0, 2.0 / max(1, len(self.keys)))
        misses = 0
        while len(self.seen) < self.size and misses < 1000:
            if self.phase != "random":
                return
            redraw = [k for k in self.keys if self.rng.random() < p] or [self.rng.choice(self.keys)]
            changes = self._changes(self.centre, **{k: self.rng.choice(self.space[k]) for k in redraw})
            if self.key(changes) in self.seen:
                misses += 1
                continue
            misses = 0
            self.seen.add(self.key(changes))
            yield changes

    def __iter__(self) -> Iterator[Changes]:
        return self

    def __next__(self) -> Changes:
        while True:
            if self.phase == "neighbourhood":
                if self._queue:
                    return self._queue.pop(0)
                if self._end_pass():
                    continue
                self.phase = "random"
                self._random = self._draws()
            changes = next(self._random, None)
            if changes is None:
                raise StopIteration  # every distinct change set has been proposed
            return changes
