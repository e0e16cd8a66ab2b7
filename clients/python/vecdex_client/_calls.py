"""Every API call as data: method, path, body, query parameters and how to read the answer.

Written once and sent by both clients (:mod:`._client`): the sync one with ``httpx.Client``, the
async one with ``httpx.AsyncClient``. A call function has the signature its client method shows
(positional names of what the URL addresses, keyword-only options); options left ``None`` are
not sent, so the server's defaults (and their documentation) apply rather than copies kept here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from . import _models as m

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Filter = Mapping[str, Any]
"""A metadata filter as the server reads it: ``{"year": {"gte": 2020}}``, ``{"or": [...]}``."""


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[Any], T]
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)


def _seg(value: str) -> str:
    """One URL path segment: ids may hold spaces, '?', '#', '%' or any Unicode (never '/')."""
    return quote(str(value), safe="")


def _body(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _one(model: type[M]) -> Callable[[Any], M]:
    return model.model_validate


def _many(model: type[M]) -> Callable[[Any], list[M]]:
    return TypeAdapter(list[model]).validate_python  # type: ignore[valid-type]


def _nothing(_: Any) -> None:
    return None


def _raw(body: Any) -> Any:
    return body


def _c(name: str) -> str:
    return f"/collections/{_seg(name)}"


# ----------------------------------------------------------------------------- service


def health() -> Call[dict[str, Any]]:
    """Liveness (``GET /healthz``): the process answers."""
    return Call("GET", "/healthz", _raw)


def ready() -> Call[dict[str, Any]]:
    """Readiness (``GET /readyz``): the database answers and migrations are applied; a 503 raises ServerError."""
    return Call("GET", "/readyz", _raw)


# ----------------------------------------------------------------------------- collections


def list_collections() -> Call[list[m.CollectionPublic]]:
    return Call("GET", "/collections", _many(m.CollectionPublic))


def create_collection(
    name: str, *, kind: str | None = None, description: str | None = None
) -> Call[m.CollectionPublic]:
    """``kind``: ``documents`` (default) or ``items`` (a catalogue for item2vec recommendations)."""
    return Call("POST", "/collections", _one(m.CollectionPublic), _body(name=name, kind=kind, description=description))


def get_collection(name: str) -> Call[m.CollectionPublic]:
    return Call("GET", _c(name), _one(m.CollectionPublic))


def delete_collection(name: str) -> Call[None]:
    """The collection with its documents, spaces, vectors and interactions."""
    return Call("DELETE", _c(name), _nothing)


# ----------------------------------------------------------------------------- documents


def upsert_documents(collection: str, documents: Iterable[Mapping[str, Any]]) -> Call[m.UpsertResult]:
    """Insert or replace by ``external_id``; each document is ``{"external_id", "text", "metadata"?,
    "vectors"?}``. The batch is written whole or not at all (at most the server's VECDEX_MAX_BATCH)."""
    return Call("POST", f"{_c(collection)}/documents", _one(m.UpsertResult), {"documents": [dict(d) for d in documents]})


def list_documents(collection: str, *, cursor: str | None = None, limit: int | None = None) -> Call[m.DocumentPage]:
    """A page in id order; pass the page's ``next_cursor`` for the next one (None: the last page)."""
    return Call("GET", f"{_c(collection)}/documents", _one(m.DocumentPage), params=_body(cursor=cursor, limit=limit))


def get_document(collection: str, external_id: str) -> Call[m.DocumentPublic]:
    return Call("GET", f"{_c(collection)}/documents/{_seg(external_id)}", _one(m.DocumentPublic))


def fetch_documents(collection: str, ids: Sequence[str]) -> Call[m.DocumentsFetched]:
    """Up to 1,000 documents by external id, in asked order; ids not held come back in ``missing``."""
    return Call("POST", f"{_c(collection)}/documents:fetch", _one(m.DocumentsFetched), {"ids": list(ids)})


def patch_document(
    collection: str, external_id: str, *, metadata: Mapping[str, Any] | None = None, text: str | None = None
) -> Call[m.DocumentPublic]:
    """``metadata`` is merged into the stored metadata (a key set to None is removed); ``text`` replaces the text."""
    body = _body(text=text)
    if metadata is not None:
        body["metadata"] = dict(metadata)  # None values inside are meaningful (remove the key): sent as they are
    return Call("PATCH", f"{_c(collection)}/documents/{_seg(external_id)}", _one(m.DocumentPublic), body)


def delete_document(collection: str, external_id: str) -> Call[None]:
    """One document; a missing one raises NotFoundError (``delete_documents`` lists it instead)."""
    return Call("DELETE", f"{_c(collection)}/documents/{_seg(external_id)}", _nothing)


def delete_documents(collection: str, ids: Sequence[str]) -> Call[m.DocumentsDeleted]:
    """Up to 1,000 documents in one transaction; ids not held come back in ``missing``."""
    return Call("POST", f"{_c(collection)}/documents:delete", _one(m.DocumentsDeleted), {"ids": list(ids)})


# ----------------------------------------------------------------------------- spaces and jobs


def create_space(
    collection: str,
    name: str,
    embedder: Mapping[str, Any],
    *,
    index: Mapping[str, Any] | None = None,
    store_vectors: bool | None = None,
    make_default: bool | None = None,
) -> Call[m.SpaceCreated]:
    """A space built by a job: ``embedder`` is the family's spec (``{"type": "bert"}``, ``{"type":
    "word2vec", "dim": 100}``, ``{"type": "vectors", "dim": 384}`` for your own vectors ...), ``index``
    the FAISS spec (``{"kind": "flat"}`` by default). Wait for it with ``wait_for_job(created.job.id)``."""
    body = _body(name=name, embedder=dict(embedder), index=dict(index) if index else None,
                 store_vectors=store_vectors, make_default=make_default)
    return Call("POST", f"{_c(collection)}/spaces", _one(m.SpaceCreated), body)


def list_spaces(collection: str) -> Call[list[m.SpacePublic]]:
    return Call("GET", f"{_c(collection)}/spaces", _many(m.SpacePublic))


def get_space(collection: str, space: str) -> Call[m.SpacePublic]:
    return Call("GET", f"{_c(collection)}/spaces/{_seg(space)}", _one(m.SpacePublic))


def delete_space(collection: str, space: str) -> Call[None]:
    return Call("DELETE", f"{_c(collection)}/spaces/{_seg(space)}", _nothing)


def rebuild_space(collection: str, space: str) -> Call[m.SpaceCreated]:
    """Re-index with the space's own spec; the current generation serves until the new one is ready."""
    return Call("POST", f"{_c(collection)}/spaces/{_seg(space)}/rebuild", _one(m.SpaceCreated))


def set_default_space(collection: str, space: str) -> Call[m.SpacePublic]:
    return Call("POST", f"{_c(collection)}/spaces/{_seg(space)}/default", _one(m.SpacePublic))


def get_job(job_id: int) -> Call[m.JobPublic]:
    return Call("GET", f"/jobs/{int(job_id)}", _one(m.JobPublic))


def list_jobs(
    *, status: str | None = None, collection: str | None = None, limit: int | None = None
) -> Call[list[m.JobPublic]]:
    """Newest first; ``status`` one of queued, running, succeeded, failed, cancelled."""
    return Call("GET", "/jobs", _many(m.JobPublic), params=_body(status=status, collection=collection, limit=limit))


def cancel_job(job_id: int) -> Call[m.JobPublic]:
    return Call("POST", f"/jobs/{int(job_id)}/cancel", _one(m.JobPublic))
