"""Collections: create, list, read, delete (their documents are in routes_documents)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from ..schemas import CollectionCreate, CollectionPublic
from .deps import VecdexDep
from .openapi import errors

router = APIRouter(prefix="/collections", tags=["collections"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CollectionPublic,
    operation_id="create_collection",
    responses=errors(409),
)
def create(body: CollectionCreate, vx: VecdexDep) -> CollectionPublic:
    """Create an empty collection (409 ``already_exists`` when the name is taken)."""
    return vx.collections.create(body=body)


@router.get("", response_model=list[CollectionPublic], operation_id="list_collections")
def list_all(vx: VecdexDep) -> list[CollectionPublic]:
    return vx.collections.list()


@router.get("/{name}", response_model=CollectionPublic, operation_id="get_collection", responses=errors(404))
def get(name: str, vx: VecdexDep) -> CollectionPublic:
    return vx.collections.get(name=name)


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, operation_id="delete_collection", responses=errors(404)
)
def delete(name: str, vx: VecdexDep) -> Response:
    """Deletes the collection, its documents, spaces (and their files) and change log."""
    vx.collections.delete(name=name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
