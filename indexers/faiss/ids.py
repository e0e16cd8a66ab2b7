"""Bookkeeping of a FAISS index: positions <-> document ids, and the candidates a search may return.

The FAISS index never sees a document id. Vectors live at internal
*positions* 0..ntotal-1 in insertion order; :class:`IdTable` maps position ->
document id (-1 marks a tombstone) and id -> position.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

__all__ = ["Candidates", "IdTable", "bitmap_selector"]

DENSE_LOOKUP_MIN = 4_096
"""Lookups of at least this many ids use the dense id -> position array (fewer: binary search)."""
DENSE_LOOKUP_SPREAD = 4
"""The dense array is built only while the largest id is at most this many times the live count."""

class IdTable:
    """Maps FAISS positions to document ids and back.

    ``pos_ids[p]`` is the document at position ``p`` or -1 for a tombstone.
    Live ids are also kept sorted (``_ids`` with their positions in ``_pos``)
    so lookups are a vectorised ``searchsorted`` instead of a Python dict,
    which at a million ids would cost ~100 MB and a Python loop per batch.
    """

    def __init__(self, pos_ids: np.ndarray | None = None) -> None:
        self.pos_ids = np.zeros(0, dtype=np.int64) if pos_ids is None else pos_ids
        live = np.flatnonzero(self.pos_ids >= 0)
        order = np.argsort(self.pos_ids[live], kind="stable")
        self._ids = self.pos_ids[live][order]
        self._pos = live[order].astype(np.int64)
        self._dense: np.ndarray | None = None
        self._first: int | None = None  # see _aligned_first; -1: known not aligned

    @property
    def ntotal(self) -> int:
        return len(self.pos_ids)

    @property
    def live(self) -> int:
        return len(self._ids)

    @property
    def dead(self) -> int:
        return self.ntotal - self.live

    def has_duplicates(self) -> bool:
        return bool(len(self._ids) > 1 and (np.diff(self._ids) == 0).any())

    def live_ids(self) -> np.ndarray:
        return self._ids.copy()

    def live_positions(self) -> np.ndarray:
        return np.flatnonzero(self.pos_ids >= 0)

    def _find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index into the sorted arrays, found mask) for each id."""
        if not self.live:
            return np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=bool)
        idx = np.minimum(np.searchsorted(self._ids, ids), self.live - 1)
        return idx, self._ids[idx] == ids

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Live positions of ``ids`` that are present (absent ones dropped).

        Many ids (a filter allowing most of a collection) are looked up in a dense id -> position array,
        built on first need and dropped on any change: one gather instead of a binary search per id
        (90,000 ids: ~0.2 ms instead of ~4 ms). Only where ids are dense enough that the array stays
        within a few times the table's own size.
        """
        dense = self._dense_lookup() if len(ids) >= DENSE_LOOKUP_MIN else None
        if dense is not None:
            if int(ids.min()) < 0 or int(ids.max()) >= len(dense):  # ids outside the table: drop them first
                ids = ids[(ids >= 0) & (ids < len(dense))]
            found = dense[ids]
            return found[found >= 0] if (found < 0).any() else found
        idx, found = self._find(ids)
        return self._pos[idx[found]]

    def _dense_lookup(self) -> np.ndarray | None:
        if self._dense is None and self.live:
            top = int(self._ids[-1]) + 1
            if top <= DENSE_LOOKUP_SPREAD * self.live:
                dense = np.full(top, -1, dtype=np.int64)
                dense[self._ids] = self._pos
                self._dense = dense
        return self._dense

    def position_mask(self, start: int, mask: np.ndarray) -> np.ndarray | None:
        """The allowed positions as a bool mask, from a mask over ids ``start..``; None unless this table is
        *aligned* (no tombstone, position p holding id first + p), where the mask is a shifted copy."""
        first = self._aligned_first()
        if first is None:
            return None
        out = np.zeros(self.ntotal, dtype=bool)
        lo, hi = max(first, start), min(first + self.ntotal, start + len(mask))
        if hi > lo:
            out[lo - first : hi - first] = mask[lo - start : hi - start]
        return out

    def _aligned_first(self) -> int | None:
        """The id at position 0 when every position p holds id first + p (a build from SQL in id order of
        a collection without gaps), else None; remembered until the next change."""
        if self._first is None:
            p = self.pos_ids
            aligned = bool(len(p) and not self.dead and p[-1] - p[0] == len(p) - 1 and (np.diff(p) == 1).all())
            self._first = int(p[0]) if aligned else -1
        return None if self._first < 0 else self._first

    def remove(self, ids: np.ndarray) -> int:
        """Tombstone the given distinct ids; returns how many were live."""
        idx, found = self._find(ids)
        idx = idx[found]
        self.pos_ids[self._pos[idx]] = -1
        self._dense = self._first = None
        self._ids = np.delete(self._ids, idx)
        self._pos = np.delete(self._pos, idx)
        return len(idx)

    def append(self, ids: np.ndarray) -> None:
        """Give distinct, currently absent ``ids`` the next positions."""
        positions = np.arange(self.ntotal, self.ntotal + len(ids), dtype=np.int64)
        self._dense = self._first = None
        self.pos_ids = np.concatenate([self.pos_ids, ids])
        order = np.argsort(ids, kind="stable")
        at = np.searchsorted(self._ids, ids[order])
        self._ids = np.insert(self._ids, at, ids[order])
        self._pos = np.insert(self._pos, at, positions[order])


@dataclass(frozen=True)
class Candidates:
    """What one search may return: how many live vectors, and the FAISS selector admitting them.

    ``positions``: the allowed live positions when they are few and the raw vectors can be read
    directly; the search then compares the query with just those (``selector`` is None then: no
    bitmap over the whole index is built for them).
    """

    count: int
    selector: faiss.IDSelector | None
    small: bool  # small enough to skip the approximate path
    positions: np.ndarray | None = None


def bitmap_selector(positions: np.ndarray, ntotal: int) -> faiss.IDSelectorBitmap:
    mask = np.zeros(ntotal, dtype=bool)
    mask[positions] = True
    # IDSelectorBitmap tests bit (i & 7) of byte i >> 3: little-endian bit order.
    return faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))
