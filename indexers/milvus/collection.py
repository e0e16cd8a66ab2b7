"""One vecdex index = one Milvus collection: its schema, index and search settings, and its checkpoint.

Schema: ``id`` INT64 primary key (the SQL document id, never auto-generated)
and ``vector`` FLOAT_VECTOR(dim). Consistency level ``Strong``, so a write is
seen by the next search from any client or process: the service's change-log
replay depends on reading its own writes.

Kinds map to Milvus index types with the spec's settings meaning the same as
for FAISS: ``flat`` -> FLAT, ``hnsw`` -> HNSW (``M``, ``efConstruction``;
``ef`` per search), ``ivf`` -> IVF_FLAT (``nlist``; ``nprobe`` per search).

Metrics: ``cosine`` -> IP over L2-normalised vectors (``indexers.validation``
normalises vectors and queries), which is exactly what FAISS computes, zero
vectors included (they score 0; Milvus's own COSINE would divide by zero);
``ip`` -> IP; ``l2`` -> L2, which Milvus reports *squared*, like FAISS, and the
index turns into the Euclidean distance the FAISS backend returns.

The checkpoint (last change id made durable) is the collection property
``vecdex.checkpoint``: it lives in Milvus next to the data it describes, so a
restarted process or a second one reads the same value, and dropping the
collection drops it too (no second collection to keep in step).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from ..base import ConcreteKind, IndexSpec, Metric, SearchParams
from ..errors import IndexerError, IndexFileError
from .connection import engine_errors

if TYPE_CHECKING:
    from pymilvus import MilvusClient

log = logging.getLogger(__name__)

__all__ = [
    "CHECKPOINT_PROPERTY",
    "EMPTY_IVF_NLIST",
    "ID_FIELD",
    "MAX_EF",
    "MAX_TOPK",
    "VECTOR_FIELD",
    "check_name",
    "collection_dim",
    "create_collection",
    "describe_existing",
    "drop_collection",
    "milvus_metric",
    "read_checkpoint",
    "search_params",
    "wait_for_index",
    "write_checkpoint",
]

ID_FIELD = "id"
VECTOR_FIELD = "vector"
CHECKPOINT_PROPERTY = "vecdex.checkpoint"

MAX_TOPK = 16_384  # Milvus's ceiling on a search's limit (and on query offset + limit)
MAX_EF = 32_768  # Milvus's ceiling on HNSW ef; ef must also be >= the limit
EMPTY_IVF_NLIST = 128  # an explicit ivf created empty has no N to size 4*sqrt(N) by: Milvus's own default
MAX_NAME_LENGTH = 255
INDEX_WAIT_S = 3_600.0  # a bulk build waits this long at most for Milvus to finish indexing

_INDEX_TYPES: dict[ConcreteKind, str] = {"flat": "FLAT", "hnsw": "HNSW", "ivf": "IVF_FLAT"}


def milvus_metric(metric: Metric) -> str:
    """The Milvus metric for a vecdex metric (cosine is IP over normalised vectors, see the module doc)."""
    return "L2" if metric == "l2" else "IP"


def check_name(name: str) -> str:
    """A valid Milvus collection name: letters, digits, underscores, not starting with a digit, <= 255."""
    ok = (
        isinstance(name, str)
        and 0 < len(name) <= MAX_NAME_LENGTH
        and not name[0].isdigit()
        and all(c == "_" or (c.isascii() and c.isalnum()) for c in name)
    )
    if not ok:
        raise IndexerError(
            f"Milvus collection name {name!r} must be 1-{MAX_NAME_LENGTH} letters, digits or underscores, "
            "not starting with a digit",
            field="index.name",
        )
    return name


def _index_params(client: MilvusClient, kind: ConcreteKind, metric: Metric, spec: IndexSpec, nlist: int | None) -> Any:
    params: dict[str, Any] = {}
    if kind == "hnsw":
        params = {"M": spec.hnsw_m, "efConstruction": spec.hnsw_ef_construction}
    elif kind == "ivf":
        params = {"nlist": int(nlist or EMPTY_IVF_NLIST)}
    index_params = client.prepare_index_params()
    index_params.add_index(
        field_name=VECTOR_FIELD,
        index_type=_INDEX_TYPES[kind],
        metric_type=milvus_metric(metric),
        params=params,
    )
    # pymilvus 3 sends build parameters flattened (M=32, nlist=...), which Milvus >= 2.4 reads but
    # milvus-lite 3.x ignores (it reads only a JSON "params" entry, and silently builds with its
    # defaults: nlist 128, its own M). Older clients sent that "params" entry and every Milvus still
    # parses it, so send both: the same values either way.
    for param in index_params:
        param.get_index_configs()["params"] = dict(params)
    return index_params


def create_collection(
    client: MilvusClient,
    name: str,
    *,
    dim: int,
    metric: Metric,
    kind: ConcreteKind,
    spec: IndexSpec,
    nlist: int | None,
) -> None:
    """A fresh, loaded, empty collection with checkpoint 0.

    A collection already under ``name`` is dropped first: names are unique per
    space generation, so an existing one is the leftover of an attempt that
    died before its manifest could say it existed.
    """
    from pymilvus import DataType

    with engine_errors(f"creating collection {name!r}"):
        if client.has_collection(name):
            client.drop_collection(name)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
        schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=int(dim))
        client.create_collection(
            name, schema=schema, consistency_level="Strong", properties={CHECKPOINT_PROPERTY: "0"}
        )
        # The index of an empty collection is ready at once, but pymilvus's own wait (create_collection
        # with index_params, or create_index's default sync) polls every 0.5 s: skip it, then load.
        client.create_index(name, _index_params(client, kind, metric, spec, nlist), sync=False)
        _load_after_flush(client, name)


def drop_collection(client: MilvusClient, name: str) -> None:
    """Drop the collection (its data, index and checkpoint); nothing happens if it is gone already."""
    with engine_errors(f"dropping collection {name!r}"):
        if client.has_collection(name):
            client.drop_collection(name)


def describe_existing(client: MilvusClient, name: str, uri: str) -> dict[str, Any]:
    """``describe_collection`` of a collection that must exist (else the index is gone: ``IndexFileError``)."""
    with engine_errors(f"opening collection {name!r}"):
        if not client.has_collection(name):
            raise IndexFileError(
                f"the Milvus collection {name!r} at {uri} does not exist (dropped, or another Milvus); rebuild the space",
                field="index",
            )
        info = client.describe_collection(name)
        _load_after_flush(client, name)  # a restarted server holds it unloaded; loading twice is a no-op
    return info


def collection_dim(info: dict[str, Any]) -> int | None:
    """The vector field's dimension as Milvus describes it (None if the schema is not vecdex's)."""
    for field in info.get("fields", []):
        if field.get("name") == VECTOR_FIELD:
            dim = (field.get("params") or {}).get("dim")
            return int(dim) if dim is not None else None
    return None


def read_checkpoint(info: dict[str, Any]) -> int:
    """The checkpoint stored in a collection description's properties (0 if never saved)."""
    raw = (info.get("properties") or {}).get(CHECKPOINT_PROPERTY, "0")
    try:
        return max(0, int(raw))
    except (TypeError, ValueError):
        return 0


