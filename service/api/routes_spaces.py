"""Spaces (embedder + index over a collection); the jobs that build them are in routes_jobs."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from ..space_schemas import SpaceCreate, SpaceCreated, SpacePublic
from .deps import VecdexDep
from .openapi import errors

router = APIRouter(prefix="/collections/{name}/spaces", tags=["spaces"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SpaceCreated,
    operation_id="create_space",
    responses=errors(404, 409, 429),
)
def create(name: str, body: SpaceCreate, vx: VecdexDep) -> SpaceCreated:
    """Create a space; training and indexing run as a job (poll ``GET /jobs/{id}``)."""
    return vx.spaces.create(collection=name, body=body)


@router.post(
    "/{space}/rebuild",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SpaceCreated,
    operation_id="rebuild_space",
    responses=errors(404, 409, 429),
)
def rebuild(name: str, space: str, vx: VecdexDep) -> SpaceCreated:
    """Re-index a space with its own spec as a job; it keeps serving its current generation until the new one is ready.

    409 ``space_busy`` while a build of the space is queued or running.
    """
    return vx.spaces.rebuild(collection=name, space=space)


@router.get("", response_model=list[SpacePublic], operation_id="list_spaces", responses=errors(404))
def list_all(name: str, vx: VecdexDep) -> list[SpacePublic]:
    return vx.spaces.list(collection=name)


@router.get("/{space}", response_model=SpacePublic, operation_id="get_space", responses=errors(404))
def get(name: str, space: str, vx: VecdexDep) -> SpacePublic:
    return vx.spaces.get(collection=name, space=space)


@router.post("/{space}/default", response_model=SpacePublic, operation_id="set_default_space", responses=errors(404))
def set_default(name: str, space: str, vx: VecdexDep) -> SpacePublic:
    """Make this (ready) space the one searches use when they name none (422 ``space_not_ready`` otherwise)."""
    return vx.spaces.set_default(collection=name, space=space)


@router.delete(
    "/{space}", status_code=status.HTTP_204_NO_CONTENT, operation_id="delete_space", responses=errors(404)
)
def delete(name: str, space: str, vx: VecdexDep) -> Response:
    vx.spaces.delete(collection=name, space=space)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
