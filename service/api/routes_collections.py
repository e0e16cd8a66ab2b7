"""Collections and their documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ..errors import BatchTooLarge, InvalidCursor
from ..repository import (
    create_collection,
    delete_collection_rows,
    delete_document,
    get_collection,
    get_document,
    list_collections,
    list_documents,
    upsert_documents,
)
from ..schemas import CollectionCreate, CollectionPublic, DocumentPage, DocumentPublic, DocumentsUpsert, UpsertResult
from ..views import collection_view, document_view
from .deps import Db, Runtimes, SettingsDep

router = APIRouter(prefix="/collections", tags=["collections"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CollectionPublic)
def create(body: CollectionCreate, db: Db) -> CollectionPublic:
    with db.session() as session:
        collection = create_collection(session, body.name, body.kind, body.description)
        return collection_view(session, collection)


@router.get("", response_model=list[CollectionPublic])
def list_all(db: Db) -> list[CollectionPublic]:
    with db.session() as session:
        return [collection_view(session, c) for c in list_collections(session)]


@router.get("/{name}", response_model=CollectionPublic)
def get(name: str, db: Db) -> CollectionPublic:
    with db.session() as session:
        return collection_view(session, get_collection(session, name))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete(name: str, db: Db, runtimes: Runtimes) -> Response:
    """Deletes the collection, its documents, spaces (and their files) and change log."""
    with db.session() as session:
        space_ids = delete_collection_rows(session, get_collection(session, name))
    for space_id in space_ids:
        runtimes.forget(space_id, delete_files=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/documents", response_model=UpsertResult)
def upsert(name: str, body: DocumentsUpsert, db: Db, runtimes: Runtimes, settings: SettingsDep) -> UpsertResult:
    """Insert or replace documents by external id. The whole batch is written or none of it."""
    if len(body.documents) > settings.max_batch:
        raise BatchTooLarge(
            f"{len(body.documents)} documents in one request; the limit is {settings.max_batch} (VECDEX_MAX_BATCH)",
            field="documents",
        )
    with db.session() as session:
        result = upsert_documents(session, name, body.documents)
        collection_id = get_collection(session, name).id
    runtimes.sync_collection(collection_id)
    return UpsertResult(created=result.created, updated=result.updated, unchanged=result.unchanged)


@router.get("/{name}/documents", response_model=DocumentPage)
def list_page(
    name: str,
    db: Db,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DocumentPage:
    after: int | None = None
    if cursor is not None:
        if not cursor.isdigit():
            raise InvalidCursor(f"cursor {cursor!r} is not one this API returned", field="cursor")
        after = int(cursor)
    with db.session() as session:
        docs = list_documents(session, get_collection(session, name), after, limit + 1)
    more = len(docs) > limit
    docs = docs[:limit]
    return DocumentPage(
        items=[document_view(d) for d in docs], next_cursor=str(docs[-1].id) if more and docs else None
    )


@router.get("/{name}/documents/{external_id}", response_model=DocumentPublic)
def get_one(name: str, external_id: str, db: Db) -> DocumentPublic:
    with db.session() as session:
        return document_view(get_document(session, get_collection(session, name), external_id))


@router.delete("/{name}/documents/{external_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_one(name: str, external_id: str, db: Db, runtimes: Runtimes) -> Response:
    with db.session() as session:
        delete_document(session, name, external_id)
        collection_id = get_collection(session, name).id
    runtimes.sync_collection(collection_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
