"""``MilvusIndex``: the ``VectorIndex`` contract over one Milvus collection.

The collection holds the data and the checkpoint (see :mod:`.collection`);
this object holds no vectors and no ids, only which collection it is and how
to search it, so any number of objects, in one process or several, opened on
the same collection see each other's writes at once (Strong consistency).

Searching. Each query goes to Milvus with the kind's own settings
(:func:`.collection.search_params`). ``allowed_ids`` become a filter
expression on the primary key, ``id in [...]``, evaluated inside Milvus
during the search; a list longer than ``FILTER_CHUNK`` (16,384) ids is split
into several expressions, each searched for the top k, and the per-chunk
results merged: exact for the union, with no expression beyond a few hundred
KB. Under a filter HNSW's ``ef`` is widened by live / allowed, as the FAISS
backend does (see :func:`.collection.search_params`). Approximate kinds may
still come back short under a filter (Milvus's HNSW
and IVF may return fewer than k); then the number of allowed ids actually
present is counted and, where a row has fewer than it could, that row is
answered by an exact pass over the allowed ids' vectors (fetched from Milvus,
scored in numpy: :class:`.scan.TopK`) -- the same guarantee as the FAISS
backend: with at least k allowed ids present, exactly k come back.

``SearchParams(exact=True)``: FLAT is exhaustive already and IVF_FLAT probing
every list is too, both inside Milvus; for HNSW (no per-call exhaustive switch
in Milvus) the vectors are streamed out and scored in numpy. So is any
``k`` above Milvus's search limit of 16,384.

Scores follow the FAISS backend: cosine similarity (clipped to [-1, 1]),
inner product, or Euclidean distance (the square root of Milvus's squared
L2); padding is id -1 with -inf (cosine, ip) or +inf (l2).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embedders.base import NullProgress, Progress

from ..base import ConcreteKind, IndexSpec, Metric, SearchParams
from ..validation import check_checkpoint, check_ids, check_k, check_queries, check_vectors, is_valid_id
from . import collection as col
from .connection import engine_errors
from .manifest import Manifest, write_manifest
from .scan import TopK, count, count_ids, fetch_vectors, id_filters, iter_rows

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = ["ADD_CHUNK", "MilvusIndex"]

ADD_CHUNK = 4_096  # rows per insert/upsert call: ~6 MB of 384-d floats, well under gRPC's message limit
_DEFAULT_PARAMS = SearchParams()


class MilvusIndex:
    """A Milvus collection addressed by SQL document ids (see the module docstring).

    Made by :mod:`indexers.factory` (backend ``"milvus"``, see :mod:`.backend`);
    the constructor only wires an existing collection to its manifest.
    """

    def __init__(self, *, client: MilvusClient, uri: str, manifest: Manifest, checkpoint: int) -> None:
        self._client = client
        self._uri = uri
        self._manifest = replace(manifest, uri=uri)
        self._checkpoint = checkpoint

    # --- properties ----------------------------------------------------------

    @property
    def backend(self) -> str:
        return "milvus"

    @property
    def dim(self) -> int:
        return self._manifest.dim

    @property
    def metric(self) -> Metric:
        return self._manifest.metric

    @property
    def kind(self) -> ConcreteKind:
        return self._manifest.kind

    @property
    def spec(self) -> IndexSpec:
        return self._manifest.spec

    @property
    def name(self) -> str:
        """The Milvus collection holding the vectors."""
        return self._manifest.name

    @property
    def uri(self) -> str:
        """The Milvus server or milvus-lite file in use."""
        return self._uri

    @property
    def nlist(self) -> int | None:
        return self._manifest.nlist

    @property
    def checkpoint(self) -> int:
        """The change id of the last ``save`` by this object, or the one Milvus held when it was opened."""
        return self._checkpoint

    def ids(self) -> np.ndarray:
        """Every id in the collection, sorted (read back from Milvus, see :func:`.scan.iter_rows`)."""
        pages = [ids for ids, _ in iter_rows(self._client, self.name, vectors=False)]
        return np.sort(np.concatenate(pages)) if pages else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return count(self._client, self.name)

    def __contains__(self, doc_id: object) -> bool:
        if not is_valid_id(doc_id):
            return False
        return count(self._client, self.name, f"{col.ID_FIELD} == {int(doc_id)}") > 0  # type: ignore[call-overload]

    def __repr__(self) -> str:
        return f"MilvusIndex(name={self.name!r}, kind={self.kind!r}, dim={self.dim}, metric={self.metric!r}, uri={self._uri!r})"

    # --- mutation ------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace (Milvus upsert on the primary key): an id present is replaced, never duplicated.

        Validated before anything is sent, so bad input changes nothing.

        Raises:
            InvalidIds / DimensionMismatch / InvalidVectors: as for every backend (:mod:`indexers.validation`).
            MilvusUnavailable: Milvus failed (a chunk already sent stays; replaying the change log repairs it).
        """
        ids = check_ids(ids, field="ids", unique=True)
        vectors = check_vectors(vectors, self.dim, self.metric, len(ids))
        self._write(ids, vectors, upsert=True)

    def insert_new(self, ids: np.ndarray, vectors: np.ndarray, progress: Progress | None = None) -> None:
        """Bulk load of checked ids/vectors into a fresh collection (plain insert: no replace lookups)."""
        self._write(ids, vectors, upsert=False, progress=progress or NullProgress())

    def _write(self, ids: np.ndarray, vectors: np.ndarray, *, upsert: bool, progress: Progress | None = None) -> None:
        call = self._client.upsert if upsert else self._client.insert
        for start in range(0, len(ids), ADD_CHUNK):
            chunk_ids = ids[start : start + ADD_CHUNK].tolist()
            rows = [
                {col.ID_FIELD: i, col.VECTOR_FIELD: v}
                for i, v in zip(chunk_ids, vectors[start : start + ADD_CHUNK])
            ]
            with engine_errors(f"writing vectors to {self.name!r}"):
                call(self.name, rows)
            if progress is not None:
                progress.advance(len(rows))

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (unknown ones ignored); returns how many were present (counted before deleting,
        because Milvus's delete reports the ids it was given, not the ones it found)."""
        ids = np.unique(check_ids(ids, field="ids", unique=False))
        if not len(ids):
            return 0
        present = count_ids(self._client, self.name, ids)
        if present:
            for expr in id_filters(ids):
                with engine_errors(f"deleting from {self.name!r}"):
                    self._client.delete(self.name, filter=expr)
        return present

    # --- search --------------------------------------------------------------

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed_ids: np.ndarray | None = None,
        params: SearchParams | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest neighbours, best first: ``(scores float32 (nq, k), ids int64 (nq, k))``.

        See the module docstring for filters, the exact fallback and scores.

        Raises:
            InvalidK / DimensionMismatch / InvalidVectors / InvalidIds (``allowed_ids``): bad input.
            MilvusUnavailable: Milvus failed.
        """
        k = check_k(k)
        q = check_queries(queries, self.dim, self.metric)
        allowed = None if allowed_ids is None else np.unique(check_ids(allowed_ids, field="allowed_ids", unique=False))
        params = params or _DEFAULT_PARAMS
        if not len(q) or (allowed is not None and not len(allowed)):
            return self._finish(np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64), k)
        if k > col.MAX_TOPK or (params.exact and self.kind == "hnsw"):
            return self._finish(*self._exact(q, k, allowed), k)
        values, found = self._milvus_search(q, k, allowed, params)
        got = (found >= 0).sum(axis=1)
        if (got < k).any():
            available = count_ids(self._client, self.name, allowed) if allowed is not None else len(self)
            short = got < min(k, available)
            if short.any():
                ex_values, ex_ids = self._pad(*self._exact(q[short], k, allowed), k)
                values[short], found[short] = ex_values, ex_ids
        return self._finish(values, found, k)

    def _milvus_search(
        self, q: np.ndarray, k: int, allowed: np.ndarray | None, params: SearchParams
    ) -> tuple[np.ndarray, np.ndarray]:
        """Milvus's own search, one call per filter chunk, merged: values in Milvus's convention."""
        widen = len(self) / len(allowed) if allowed is not None and self.kind == "hnsw" else 1.0
        sp = col.search_params(self.kind, self.spec, params, k, self.nlist, exhaustive=params.exact, widen=widen)
        filters = id_filters(allowed) if allowed is not None else [""]
        parts = []
        for expr in filters:
            with engine_errors(f"searching {self.name!r}"):
                hits = self._client.search(
                    self.name,
                    data=q,
                    limit=k,
                    filter=expr,
                    output_fields=[col.ID_FIELD],
                    search_params=sp,
                    anns_field=col.VECTOR_FIELD,
                )
            parts.append(self._hits_to_arrays(hits, len(q), k))
        if len(parts) == 1:
            return parts[0]
        values = np.concatenate([p[0] for p in parts], axis=1)
        found = np.concatenate([p[1] for p in parts], axis=1)
        return self._best(values, found, k)

    def _hits_to_arrays(self, hits: list, nq: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        fill = np.inf if self.metric == "l2" else -np.inf
        values = np.full((nq, k), fill, dtype=np.float32)
        found = np.full((nq, k), -1, dtype=np.int64)
        for row, row_hits in enumerate(hits):
            for j, hit in enumerate(row_hits[:k]):
                found[row, j] = int(hit["id"])
                values[row, j] = float(hit["distance"])
        return values, found

    def _best(self, values: np.ndarray, found: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` per row of merged candidates (padding sorts last whatever the metric)."""
        key = np.where(found >= 0, values if self.metric == "l2" else -values, np.inf)
        order = np.argsort(key, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(values, order, axis=1), np.take_along_axis(found, order, axis=1)

    def _exact(self, q: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Brute force in numpy over the allowed ids' vectors, or over every row (see :mod:`.scan`)."""
        top = TopK(q, k, col.milvus_metric(self.metric))
        if allowed is None:
            top.add_pages(iter_rows(self._client, self.name, vectors=True))
        else:
            top.add_pages(fetch_vectors(self._client, self.name, allowed))
        return top.result()

    def _pad(self, values: np.ndarray, found: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Milvus-convention arrays padded to (nq, k) with id -1 and the metric's worst value."""
        fill = np.inf if self.metric == "l2" else -np.inf
        out_values = np.full((len(found), k), fill, dtype=np.float32)
        out_found = np.full((len(found), k), -1, dtype=np.int64)
        width = min(k, found.shape[1])
        out_values[:, :width], out_found[:, :width] = values[:, :width], found[:, :width]
        return out_values, out_found

    def _finish(self, values: np.ndarray, found: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Milvus values -> the documented scores, padded to (nq, k)."""
        if self.metric == "l2":
            scores = np.sqrt(np.maximum(values, 0))
            fill = np.float32(np.inf)
        else:
            scores = np.clip(values, -1.0, 1.0) if self.metric == "cosine" else values
            fill = np.float32(-np.inf)
        out_scores = np.full((len(found), k), fill, dtype=np.float32)
        out_ids = np.full((len(found), k), -1, dtype=np.int64)
        width = min(k, found.shape[1])
        out_ids[:, :width] = found[:, :width]
        out_scores[:, :width] = np.where(found[:, :width] >= 0, scores[:, :width], fill)
        return out_scores, out_ids

    # --- persistence -----------------------------------------------------------

    def save(self, directory: Path | str, *, checkpoint: int | None = None) -> None:
        """Make the writes so far and ``checkpoint`` durable: flush, then the checkpoint, then the manifest.

        In that order so a checkpoint never claims changes Milvus has not
        persisted. The checkpoint goes into the collection's properties (read
        by every later ``open``, in any process); the manifest in
        ``directory`` names the collection (and repeats the checkpoint for
        people reading it). None keeps the current checkpoint.

        Raises:
            IndexerError: ``checkpoint`` not an integer >= 0 (field ``checkpoint``).
            MilvusUnavailable: the flush or the property write failed (the stored checkpoint is unchanged).
            IndexFileError: the manifest could not be written.
        """
        value = self._checkpoint if checkpoint is None else check_checkpoint(checkpoint)
        with engine_errors(f"flushing {self.name!r}"):
            self._client.flush(self.name)
        col.write_checkpoint(self._client, self.name, value)
        write_manifest(Path(directory), replace(self._manifest, checkpoint=value))
        self._checkpoint = value

