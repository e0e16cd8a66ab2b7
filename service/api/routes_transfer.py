"""Export and import of whole collections (admin): the collection file of :mod:`service.transfer.format`.

The export streams as it reads (``StreamingResponse`` over the facade's iterator);
the import spools the request body to a temporary file as it arrives (the file is
read twice: checked whole, then written), bounded like every body by
``VECDEX_MAX_BODY_BYTES``; larger files go through ``vecdex collection import``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..transfer.results import ImportResult
from .deps import VecdexDep
from .openapi import errors

router = APIRouter(prefix="/collections", tags=["transfer"])

FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A collection file as `GET /collections/{name}/export` writes it (JSON Lines, or gzip).",
        # One binary media type: the body is read as bytes whatever its Content-Type (gzip is told by its magic).
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/{name}/export",
    operation_id="export_collection",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The collection file: header, model, document, vector and interaction records, trailer.",
            "content": {"application/x-ndjson": {}, "application/gzip": {}},
        },
        **errors(404),
    },
)
def export(
    name: str, vx: VecdexDep, gzip: Annotated[bool, Query(description="Compress the stream (gzip).")] = False
) -> StreamingResponse:
    """Stream the collection's documents, interactions, spaces, their models and stored vectors."""
    chunks = vx.transfer.export(collection=name, gzip=gzip)
    filename = f"{name}.jsonl" + (".gz" if gzip else "")
    return StreamingResponse(
        chunks,
        media_type="application/gzip" if gzip else "application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/{name}/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportResult,
    operation_id="import_collection",
    responses=errors(400, 404, 409, 413, 422, 429),
    openapi_extra=FILE_BODY,
)
async def import_collection(
    name: str,
    request: Request,
    vx: VecdexDep,
    resume: Annotated[bool, Query(description="Continue an interrupted import of this file into `name`.")] = False,
) -> ImportResult:
    """Create collection ``name`` from a collection file; nothing is re-embedded where the models travelled.

    The whole file is checked first: a truncated, altered or newer file is a 422 ``invalid_file`` naming the
    line, and changes nothing. An existing collection is a 409 unless ``resume`` is set.

    The target is in the path (not ``POST /collections/import``): that path would also be
    ``/collections/{name}`` of a collection named "import", so the two routes would claim one URL.
    """
    fd, spool = tempfile.mkstemp(prefix="vecdex-import-", suffix=".jsonl")
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
        return await run_in_threadpool(vx.transfer.import_file, path=Path(spool), name=name, resume=resume)
    finally:
        os.unlink(spool)
