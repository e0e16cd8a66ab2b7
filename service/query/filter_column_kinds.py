"""The typed sub-columns of :class:`~service.query.filter_columns.MetadataColumns`, one per JSON type.

Split from :mod:`.filter_columns` (which holds the slots, the writes and the
filter evaluation) to keep each module readable; the layout and the
semantics are described there. Each column has one array cell per slot and
the same small interface: ``resize`` (grow to the slot capacity), ``clear``
(slots become missing), ``put`` (slots get values of the column's type),
``take`` (slot compaction: keep these slots, renumbered by ``remap``),
``present`` and its tests (``eq``, ``range``, ``contains``), each returning a
fresh bool mask over the first ``n`` slots.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

EXACT_INT = 2**53
"""Beyond this magnitude not every integer is a float64: such stored numbers make a field inexact."""

RANGES = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}
EQ_LOOP = 8
"""Up to this many ``in`` numbers are ORed equalities; more are one binary search per slot."""

KINDS: dict[type, str] = {bool: "b", int: "n", float: "n", str: "s", list: "a", dict: "o"}


def json_kind(value: Any) -> str | None:
    """One letter per JSON type (b, n, s, a, o), None for null; subclasses of the JSON types count too."""
    kind = KINDS.get(type(value))
    if kind is not None or value is None:
        return kind
    for t, k in KINDS.items():
        if isinstance(value, t):
            return k
    return None


def element_key(value: Any) -> tuple[str, Any] | None:
    """The typed key of an array element ``contains`` can match (a scalar), None for anything else."""
    kind = json_kind(value)
    return (kind, value) if kind in ("b", "n", "s") else None


def grown(arr: np.ndarray, size: int, fill: Any) -> np.ndarray:
    """``arr`` at least ``size`` long (doubling, so appends are amortised O(1)), new cells ``fill``."""
    if len(arr) >= size:
        return arr
    new = np.full(max(size, 2 * len(arr), 64), fill, dtype=arr.dtype)
    new[: len(arr)] = arr
    return new


def exact_float(value: int | float) -> float | None:
    """The float64 equal to ``value``, or None when no float64 is (an integer beyond 2**53 with no exact double)."""
    if isinstance(value, float) or -EXACT_INT <= value <= EXACT_INT:
        return float(value)
    try:
        f = float(value)
    except OverflowError:
        return None
    return f if f == value else None


def float_bound(op: str, value: int | float) -> tuple[str, float]:
    """A range test on float64 values equivalent to ``op value`` for an integer no float64 equals.

    The stored values are exact doubles; ``f``, the double nearest ``value``, has
    no double strictly between it and ``value``, so ``x > value`` is ``x >= f``
    when ``f`` rounded up and ``x > f`` when it rounded down (and so on). An
    integer beyond every double is +-inf, which no stored number reaches.
    """
    exact = exact_float(value)
    if exact is not None:
        return op, exact
    try:
        f = float(value)
    except OverflowError:
        return op, math.inf if value > 0 else -math.inf
    if f > value:
        return {"gt": "gte", "gte": "gte", "lt": "lt", "lte": "lt"}[op], f
    return {"gt": "gt", "gte": "gt", "lt": "lte", "lte": "lte"}[op], f



def _any_equal(column: np.ndarray, values: Sequence[Any]) -> np.ndarray:
    """``column == v`` ORed over a few values (cheaper than a lookup table up to ``EQ_LOOP`` of them)."""
    mask = np.zeros(len(column), dtype=bool)
    for value in values:
        mask |= column == value
    return mask

class Numbers:
    """float64 values, NaN where the field is missing or not a number; slots holding big integers."""

    def __init__(self, capacity: int) -> None:
        self.values = np.full(capacity, np.nan)
        self.inexact: set[int] = set()

    def resize(self, capacity: int) -> None:
        self.values = grown(self.values, capacity, np.nan)

    def clear(self, slots: np.ndarray) -> None:
        self.values[slots] = np.nan
        if self.inexact:
            self.inexact.difference_update(slots.tolist())

    def put(self, slots: list[int], values: list[Any]) -> None:
        floats = []
        for slot, v in zip(slots, values):
            if isinstance(v, int) and not -EXACT_INT <= v <= EXACT_INT:
                self.inexact.add(slot)
                try:
                    v = float(v)
                except OverflowError:
                    v = math.inf if v > 0 else -math.inf  # never NaN: the field is present
            floats.append(v)
        self.values[np.asarray(slots, dtype=np.int64)] = floats

    def take(self, keep: np.ndarray, remap: np.ndarray) -> None:
        self.values = self.values[keep]
        self.inexact = {int(remap[s]) for s in self.inexact}

    def present(self, n: int) -> np.ndarray:
        return ~np.isnan(self.values[:n])

    def eq(self, n: int, values: Sequence[Any]) -> np.ndarray:
        floats = sorted({f for f in map(exact_float, values) if f is not None})
        column = self.values[:n]
        if len(floats) <= EQ_LOOP:
            return _any_equal(column, floats)
        table = np.asarray(floats)
        at = np.minimum(np.searchsorted(table, column), len(table) - 1)  # NaN sorts last: never equal
        return table[at] == column

    def range(self, n: int, op: str, value: Any) -> np.ndarray:
        op, bound = float_bound(op, value)
        return RANGES[op](self.values[:n], bound)  # type: ignore[no-any-return]


class Strings:
    """int32 codes (-1 missing) into ``uniques``; while ``ordered``, code order is code point order."""

    def __init__(self, capacity: int) -> None:
        self.codes = np.full(capacity, -1, dtype=np.int32)
        self.uniques: list[str] = []
        self.index: dict[str, int] = {}
        self.ordered = True

    def resize(self, capacity: int) -> None:
        self.codes = grown(self.codes, capacity, -1)

    def clear(self, slots: np.ndarray) -> None:
        self.codes[slots] = -1

    def _code(self, value: str) -> int:
        code = self.index.get(value)
        if code is None:
            code = len(self.uniques)
            if self.uniques and value < self.uniques[-1]:
                self.ordered = False  # re-sorted at the next range query, not once per new value
            self.uniques.append(value)
            self.index[value] = code
        return code

    def put(self, slots: list[int], values: list[Any]) -> None:
        self.codes[np.asarray(slots, dtype=np.int64)] = [self._code(v) for v in values]

    def take(self, keep: np.ndarray, remap: np.ndarray) -> None:
        self.codes = self.codes[keep]

    def prepare(self, n: int) -> None:
        """Sort the dictionary (and drop values no slot uses) when a new value broke the order or it bloated."""
        if self.ordered and len(self.uniques) <= 2 * n + 1024:
            return
        used = np.zeros(len(self.uniques) + 1, dtype=bool)
        used[self.codes] = True  # -1 (missing) lands on the extra last cell
        order = sorted(np.flatnonzero(used[:-1]).tolist(), key=self.uniques.__getitem__)
        remap = np.full(len(self.uniques) + 1, -1, dtype=np.int32)
        remap[order] = np.arange(len(order), dtype=np.int32)
        self.codes = remap[self.codes]  # remap[-1] is -1: missing stays missing
        self.uniques = [self.uniques[i] for i in order]
        self.index = {v: i for i, v in enumerate(self.uniques)}
        self.ordered = True

    def present(self, n: int) -> np.ndarray:
        return self.codes[:n] >= 0

    def eq(self, n: int, values: Sequence[Any]) -> np.ndarray:
        codes = [c for c in (self.index.get(v) for v in values) if c is not None]
        column = self.codes[:n]
        if len(codes) <= EQ_LOOP:
            return _any_equal(column, codes)
        table = np.zeros(len(self.uniques) + 1, dtype=bool)
        table[codes] = True
        # -1 (missing) read as uint32 is huge and clips to the extra last cell, False; a clipped
        # take is twice as fast as fancy indexing, which checks every index for a negative
        return np.take(table, column.view(np.uint32), mode="clip")

    def range(self, n: int, op: str, value: str) -> np.ndarray:
        self.prepare(n)
        codes = self.codes[:n]
        if op in ("gt", "gte"):
            low = (bisect.bisect_right if op == "gt" else bisect.bisect_left)(self.uniques, value)
            return codes >= low  # type: ignore[no-any-return]
        high = (bisect.bisect_left if op == "lt" else bisect.bisect_right)(self.uniques, value)
        return (codes >= 0) & (codes < high)  # type: ignore[no-any-return]


class Flags:
    """int8 per slot, -1 missing: booleans (0 / 1) and objects (1, only ever asked ``exists``)."""

    def __init__(self, capacity: int) -> None:
        self.values = np.full(capacity, -1, dtype=np.int8)

    def resize(self, capacity: int) -> None:
        self.values = grown(self.values, capacity, -1)

    def clear(self, slots: np.ndarray) -> None:
        self.values[slots] = -1

    def put(self, slots: list[int], values: list[Any]) -> None:
        self.values[np.asarray(slots, dtype=np.int64)] = [1 if v else 0 for v in values]  # objects: any flag

    def take(self, keep: np.ndarray, remap: np.ndarray) -> None:
        self.values = self.values[keep]

    def present(self, n: int) -> np.ndarray:
        return self.values[:n] >= 0

    def eq(self, n: int, values: Sequence[Any]) -> np.ndarray:
        wanted = {1 if v else 0 for v in values}
        if len(wanted) == 2:
            return self.present(n)
        return self.values[:n] == wanted.pop()  # type: ignore[no-any-return]


class Arrays:
    """Array fields: presence, and an element log (slot, typed element code) with cached postings.

    A slot's elements are contiguous in the log (``start``, ``length``); a rewrite
    tombstones them (code -1) and appends the new ones, and the log is compacted
    when half of it is tombstones. ``postings[code]`` is the sorted slots holding
    that element, cut from the log on first use and dropped when a write touches it.
    """

    def __init__(self, capacity: int, compact_min: int) -> None:
        self.present_ = np.zeros(capacity, dtype=bool)
        self.start = np.zeros(capacity, dtype=np.int64)
        self.length = np.zeros(capacity, dtype=np.int32)
        self.elem_slot = np.zeros(0, dtype=np.int32)
        self.elem_code = np.zeros(0, dtype=np.int32)
        self.used = 0
        self.dead = 0
        self.keys: dict[tuple[str, Any], int] = {}
        self.postings: dict[int, np.ndarray] = {}
        self.compact_min = compact_min

    def resize(self, capacity: int) -> None:
        self.present_ = grown(self.present_, capacity, False)
        self.start = grown(self.start, capacity, 0)
        self.length = grown(self.length, capacity, 0)

    def clear(self, slots: np.ndarray) -> None:
        holding = slots[self.length[slots] > 0]
        for slot in holding.tolist():
            start, length = int(self.start[slot]), int(self.length[slot])
            old = self.elem_code[start : start + length]
            for code in np.unique(old).tolist():
                self.postings.pop(code, None)
            old[:] = -1
            self.dead += length
        self.length[holding] = 0
        self.present_[slots] = False

    def put(self, slots: list[int], values: list[Any]) -> None:
        new_slots: list[int] = []
        new_codes: list[int] = []
        starts: list[int] = []
        lengths: list[int] = []
        keys, kinds = self.keys, KINDS
        for slot, array in zip(slots, values):
            starts.append(self.used + len(new_codes))
            before = len(new_codes)
            for element in array:
                kind = kinds.get(type(element)) or json_kind(element)
                if kind is None or kind == "a" or kind == "o":
                    continue  # null, a nested array or object: no scalar 'contains' can match it
                key = (kind, element)
                code = keys.get(key)
                if code is None:
                    code = keys[key] = len(keys)
                new_slots.append(slot)
                new_codes.append(code)
            lengths.append(len(new_codes) - before)
        where = np.asarray(slots, dtype=np.int64)
        self.start[where] = starts
        self.length[where] = lengths
        for code in set(new_codes) if self.postings else ():
            self.postings.pop(code, None)
        self.present_[where] = True
        end = self.used + len(new_codes)
        self.elem_slot = grown(self.elem_slot, end, 0)
        self.elem_code = grown(self.elem_code, end, -1)
        self.elem_slot[self.used : end] = new_slots
        self.elem_code[self.used : end] = new_codes
        self.used = end
        if self.dead > self.compact_min and 2 * self.dead > self.used:
            self._compact_log()

    def _compact_log(self) -> None:
        """Drop tombstones and elements no slot holds any more (their codes are renumbered)."""
        codes = self.elem_code[: self.used]
        live = codes >= 0
        new_index = np.cumsum(live) - 1
        holding = np.flatnonzero(self.length > 0)
        self.start[holding] = new_index[self.start[holding]]
        in_use = np.unique(codes[live])
        remap = np.full(len(self.keys), -1, dtype=np.int32)
        remap[in_use] = np.arange(len(in_use), dtype=np.int32)
        self.elem_slot = self.elem_slot[: self.used][live]
        self.elem_code = remap[codes[live]]
        self.keys = {key: int(remap[c]) for key, c in self.keys.items() if remap[c] >= 0}
        self.used, self.dead = len(self.elem_code), 0
        self.postings.clear()

    def take(self, keep: np.ndarray, remap: np.ndarray) -> None:
        self.present_, self.start, self.length = self.present_[keep], self.start[keep], self.length[keep]
        live = self.elem_code[: self.used] >= 0
        slots = self.elem_slot[: self.used]
        slots[live] = remap[slots[live]]  # dead slots' elements are tombstones already
        self.postings.clear()
        if self.dead:
            self._compact_log()  # the slots are being rewritten anyway: drop the tombstones too

    def present(self, n: int) -> np.ndarray:
        return self.present_[:n].copy()

    def contains(self, n: int, value: Any) -> np.ndarray:
        """The slots whose array holds ``value``. An element held by many slots is cached as a mask rather
        than a slot list (once the list would take more bytes than the mask): at 1M documents an element
        in half of them cost 1.7 ms a query to scatter back into a mask, a copy of the cached one 0.05."""
        mask = np.zeros(n, dtype=bool)
        key = element_key(value)
        code = self.keys.get(key) if key is not None else None
        if code is None:
            return mask
        posting = self.postings.get(code)
        if posting is None:
            hits = np.flatnonzero(self.elem_code[: self.used] == code)
            posting = np.unique(self.elem_slot[hits])
            if len(posting) * posting.itemsize > n:
                as_mask = np.zeros(n, dtype=bool)
                as_mask[posting] = True
                posting = as_mask
            self.postings[code] = posting
        if posting.dtype == np.bool_:  # slots added since hold no such element (adding one drops the cache)
            width = min(n, len(posting))
            mask[:width] = posting[:width]
        else:
            mask[posting] = True
        return mask


Column = Numbers | Strings | Flags | Arrays
