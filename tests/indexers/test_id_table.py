"""IdTable's id -> position lookups: the dense array (many ids) answers exactly as the binary search does."""

from __future__ import annotations

import numpy as np
import pytest

from indexers.faiss import ids as ids_module
from indexers.faiss.ids import IdTable


def _both(table: IdTable, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dense = table.positions(query)  # >= DENSE_LOOKUP_MIN ids: the dense path
    idx, found = table._find(query)
    return dense, table._pos[idx[found]]


@pytest.mark.parametrize("spread", [1, 3])
def test_dense_lookup_equals_binary_search_through_changes(spread: int) -> None:
    rng = np.random.default_rng(spread)
    table = IdTable(rng.permutation(np.arange(1, 20_001) * spread))
    for step in range(6):
        query = np.sort(rng.choice(np.arange(-5, 20_010 * spread), 9_000, replace=False))
        dense, binary = _both(table, query)
        assert np.array_equal(dense, binary) and len(dense) > 0
        assert (table._dense is not None) == (spread <= ids_module.DENSE_LOOKUP_SPREAD)
        # a change drops the dense array; the next lookup sees the new table
        gone = rng.choice(table.live_ids(), 500, replace=False)
        table.remove(np.sort(gone))
        table.append(np.arange(1, 301) + 20_010 * spread + 1_000 * step if step % 2 else np.array([], dtype=np.int64))
        assert table._dense is None


def test_sparse_ids_keep_the_binary_search() -> None:
    table = IdTable(np.arange(5_000) * 1_000)  # ids 1,000 apart: a dense array would be 1,000x the table
    query = np.arange(0, 5_000_000, 500)
    dense, binary = _both(table, query)
    assert table._dense is None and np.array_equal(dense, binary) and len(dense) == 5_000