def write_checkpoint(client: MilvusClient, name: str, checkpoint: int) -> None:
    """Store the checkpoint as a collection property (metadata: durable once the call returns)."""
    with engine_errors(f"writing the checkpoint of {name!r}"):
        client.alter_collection_properties(name, properties={CHECKPOINT_PROPERTY: str(int(checkpoint))})


def search_params(
    kind: ConcreteKind,
    spec: IndexSpec,
    params: SearchParams,
    limit: int,
    nlist: int | None,
    *,
    exhaustive: bool = False,
    widen: float = 1.0,
) -> dict[str, Any]:
    """Milvus search parameters for one call.

    HNSW ``ef`` is the call's ``ef_search`` or the spec's, raised to the limit
    (Milvus refuses ef < limit), multiplied by ``widen`` (a filtered search passes
    live / allowed: the beam holds nodes of any kind, so with 1 in 10 allowed it
    would otherwise see about ef/10 usable ones -- the FAISS backend widens the
    same way) and capped at Milvus's 32768. IVF ``nprobe`` is
    capped at nlist; ``exhaustive`` probes every list, which makes IVF_FLAT an
    exact search inside Milvus (as FAISS's exhaustive IVF path does).
    """
    if kind == "hnsw":
        ef = math.ceil(max(params.ef_search or spec.hnsw_ef_search, limit) * max(widen, 1.0))
        return {"params": {"ef": min(ef, MAX_EF)}}
    if kind == "ivf":
        lists = int(nlist or EMPTY_IVF_NLIST)
        nprobe = lists if exhaustive else min(params.nprobe or spec.ivf_nprobe, lists)
        return {"params": {"nprobe": nprobe}}
    return {"params": {}}


def wait_for_index(client: MilvusClient, name: str, timeout_s: float = INDEX_WAIT_S) -> bool:
    """Block until Milvus has indexed every row, so the first searches use the index.

    Milvus (server and lite alike) builds a segment's index in the background
    after the flush that seals it; until then searches scan the segment by
    brute force: correct but slow, and a benchmark would measure the wrong
    thing. Returns False (and logs) if ``timeout_s`` passes first; the index is
    still usable then, only not yet fast.
    """
    deadline = time.monotonic() + timeout_s
    # milvus-lite reports every index as finished at once, but its load() builds (or reads) each
    # segment's index synchronously: releasing and loading again is its way of waiting.
    with engine_errors(f"loading the index of {name!r}"):
        client.release_collection(name)
        _load_after_flush(client, name)
    while True:
        with engine_errors(f"waiting for the index of {name!r}"):
            info = client.describe_index(name, VECTOR_FIELD) or {}
        total, done = int(info.get("total_rows", 0)), int(info.get("indexed_rows", 0))
        if done >= total and not int(info.get("pending_index_rows", 0)):
            return True
        if time.monotonic() > deadline:
            log.warning("Milvus index of %s not finished after %.0f s (%d of %d rows)", name, timeout_s, done, total)
            return False
        time.sleep(0.2)


LOAD_RETRIES = (0.05, 0.2, 0.5, 1.0, 2.0)
"""Pauses (s) between attempts to load a collection (see :func:`_load_after_flush`)."""


def _load_after_flush(client: MilvusClient, name: str) -> None:
    """``load_collection``, retried a few times before its error is raised.

    Loading is idempotent, and milvus-lite can refuse it for a moment: right
    after a flush ("Failed to read all data for array ... file seems not fully
    written?" on a busy machine: the sealed segment is not on disk yet), and
    right after ``create_index(sync=False)`` while the empty index is being
    registered. Both pass on the next attempt; a lasting failure is raised
    after about four seconds.
    """
    for pause in (*LOAD_RETRIES, None):
        try:
            client.load_collection(name)
            return
        except Exception as exc:
            if pause is None:
                raise
            log.info("Milvus collection %s not loadable yet (%s); retrying in %.2f s", name, exc, pause)
            time.sleep(pause)
