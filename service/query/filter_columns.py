"""An in-memory, columnar copy of a collection's top-level metadata that evaluates a parsed filter.

Why: resolving a filter in SQL is a full scan of ``json_extract`` / JSONB
(about 90 ms at 100k documents, eight times an unfiltered search). Held as
numpy columns, the same filter is a few vectorised comparisons over one
array per field, well under a millisecond at 100k documents whatever its
selectivity. This module is pure (no SQL); :mod:`.filter_cache` keeps one
copy per collection in step with the change log.

Layout. Each document has a *slot*; ``ids[slot]`` is its document id and
slots are kept in id order, so a mask turns into sorted ids with no sort.
A field keeps one sub-column per JSON type it has held, so that booleans are
never numbers and a value of an unexpected type can never match a test of
another type, whatever the schema says:

* numbers: float64, NaN for missing (NaN never compares true, which is
  exactly "a comparison never matches a missing field"; metadata cannot hold
  NaN). Integers beyond 2**53, which float64 cannot hold, mark the field
  inexact: value tests on it raise :class:`NotExact` so the caller asks SQL;
* strings: int32 codes into a dictionary of distinct values that is kept
  sorted (a new value that breaks the order is appended and the dictionary
  re-sorted lazily, at the next query), so code order is code point order
  and a range is a pair of binary searches plus one comparison per slot;
* booleans and objects: int8 (-1 missing; objects only answer ``exists``);
* arrays: a presence flag plus an element log (slot, element code) from which
  each element's sorted slot list (its posting) is cut on first use and
  cached until a write touches that element. Element codes are typed
  (``("n", 7)`` is ``7.0`` but not ``True``), so ``contains`` matches an
  element of the value's JSON type and equal value, exactly, big integers too.

A null value is no value (the field is missing). Negation is plain ``~``:
a comparison is false on a missing field, so its negation is true there, as
the SQL compiler's ``NOT coalesce(test, false)`` and the brute-force reference say.
Removed documents are cleared and masked out; their slots are reclaimed by a
compaction when a quarter of the slots are dead (or a write breaks id order).
The per-type columns live in :mod:`.filter_column_kinds`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

import numpy as np

from indexers.masked_ids import masked_ids

from ..store.filter_tree import All, AnyOf, Condition, Node, Not
from .filter_column_kinds import KINDS, RANGES, Arrays, Column, Flags, Numbers, Strings, grown, json_kind


LOAD_CHUNK = 10_000
"""Rows per write while loading: bounds the per-chunk Python lists, whatever the collection's size."""


class NotExact(Exception):
    """The columns cannot answer this filter exactly (a value test on a field holding integers beyond 2**53).

    The caller resolves the filter in SQL instead; nothing is wrong with the data.
    """


