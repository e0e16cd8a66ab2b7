"""Collections and their documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ..schemas import CollectionCreate, CollectionPublic, DocumentPage, DocumentPublic, DocumentsUpsert, UpsertResult
from .deps import VecdexDep

router = APIRouter(prefix="/collections", tags=["collections"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CollectionPublic)
def create(body: CollectionCreate, vx: VecdexDep) -> CollectionPublic:
    return vx.collections.create(body=body)


@router.get("", response_model=list[CollectionPublic])
def list_all(vx: VecdexDep) -> list[CollectionPublic]:
    return vx.collections.list()


@router.get("/{name}", response_model=CollectionPublic)
def get(name: str, vx: VecdexDep) -> CollectionPublic:
    return vx.collections.get(name=name)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete(name: str, vx: VecdexDep) -> Response:
    """Deletes the collection, its documents, spaces (and their files) and change log."""
    vx.collections.delete(name=name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/documents", response_model=UpsertResult)
def upsert(name: str, body: DocumentsUpsert, vx: VecdexDep) -> UpsertResult:
    """Insert or replace documents by external id. The whole batch is written or none of it."""
    return vx.documents.upsert(collection=name, body=body)


@router.get("/{name}/documents", response_model=DocumentPage)
def list_page(
    name: str,
    vx: VecdexDep,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DocumentPage:
    return vx.documents.list(collection=name, cursor=cursor, limit=limit)


@router.get("/{name}/documents/{external_id}", response_model=DocumentPublic)
def get_one(name: str, external_id: str, vx: VecdexDep) -> DocumentPublic:
    return vx.documents.get(collection=name, external_id=external_id)


@router.delete("/{name}/documents/{external_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_one(name: str, external_id: str, vx: VecdexDep) -> Response:
    vx.documents.delete(collection=name, external_id=external_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
