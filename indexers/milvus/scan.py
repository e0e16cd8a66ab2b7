"""Reading a collection back: counts, every id, vectors by id, and exact top-k over what was read.

Why not ``query_iterator`` or "``id > cursor`` with a limit": neither Milvus
nor milvus-lite promises primary-key order in a limited query, so a cursor can
skip rows. ``iter_rows`` bisects the id range instead, counting each half,
until a range holds at most one page, and then reads that range whole: correct
whatever order rows come back in, at a cost of a few count queries per page.

The exact pass (``exact_top_k``) is numpy over vectors fetched from Milvus: what
``SearchParams(exact=True)`` means for HNSW (Milvus has no per-call exhaustive
switch for a graph) and the fallback for filtered rows an approximate search
left short. It streams, keeping a running top-k, so memory stays at one page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..validation import INT64_MAX
from .collection import ID_FIELD, MAX_TOPK, VECTOR_FIELD
from .connection import engine_errors

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = ["FILTER_CHUNK", "TopK", "count", "fetch_vectors", "id_filters", "iter_rows"]

PAGE = MAX_TOPK  # rows per query (Milvus caps a query's limit at 16384)
FILTER_CHUNK = 16_384  # ids per "id in [...]" expression: a few hundred KB of text at most


def id_filters(ids: np.ndarray) -> list[str]:
    """``id in [...]`` expressions over ``ids``, at most ``FILTER_CHUNK`` ids each (none for no ids)."""
    return [
        f"{ID_FIELD} in [{','.join(map(str, ids[i : i + FILTER_CHUNK].tolist()))}]"
        for i in range(0, len(ids), FILTER_CHUNK)
    ]


def count(client: MilvusClient, name: str, expr: str = "") -> int:
    """Rows matching ``expr`` ("" = all), read under the collection's Strong consistency."""
    with engine_errors(f"counting rows of {name!r}"):
        rows = client.query(name, filter=expr, output_fields=["count(*)"])
    return int(rows[0]["count(*)"]) if rows else 0


def count_ids(client: MilvusClient, name: str, ids: np.ndarray) -> int:
    """How many of ``ids`` (distinct) are in the collection."""
    return sum(count(client, name, expr) for expr in id_filters(ids))


def iter_rows(
    client: MilvusClient, name: str, *, vectors: bool, lo: int = 0, hi: int = INT64_MAX
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Every row with ``lo <= id <= hi`` as pages ``(ids, vectors or None)`` (order unspecified)."""
    ranges = [(lo, hi)]
    fields = [ID_FIELD, VECTOR_FIELD] if vectors else [ID_FIELD]
    while ranges:
        a, b = ranges.pop()
        expr = f"{ID_FIELD} >= {a} and {ID_FIELD} <= {b}"
        n = count(client, name, expr)
        if n == 0:
            continue
        if n > PAGE and a < b:
            mid = a + (b - a) // 2
            ranges.extend([(mid + 1, b), (a, mid)])
            continue
        with engine_errors(f"reading rows of {name!r}"):
            rows = client.query(name, filter=expr, output_fields=fields, limit=max(n, 1))
        yield _page(rows, vectors)


def fetch_vectors(client: MilvusClient, name: str, ids: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The stored vectors of those ``ids`` that exist, in pages (order unspecified)."""
    for start in range(0, len(ids), PAGE):
        chunk = ids[start : start + PAGE]
        with engine_errors(f"reading vectors of {name!r}"):
            rows = client.query(
                name, filter=id_filters(chunk)[0], output_fields=[ID_FIELD, VECTOR_FIELD], limit=len(chunk)
            )
        found, vecs = _page(rows, True)
        if len(found):
            yield found, vecs  # type: ignore[misc]


def _page(rows: list[dict], vectors: bool) -> tuple[np.ndarray, np.ndarray | None]:
    ids = np.fromiter((int(r[ID_FIELD]) for r in rows), dtype=np.int64, count=len(rows))
    if not vectors:
        return ids, None
    vecs = np.asarray([r[VECTOR_FIELD] for r in rows], dtype=np.float32)
    return ids, vecs


class TopK:
    """A running exact top-k per query over vector pages, in Milvus's convention.

    ``ip``: larger inner product first; ``l2``: smaller *squared* distance
    first. ``result()`` gives ``(values, ids)`` (nq, <= k), best first, the
    same convention Milvus search returns, so one conversion serves both paths.
    """

    def __init__(self, queries: np.ndarray, k: int, milvus_metric: str) -> None:
        self._q = queries
        self._k = k
        self._l2 = milvus_metric == "L2"
        nq = len(queries)
        self._keys = np.zeros((nq, 0), dtype=np.float32)  # larger is better, whatever the metric
        self._ids = np.zeros((nq, 0), dtype=np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        sims = self._q @ vectors.T
        if self._l2:
            sq = (self._q * self._q).sum(axis=1)[:, None] + (vectors * vectors).sum(axis=1)[None, :] - 2 * sims
            keys = -np.maximum(sq, 0)
        else:
            keys = sims
        keys = np.concatenate([self._keys, keys.astype(np.float32)], axis=1)
        all_ids = np.concatenate([self._ids, np.broadcast_to(ids, (len(self._q), len(ids)))], axis=1)
        width = min(self._k, keys.shape[1])
        part = np.argpartition(-keys, width - 1, axis=1)[:, :width]
        self._keys = np.take_along_axis(keys, part, axis=1)
        self._ids = np.take_along_axis(all_ids, part, axis=1)

    def add_pages(self, pages: Iterable[tuple[np.ndarray, np.ndarray | None]]) -> TopK:
        for ids, vectors in pages:
            if vectors is not None:
                self.add(ids, vectors)
        return self

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(-self._keys, axis=1, kind="stable")
        keys = np.take_along_axis(self._keys, order, axis=1)
        ids = np.take_along_axis(self._ids, order, axis=1)
        return (-keys if self._l2 else keys), ids
