"""SQL reads and writes for collections, documents and the change log.

Every write that changes a document appends a change row in the same
transaction; that pairing is what lets an index catch up after a crash.
Writes to one collection are serialised by locking its row, so change ids
commit in order within a collection and a reader that has seen change N has
seen every change before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..errors import (
    AlreadyExists,
    CollectionNotFound,
    DocumentNotFound,
    DuplicateExternalId,
    InvalidRequest,
    MetadataTypeMismatch,
    SpaceNotFound,
)
from .filter_sql import compile_filter
from .filter_tree import parse_filter
from .document_writes import content_hash, delete_rows, plan_upsert, write_upsert
from .given_vectors import check_given_vectors
from .models import Change, Collection, Document, Space
from ..schemas import EMPTY_TEXT, DocumentIn

# ----------------------------------------------------------------------------- collections


ITEMS = "items"


def create_collection(session: Session, name: str, kind: str = "documents", description: str | None = None) -> Collection:
    if session.scalar(select(Collection.id).where(Collection.name == name)) is not None:
        raise AlreadyExists(f"collection {name!r} already exists", field="name")
    collection = Collection(name=name, kind=kind, description=description, metadata_schema={})
    session.add(collection)
    session.flush()
    return collection


def get_collection(session: Session, name: str, *, lock: bool = False) -> Collection:
    stmt = select(Collection).where(Collection.name == name)
    if lock:
        stmt = stmt.with_for_update()
    collection = session.scalar(stmt)
    if collection is None:
        raise CollectionNotFound(f"collection {name!r} not found", field="collection")
    return collection


def list_collections(session: Session) -> list[Collection]:
    return list(session.scalars(select(Collection).order_by(Collection.name)))


def count_documents(session: Session, collection_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Document).where(Document.collection_id == collection_id)) or 0


# ----------------------------------------------------------------------------- documents


def json_type(value: Any) -> str | None:
    """The schema type of a metadata value; None for null (which fixes no type)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_KINDS: dict[type, str] = {str: "string", bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}
""":func:`json_type` of the exact types pydantic gives metadata values (others go through it)."""


@dataclass(frozen=True)
class UpsertResult:
    created: int
    updated: int
    unchanged: int
    ids: list[int]


def _merge_schema(schema: dict[str, str], docs: Sequence[DocumentIn], field_prefix: str) -> dict[str, str]:
    """Extend the collection's metadata schema, rejecting a field whose type contradicts it."""
    merged = dict(schema)
    kinds = _KINDS
    for i, doc in enumerate(docs):
        for key, value in doc.metadata.items():
            kind = kinds.get(type(value)) or json_type(value)  # exact JSON types by one lookup (every document)
            if kind is None:
                continue
            known = merged.get(key)
            if known == kind:
                continue
            if known is None:
                merged[key] = kind
            else:
                raise MetadataTypeMismatch(
                    f"metadata field {key!r} is a {kind} here but a {known} in this collection",
                    field=f"{field_prefix}[{i}].metadata.{key}",
                )
    return merged


def upsert_documents(
    session: Session,
    collection_name: str,
    docs: Sequence[DocumentIn],
    field_prefix: str = "documents",
    *,
    require_vectors: bool = True,
    collection: Collection | None = None,
) -> UpsertResult:
    """Insert or replace by external id, appending one change per modified document.

    The whole batch is validated before anything is written, so a bad document
    leaves the collection untouched. A blank text is refused here rather than by
    the schema, because only the collection says whether one is allowed: an
    item (``kind`` items) may have only an id and metadata, and is stored with
    the text "" (text spaces skip it: it embeds to nothing).

    ``collection``: the caller already read (and locked, ``get_collection(..., lock=True)``) the
    collection row in this session, so it is not looked up again.
    """
    seen: dict[str, int] = {}
    for i, doc in enumerate(docs):
        if doc.external_id in seen:
            raise DuplicateExternalId(
                f"external_id {doc.external_id!r} appears twice in one batch (also at index {seen[doc.external_id]})",
                field=f"{field_prefix}[{i}].external_id",
            )
        seen[doc.external_id] = i
    if collection is None:
        collection = get_collection(session, collection_name, lock=True)
    if collection.kind != ITEMS:
        for i, doc in enumerate(docs):
            if not doc.text.strip():
                field = f"{field_prefix}[{i}].text"
                raise InvalidRequest(
                    f"{field}: {EMPTY_TEXT} (only a collection of kind items accepts documents without text)",
                    field=field,
                )
    schema = _merge_schema(collection.metadata_schema or {}, docs, field_prefix)
    given = check_given_vectors(session, collection.id, docs, field_prefix, require=require_vectors)
    if schema != collection.metadata_schema:
        collection.metadata_schema = schema

    plan = plan_upsert(session, collection.id, docs)
    new_vectors = given.changed(session, plan.known_positions, plan.known_ids) if given else set()
    written = write_upsert(session, collection.id, docs, plan, new_vectors)
    if given:
        given.write(session, written.ids, plan.hashes)
    return UpsertResult(written.created, written.updated, written.unchanged, written.ids)


