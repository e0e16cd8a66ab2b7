"""Allowed ids that also carry the boolean mask they were cut from.

Why: a broad filter at 1M documents allows ~900,000 ids, and turning them
back into a FAISS bitmap (id -> position lookup, scatter, pack) cost ~3 ms a
query, more than the search. The filter columns hold the answer as a mask over
a contiguous id range already; handed along with the ids, an index whose
positions are the same contiguous ids in order packs that mask directly.

A :class:`MaskedIds` *is* the sorted array of ids, so every consumer that
only wants ids (Milvus, bm25, the exclusion of one id) works unchanged.
Anything derived from it (a slice, ``allowed[allowed != x]``) is a plain view
without the mask: ``id_mask`` answers only for the very array that was made
here, so a changed set can never be read through a stale mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MaskedIds", "id_mask", "masked_ids"]


class MaskedIds(np.ndarray):
    """Sorted, distinct int64 ids with ``_id_mask = (start, mask)``: ``mask[j]`` is whether ``start + j`` is in."""

    _id_mask: tuple[int, np.ndarray] | None = None


def masked_ids(ids: np.ndarray, start: int, mask: np.ndarray) -> MaskedIds:
    """``ids`` (exactly ``np.flatnonzero(mask) + start``) viewed with their mask attached (nothing copied)."""
    out = ids.view(MaskedIds)
    out._id_mask = (start, mask)
    return out


def id_mask(ids: Any) -> tuple[int, np.ndarray] | None:
    """The (start, mask) an array of allowed ids was made from, or None for any other array."""
    return ids.__dict__.get("_id_mask") if isinstance(ids, MaskedIds) else None
