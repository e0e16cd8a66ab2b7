"""Spaces (embedder + index over a collection) and the jobs that build them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ..space_schemas import JobPublic, SpaceCreate, SpaceCreated, SpacePublic
from .deps import VecdexDep

router = APIRouter(tags=["spaces"])


@router.post("/collections/{name}/spaces", status_code=status.HTTP_202_ACCEPTED, response_model=SpaceCreated)
def create(name: str, body: SpaceCreate, vx: VecdexDep) -> SpaceCreated:
    """Create a space; training and indexing run as a job (poll ``GET /jobs/{id}``)."""
    return vx.spaces.create(collection=name, body=body)


@router.post(
    "/collections/{name}/spaces/{space}/rebuild", status_code=status.HTTP_202_ACCEPTED, response_model=SpaceCreated
)
def rebuild(name: str, space: str, vx: VecdexDep) -> SpaceCreated:
    """Re-index a space with its own spec as a job; it keeps serving its current generation until the new one is ready.

    409 ``space_busy`` while a build of the space is queued or running.
    """
    return vx.spaces.rebuild(collection=name, space=space)


@router.get("/collections/{name}/spaces", response_model=list[SpacePublic])
def list_all(name: str, vx: VecdexDep) -> list[SpacePublic]:
    return vx.spaces.list(collection=name)


@router.get("/collections/{name}/spaces/{space}", response_model=SpacePublic)
def get(name: str, space: str, vx: VecdexDep) -> SpacePublic:
    return vx.spaces.get(collection=name, space=space)


@router.post("/collections/{name}/spaces/{space}/default", response_model=SpacePublic)
def set_default(name: str, space: str, vx: VecdexDep) -> SpacePublic:
    """Make this (ready) space the one searches use when they name none."""
    return vx.spaces.set_default(collection=name, space=space)


@router.delete("/collections/{name}/spaces/{space}", status_code=status.HTTP_204_NO_CONTENT)
def delete(name: str, space: str, vx: VecdexDep) -> Response:
    vx.spaces.delete(collection=name, space=space)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/jobs", response_model=list[JobPublic], tags=["jobs"])
def list_jobs(
    vx: VecdexDep,
    status_: Annotated[str | None, Query(alias="status", pattern="^(queued|running|succeeded|failed|cancelled)$")] = None,
    collection: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobPublic]:
    return vx.jobs.list(status=status_, collection=collection, limit=limit)


@router.get("/jobs/{job_id}", response_model=JobPublic, tags=["jobs"])
def get_one(job_id: int, vx: VecdexDep) -> JobPublic:
    return vx.jobs.get(job_id=job_id)


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic, tags=["jobs"])
def cancel(job_id: int, vx: VecdexDep) -> JobPublic:
    """A queued job is cancelled at once; a running one stops at its next unit of work."""
    return vx.jobs.cancel(job_id=job_id)
