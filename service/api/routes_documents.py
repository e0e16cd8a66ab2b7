"""The documents of a collection: upsert a batch, page through, read, patch and delete one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ..batch_schemas import DocumentIds, DocumentsDeleted, DocumentsFetched
from ..patch_schemas import DocumentPatch
from ..schemas import DocumentPage, DocumentPublic, DocumentsUpsert, UpsertResult
from .deps import VecdexDep
from .openapi import CURSOR_PATTERN, errors

router = APIRouter(prefix="/collections", tags=["documents"])


@router.post("/{name}/documents", response_model=UpsertResult, operation_id="upsert_documents", responses=errors(404))
def upsert(name: str, body: DocumentsUpsert, vx: VecdexDep) -> UpsertResult:
    """Insert or replace documents by external id. The whole batch is written or none of it."""
    return vx.documents.upsert(collection=name, body=body)


@router.get("/{name}/documents", response_model=DocumentPage, operation_id="list_documents", responses=errors(404))
def list_page(
    name: str,
    vx: VecdexDep,
    cursor: Annotated[
        str | None,
        # Documented, not validated here: the facade refuses any other cursor as ``invalid_cursor``.
        Query(description="next_cursor of the previous page (a document id).", json_schema_extra={"pattern": CURSOR_PATTERN}),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DocumentPage:
    return vx.documents.list(collection=name, cursor=cursor, limit=limit)


@router.post(
    "/{name}/documents:fetch", response_model=DocumentsFetched, operation_id="fetch_documents", responses=errors(404)
)
def fetch_many(name: str, body: DocumentIds, vx: VecdexDep) -> DocumentsFetched:
    """Up to 1,000 documents by external id, in the order asked; ids not in the collection are listed
    under ``missing`` (no error: a client asking "which of these do you hold?" gets the answer)."""
    return vx.documents.fetch(collection=name, body=body)


@router.post(
    "/{name}/documents:delete", response_model=DocumentsDeleted, operation_id="delete_documents", responses=errors(404)
)
def delete_many(name: str, body: DocumentIds, vx: VecdexDep) -> DocumentsDeleted:
    """Delete up to 1,000 documents by external id in one transaction (all or none); ids not in the
    collection are listed under ``missing``, so deleting twice is not an error."""
    return vx.documents.delete_many(collection=name, body=body)


@router.get(
    "/{name}/documents/{external_id}", response_model=DocumentPublic, operation_id="get_document", responses=errors(404)
)
def get_one(name: str, external_id: str, vx: VecdexDep) -> DocumentPublic:
    return vx.documents.get(collection=name, external_id=external_id)


@router.patch(
    "/{name}/documents/{external_id}",
    response_model=DocumentPublic,
    operation_id="patch_document",
    responses=errors(404),
)
def patch_one(name: str, external_id: str, body: DocumentPatch, vx: VecdexDep) -> DocumentPublic:
    """Change one document in place: ``metadata`` is merged into the stored metadata (JSON merge patch,
    RFC 7396: null removes a key, objects merge), ``text`` replaces the text. A metadata-only patch
    reuses the stored vectors; filters see the change at once. All or nothing, like an upsert."""
    return vx.documents.patch(collection=name, external_id=external_id, body=body)


@router.delete(
    "/{name}/documents/{external_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_document",
    responses=errors(404),
)
def delete_one(name: str, external_id: str, vx: VecdexDep) -> Response:
    vx.documents.delete(collection=name, external_id=external_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