def get_document(session: Session, collection: Collection, external_id: str) -> Document:
    doc = session.scalar(
        select(Document).where(Document.collection_id == collection.id, Document.external_id == external_id)
    )
    if doc is None:
        raise DocumentNotFound(
            f"document {external_id!r} not found in collection {collection.name!r}",
            field="external_id",
        )
    return doc


def list_documents(session: Session, collection: Collection, after_id: int | None, limit: int) -> list[Document]:
    """Keyset pagination by id: stable under concurrent inserts, O(limit) at any depth."""
    stmt = select(Document).where(Document.collection_id == collection.id)
    if after_id is not None:
        stmt = stmt.where(Document.id > after_id)
    return list(session.scalars(stmt.order_by(Document.id).limit(limit)))


def delete_document(session: Session, collection_name: str, external_id: str) -> int:
    """Delete one document and log it (its vectors and interactions go by ON DELETE CASCADE)."""
    collection = get_collection(session, collection_name, lock=True)
    doc_id = session.scalar(
        select(Document.id).where(Document.collection_id == collection.id, Document.external_id == external_id)
    )
    if doc_id is None:
        raise DocumentNotFound(
            f"document {external_id!r} not found in collection {collection.name!r}",
            field="external_id",
        )
    delete_rows(session, collection.id, [doc_id])
    return doc_id


def documents_by_external_ids(session: Session, collection: Collection, external_ids: Sequence[str]) -> dict[str, Document]:
    """The documents of ``collection`` with these external ids (absent: not there), by external id."""
    if not external_ids:
        return {}
    stmt = select(Document).where(
        Document.collection_id == collection.id, Document.external_id.in_(list(dict.fromkeys(external_ids)))
    )
    return {d.external_id: d for d in session.scalars(stmt)}


def delete_documents(session: Session, collection_name: str, external_ids: Sequence[str]) -> dict[str, int]:
    """Delete those of these documents that exist, in one transaction with one change row each; returns
    the deleted ones' ids by external id (the collection is locked like a single delete)."""
    collection = get_collection(session, collection_name, lock=True)
    rows = session.execute(
        select(Document.external_id, Document.id).where(
            Document.collection_id == collection.id, Document.external_id.in_(list(dict.fromkeys(external_ids)))
        )
    )
    found = {external_id: doc_id for external_id, doc_id in rows}
    if found:
        delete_rows(session, collection.id, sorted(found.values()))
    return found


@dataclass(frozen=True)
class DocumentState:
    """What a catch-up needs of a document: its id, stored text and content hash."""

    id: int
    text: str
    content_hash: str


def documents_by_ids(session: Session, ids: Sequence[int]) -> dict[int, DocumentState]:
    """The current SQL state of these documents (absent: deleted), by id.

    Three columns rather than ORM entities: a catch-up reads every changed document, and building,
    identity-mapping and tracking entities cost 4-5x the column select for nothing it uses.
    """
    if not ids:
        return {}
    rows = session.execute(
        select(Document.id, Document.text, Document.content_hash).where(Document.id.in_(list(ids)))
    )
    return {r[0]: DocumentState(r[0], r[1], r[2]) for r in rows}


@dataclass(frozen=True)
class HitRow:
    external_id: str
    text: str
    metadata: dict[str, Any]


# ----------------------------------------------------------------------------- change log


def max_change_id(session: Session, collection_id: int) -> int:
    return session.scalar(select(func.max(Change.id)).where(Change.collection_id == collection_id)) or 0