class _Field:
    """One metadata key: a sub-column per JSON type it holds ("n", "s", "b", "o", "a")."""

    def __init__(self) -> None:
        self.columns: dict[str, Column] = {}

    def column(self, kind: str, capacity: int, compact_min: int) -> Column:
        col = self.columns.get(kind)
        if col is None:
            if kind == "n":
                col = Numbers(capacity)
            elif kind == "s":
                col = Strings(capacity)
            elif kind == "a":
                col = Arrays(capacity, compact_min)
            else:
                col = Flags(capacity)
            self.columns[kind] = col
        return col

    def present(self, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        for col in self.columns.values():
            mask |= col.present(n)
        return mask


class MetadataColumns:
    """The top-level metadata of one collection's documents as typed columns; see the module docstring.

    Not thread-safe: :class:`~service.query.filter_cache.FilterColumnsCache` holds a
    lock around every call. ``compact_min`` (dead slots or array elements tolerated
    before a compaction is considered) exists so tests can exercise compaction.
    """

    def __init__(self, compact_min: int = 1024) -> None:
        self.compact_min = compact_min
        self._reset()

    def _reset(self) -> None:
        self._ids = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._n = 0
        self._dead = 0
        self._ordered = True
        self._contiguous: bool | None = None  # ids[slot] == ids[0] + slot (known after the first query)
        self._fields: dict[str, _Field] = {}

    def __len__(self) -> int:
        return self._n - self._dead

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, (int, np.integer)) and bool(self._find(np.asarray([doc_id], dtype=np.int64))[0] >= 0)

    @property
    def capacity(self) -> int:
        return len(self._ids)

    def nbytes(self) -> int:
        """Bytes held by the numpy arrays (the dictionaries of strings and elements come on top)."""
        total = self._ids.nbytes + self._alive.nbytes
        for f in self._fields.values():
            for col in f.columns.values():
                total += sum(v.nbytes for v in vars(col).values() if isinstance(v, np.ndarray))
        return total

    # ------------------------------------------------------------------------- writes

    def load(self, rows: Iterable[tuple[int, Mapping[str, Any] | None]]) -> None:
        """Replace everything with these (document id, metadata) rows, in any order (an id twice: the last wins).

        Rows are consumed in chunks and sorted by id once at the end, so a
        caller can stream them from one unordered scan (no ORDER BY, no paging).
        """
        self._reset()
        rows = iter(rows)
        while chunk := list(islice(rows, LOAD_CHUNK)):
            self._write(chunk, fresh=True)
        n = self._n
        order = np.argsort(self._ids[:n], kind="stable")
        ordered_ids = self._ids[:n][order]
        twins = order[np.flatnonzero(ordered_ids[1:] == ordered_ids[:-1])]  # the earlier row of a repeated id
        if len(twins):
            self._clear(twins)
            self._alive[twins] = False
            self._dead += len(twins)
        self._ordered = bool(n < 2 or (order[1:] > order[:-1]).all()) and not len(twins)
        self._maintain()

    def upsert(self, doc_id: int, meta: Mapping[str, Any] | None) -> None:
        self.upsert_many([(doc_id, meta)])

    def remove(self, doc_id: int) -> None:
        self.remove_many([doc_id])

    def upsert_many(self, rows: Iterable[tuple[int, Mapping[str, Any] | None]]) -> None:
        """Insert or replace documents' metadata (within a batch the last row of an id wins)."""
        self._write(rows, fresh=False)
        self._maintain()

    def _write(self, rows: Iterable[tuple[int, Mapping[str, Any] | None]], fresh: bool) -> None:
        """The rows' values into their slots; ``fresh``: every id is new (a load), so none is looked up."""
        batch = dict(rows)
        if not batch:
            return
        ids = np.fromiter(batch, dtype=np.int64, count=len(batch))
        slots = np.full(len(ids), -1, dtype=np.int64) if fresh else self._find(ids)
        old = slots[slots >= 0]
        if len(old):
            self._clear(old)
        new = np.flatnonzero(slots < 0)
        if len(new):
            new = new[np.argsort(ids[new], kind="stable")]  # appended in id order: no compaction needed
            slots[new] = self._append(ids[new])
        buckets: dict[tuple[str, str], tuple[list[int], list[Any]]] = {}
        kinds = KINDS
        for slot, meta in zip(slots.tolist(), batch.values()):
            for key, value in (meta or {}).items():
                kind = kinds.get(type(value)) or json_kind(value)
                if kind is None:
                    continue  # null: the same as missing
                bucket = buckets.get((key, kind))
                if bucket is None:
                    bucket = buckets[(key, kind)] = ([], [])
                bucket[0].append(slot)
                bucket[1].append(value)
        for (key, kind), (where, values) in buckets.items():
            field = self._fields.get(key)
            if field is None:
                field = self._fields[key] = _Field()
            field.column(kind, self.capacity, self.compact_min).put(where, values)

    def remove_many(self, doc_ids: Iterable[int]) -> None:
        """Forget these documents (ids not held are ignored: a delete may follow an insert never seen)."""
        slots = self._find(np.fromiter(doc_ids, dtype=np.int64))
        where = np.unique(slots[slots >= 0])
        if not len(where):
            return
        self._clear(where)
        self._alive[where] = False
        self._dead += len(where)
        self._maintain()

    def _find(self, doc_ids: np.ndarray) -> np.ndarray:
        """The live slots of these ids, -1 where not held: a binary search, as slot ids ascend strictly at rest.

        (No id -> slot dict: at a million documents it would cost more memory than all the columns.)
        """
        n = self._n
        if n == 0:
            return np.full(len(doc_ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._ids[:n], doc_ids), n - 1)
        return np.where((self._ids[at] == doc_ids) & self._alive[at], at, -1)

    def _append(self, doc_ids: np.ndarray) -> np.ndarray:
        """New slots at the end for these ascending ids."""
        start, end = self._n, self._n + len(doc_ids)
        if end > self.capacity:
            self._resize(end)
        if start and doc_ids[0] <= self._ids[start - 1]:
            self._ordered = False  # compacted (re-sorted by id, a dead twin dropped) at the end of this write
        self._ids[start:end] = doc_ids
        self._alive[start:end] = True
        self._n, self._contiguous = end, None
        return np.arange(start, end)

    def _resize(self, size: int) -> None:
        self._ids = grown(self._ids, size, -1)
        self._alive = grown(self._alive, size, False)
        for f in self._fields.values():
            for col in f.columns.values():
                col.resize(self.capacity)

    def _clear(self, slots: np.ndarray) -> None:
        for f in self._fields.values():
            for col in f.columns.values():
                col.clear(slots)

    def _maintain(self) -> None:
        """Compact when ids went out of order or a quarter of the slots are dead."""
        if self._ordered and not (self._dead > self.compact_min and 4 * self._dead > self._n):
            return
        keep = np.flatnonzero(self._alive[: self._n])
        if not self._ordered:
            keep = keep[np.argsort(self._ids[keep], kind="stable")]
        remap = np.full(self.capacity, -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        for f in self._fields.values():
            for col in f.columns.values():
                col.take(keep, remap)
        self._ids, self._alive = self._ids[keep], np.ones(len(keep), dtype=bool)
        self._n, self._dead, self._ordered, self._contiguous = len(keep), 0, True, None

    # ------------------------------------------------------------------------- reads

    def exact(self, node: Node) -> bool:
        """Whether :meth:`matching` can answer ``node`` exactly (else it raises :class:`NotExact`)."""
        if isinstance(node, Condition):
            if node.op in ("exists", "contains"):
                return True
            values = node.value if node.op == "in" else (node.value,)
            if node.op in RANGES and not all(json_kind(v) in ("n", "s") for v in values):
                return False  # no range on booleans in the language; SQL says what it means
            if node.op not in RANGES and node.op not in ("eq", "in"):
                return False
            field = self._fields.get(node.field)
            numbers = field.columns.get("n") if field else None
            return not (isinstance(numbers, Numbers) and numbers.inexact and any(json_kind(v) == "n" for v in values))
        if isinstance(node, (All, AnyOf)):
            return all(self.exact(p) for p in node.parts)
        if isinstance(node, Not):
            return self.exact(node.part)
        raise TypeError(f"not a filter node: {node!r}")

    def matching(self, node: Node) -> np.ndarray:
        """The sorted int64 ids of the documents ``node`` matches; raises :class:`NotExact` (ask SQL).

        Where the slots hold contiguous ids, the ids carry the mask they were cut from
        (:mod:`indexers.masked_ids`), which an index whose positions are those ids packs directly."""
        if not self.exact(node):
            raise NotExact(f"a number field holds integers beyond 2**53: {node!r}")
        mask = self._eval(node)
        mask &= self._alive[: self._n]
        positions = np.flatnonzero(mask)  # then a gather: twice as fast as ids[mask] at 50 % selectivity
        if self._contiguous is None:
            ids = self._ids[: self._n]
            self._contiguous = bool(self._n == 0 or ids[-1] - ids[0] == self._n - 1)  # ascending, so no gap
        if self._contiguous and self._n:
            start = int(self._ids[0])  # slot s holds id start + s: the mask travels with the ids
            return masked_ids(positions + start, start, mask)
        if self._contiguous:
            return positions
        return self._ids.take(positions)

    def _eval(self, node: Node) -> np.ndarray:
        """A fresh bool mask over the slots (callers combine masks in place)."""
        if isinstance(node, Condition):
            return self._condition(node)
        if isinstance(node, All):
            if not node.parts:
                return np.ones(self._n, dtype=bool)
            mask = self._eval(node.parts[0])
            for part in node.parts[1:]:
                mask &= self._eval(part)
            return mask
        if isinstance(node, AnyOf):
            mask = np.zeros(self._n, dtype=bool)
            for part in node.parts:
                mask |= self._eval(part)
            return mask
        if isinstance(node, Not):
            return np.logical_not(self._eval(node.part))
        raise TypeError(f"not a filter node: {node!r}")

    def _condition(self, c: Condition) -> np.ndarray:
        n = self._n
        field = self._fields.get(c.field)
        if field is None:
            return np.zeros(n, dtype=bool)
        if c.op == "exists":
            return field.present(n)
        if c.op == "contains":
            arrays = field.columns.get("a")
            return arrays.contains(n, c.value) if isinstance(arrays, Arrays) else np.zeros(n, dtype=bool)
        values = c.value if c.op == "in" else (c.value,)
        by_kind: dict[str, list[Any]] = {}
        for v in values:
            by_kind.setdefault(json_kind(v) or "", []).append(v)
        mask = np.zeros(n, dtype=bool)
        for kind, group in by_kind.items():
            col = field.columns.get(kind)
            if col is None or isinstance(col, Arrays):
                continue  # no value of this type, or an eq on an array (never equal to a scalar)
            if c.op in RANGES:
                if isinstance(col, (Numbers, Strings)):
                    mask |= col.range(n, c.op, group[0])
            elif kind != "o":
                mask |= col.eq(n, group)  # type: ignore[union-attr]
        return mask
