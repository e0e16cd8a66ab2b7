"""Allowed ids handed with their mask (indexers.masked_ids) search exactly as the same ids without it.

The mask is only a faster road to the same candidates: on an aligned table (position p holds id
first + p) it is shifted into a position bitmap, anywhere else the ids are looked up as always.
"""

from __future__ import annotations

import numpy as np
import pytest

from indexers.base import IndexSpec
from indexers.faiss import FaissIndex
from indexers.masked_ids import id_mask, masked_ids

DIM = 16


def _vectors(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


_BUILT: dict[str, FaissIndex] = {}


def _aligned(kind: str) -> FaissIndex:
    """One aligned index per kind for the module (position p holds id 100 + p): searches do not change it."""
    if kind not in _BUILT:
        _BUILT[kind] = _index(kind, np.arange(100, 3_100))
    return _BUILT[kind]


def _index(kind: str, ids: np.ndarray) -> FaissIndex:
    index = FaissIndex.empty(IndexSpec(kind=kind), DIM, "cosine")
    index.add(ids, _vectors(len(ids), seed=1))
    return index


def _masked(start: int, n: int, fraction: float, seed: int) -> np.ndarray:
    mask = np.random.default_rng(seed).random(n) < fraction
    return masked_ids(np.flatnonzero(mask) + start, start, mask)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("fraction", [0.005, 0.3, 0.9])
@pytest.mark.parametrize("start", [0, 100, 1_900, 5_000])  # before, inside, overlapping the end, past the table
def test_masked_ids_search_as_plain_ids(kind: str, fraction: float, start: int) -> None:
    index = _aligned(kind)
    assert index._table.position_mask(0, np.ones(1, bool)) is not None
    allowed = _masked(start, 2_500, fraction, seed=start)
    queries = _vectors(20, seed=7)
    with_mask = index.search(queries, 10, allowed_ids=allowed)
    plain = index.search(queries, 10, allowed_ids=np.asarray(allowed).copy())
    assert id_mask(allowed) is not None and id_mask(np.asarray(allowed)) is None
    np.testing.assert_array_equal(with_mask[1], plain[1])
    np.testing.assert_allclose(with_mask[0], plain[0], rtol=1e-6)
    found = with_mask[1][with_mask[1] >= 0]
    assert np.isin(found, allowed).all()


@pytest.mark.parametrize("change", ["gap", "removed", "shuffled"])
def test_an_unaligned_table_ignores_the_mask_and_stays_exact(change: str) -> None:
    ids = np.arange(0, 2_000)
    if change == "gap":
        ids = np.concatenate([ids[:1_000], ids[1_000:] + 7])
    elif change == "shuffled":
        ids = np.random.default_rng(3).permutation(ids)
    index = _index("flat", ids)
    if change == "removed":
        index.remove(np.array([5, 6, 7]))
    assert index._table.position_mask(0, np.ones(10, bool)) is None
    allowed = _masked(0, 2_100, 0.4, seed=9)
    queries = _vectors(10, seed=8)
    np.testing.assert_array_equal(
        index.search(queries, 10, allowed_ids=allowed)[1], index.search(queries, 10, allowed_ids=np.asarray(allowed).copy())[1]
    )


def test_a_derived_array_carries_no_mask() -> None:
    allowed = _masked(10, 100, 0.5, seed=1)
    assert id_mask(allowed) is not None
    assert id_mask(allowed[allowed != allowed[0]]) is None and id_mask(allowed[1:]) is None


@pytest.mark.parametrize("fraction", [0.005, 0.5])  # the in-place scoring path and the bitmap path
def test_a_shared_read_only_mask_is_reused_only_until_the_index_changes(fraction: float) -> None:
    """A read-only mask (what the filter cache shares) has its candidates remembered; a write forgets them."""
    index = _index("hnsw", np.arange(100, 3_100))
    allowed = _masked(100, 3_000, fraction, seed=3)
    allowed.flags.writeable = False
    id_mask(allowed)[1].flags.writeable = False
    queries = _vectors(5, seed=9)
    first = index.search(queries, 10, allowed_ids=allowed)
    assert len(index._memo) == 1
    again = index.search(queries, 10, allowed_ids=allowed)
    np.testing.assert_array_equal(first[1], again[1])
    # Removing allowed documents must drop them from the next answer, remembered candidates or not.
    gone = first[1][:, :3].ravel()
    index.remove(np.unique(gone[gone >= 0]))
    assert index._memo == {}
    after = index.search(queries, 10, allowed_ids=allowed)
    assert not np.isin(after[1], gone[gone >= 0]).any()
    writable = _masked(100, 3_000, fraction, seed=3)
    index.search(queries, 10, allowed_ids=writable)
    assert len(index._memo) == 1  # a mask its owner may still change is never remembered