def changes_after(session: Session, collection_id: int, after_id: int, limit: int) -> list[tuple[int, int]]:
    """(change id, document id) pairs after ``after_id``, oldest first."""
    rows = session.execute(
        select(Change.id, Change.document_id)
        .where(Change.collection_id == collection_id, Change.id > after_id)
        .order_by(Change.id)
        .limit(limit)
    )
    return [(r.id, r.document_id) for r in rows]


# ----------------------------------------------------------------------------- metadata filters


def filtered_ids(session: Session, collection: Collection | SpaceRef, where: dict[str, Any]) -> np.ndarray:
    """Ids of documents that match the filter (the language of :mod:`.filter_tree`), in one SELECT.

    The filter is checked against the collection schema first (a 422 naming
    the path of a mistake); the ids become a FAISS IDSelector, so the filter is
    applied inside the index search rather than by over-fetching and discarding.
    """
    collection_id = collection.collection_id if isinstance(collection, SpaceRef) else collection.id
    name = collection.collection_name if isinstance(collection, SpaceRef) else collection.name
    tree = parse_filter(where, collection.metadata_schema or {}, name)
    test = compile_filter(tree, session.get_bind().dialect.name)
    stmt = select(Document.id).where(Document.collection_id == collection_id, test)
    return np.fromiter(session.scalars(stmt), dtype=np.int64)


# ----------------------------------------------------------------------------- spaces


@dataclass(frozen=True)
class SpaceRef:
    """A space as the query path needs it, read with its collection in one join."""

    id: int
    name: str
    collection_id: int
    collection_name: str
    metadata_schema: dict[str, str]
    status: str
    error: dict[str, Any] | None
    embedder_type: str
    store_vectors: bool
    built_change_id: int | None
    generation: int = 0


def missing_space(collection: str, space: str | None, *, collection_found: bool) -> CollectionNotFound | SpaceNotFound:
    """The 404 for a collection or space that is not there (one wording for the ORM and driver paths)."""
    if not collection_found:
        return CollectionNotFound(f"collection {collection!r} not found", field="collection")
    if space is None:
        return SpaceNotFound(
            f"collection {collection!r} has no space yet: create one with POST /collections/{collection}/spaces",
            field="space",
        )
    return SpaceNotFound(f"space {space!r} not found in collection {collection!r}", field="space")


def resolve_space(session: Session, collection_name: str, space_name: str | None) -> SpaceRef:
    """Collection + space (the default one when no name is given) in one query; 404s name what is missing."""
    on = Space.collection_id == Collection.id
    on = on & (Space.name == space_name if space_name is not None else Space.id == Collection.default_space_id)
    row = session.execute(
        select(
            Collection.id.label("cid"),
            Collection.metadata_schema,
            Collection.default_space_id,
            Space.id,
            Space.name,
            Space.status,
            Space.error,
            Space.embedder_type,
            Space.store_vectors,
            Space.built_change_id,
            Space.generation,
        )
        .select_from(Collection)
        .outerjoin(Space, on)
        .where(Collection.name == collection_name)
    ).first()
    if row is None or row.id is None:
        raise missing_space(collection_name, space_name, collection_found=row is not None)
    return SpaceRef(
        id=row.id,
        name=row.name,
        collection_id=row.cid,
        collection_name=collection_name,
        metadata_schema=row.metadata_schema or {},
        status=row.status,
        error=row.error,
        embedder_type=row.embedder_type,
        store_vectors=row.store_vectors,
        built_change_id=row.built_change_id,
        generation=row.generation,
    )


def get_space(session: Session, collection: Collection, name: str | None) -> Space:
    """The named space, or the collection's default one when no name is given."""
    space: Space | None = None
    if name is None:
        if collection.default_space_id is not None:
            space = session.get(Space, collection.default_space_id)
    else:
        space = session.scalar(select(Space).where(Space.collection_id == collection.id, Space.name == name))
    if space is None:
        raise missing_space(collection.name, name, collection_found=True)
    return space


def list_spaces(session: Session, collection: Collection) -> list[Space]:
    return list(session.scalars(select(Space).where(Space.collection_id == collection.id).order_by(Space.id)))


def delete_collection_rows(session: Session, collection: Collection) -> list[int]:
    """Delete a collection and everything in it; returns its space ids so their files can go too."""
    space_ids = [s.id for s in list_spaces(session, collection)]
    session.execute(delete(Collection).where(Collection.id == collection.id))
    return space_ids
