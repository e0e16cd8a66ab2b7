"""Spaces (embedder + index over a collection) and the jobs that build them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select

from ..jobs import cancel_job, get_job
from ..models import Collection, Job
from ..repository import get_collection, get_space, list_spaces
from ..space_admin import create_space, delete_space, make_default, rebuild_space
from ..space_schemas import JobPublic, SpaceCreate, SpaceCreated, SpacePublic
from ..views import job_view, space_view
from .deps import Db, Runtimes

router = APIRouter(tags=["spaces"])


@router.post(
    "/collections/{name}/spaces", status_code=status.HTTP_202_ACCEPTED, response_model=SpaceCreated
)
def create(name: str, body: SpaceCreate, db: Db) -> SpaceCreated:
    """Create a space; training and indexing run as a job (poll ``GET /jobs/{id}``)."""
    space_id, job_id = create_space(db, name, body)
    with db.session() as session:
        collection = get_collection(session, name)
        space = get_space(session, collection, body.name)
        return SpaceCreated(space=space_view(collection, space), job=job_view(session, get_job(session, job_id)))


@router.post(
    "/collections/{name}/spaces/{space}/rebuild", status_code=status.HTTP_202_ACCEPTED, response_model=SpaceCreated
)
def rebuild(name: str, space: str, db: Db) -> SpaceCreated:
    """Re-index a space with its own spec as a job; it keeps serving its current generation until the new one is ready.

    409 ``space_busy`` while a build of the space is queued or running.
    """
    _, job_id = rebuild_space(db, name, space)
    with db.session() as session:
        collection = get_collection(session, name)
        row = get_space(session, collection, space)
        return SpaceCreated(space=space_view(collection, row), job=job_view(session, get_job(session, job_id)))


@router.get("/collections/{name}/spaces", response_model=list[SpacePublic])
def list_all(name: str, db: Db) -> list[SpacePublic]:
    with db.session() as session:
        collection = get_collection(session, name)
        return [space_view(collection, s) for s in list_spaces(session, collection)]


@router.get("/collections/{name}/spaces/{space}", response_model=SpacePublic)
def get(name: str, space: str, db: Db) -> SpacePublic:
    with db.session() as session:
        collection = get_collection(session, name)
        return space_view(collection, get_space(session, collection, space))


@router.post("/collections/{name}/spaces/{space}/default", response_model=SpacePublic)
def set_default(name: str, space: str, db: Db) -> SpacePublic:
    """Make this (ready) space the one searches use when they name none."""
    with db.session() as session:
        row = make_default(session, name, space)
        return space_view(get_collection(session, name), row)


@router.delete("/collections/{name}/spaces/{space}", status_code=status.HTTP_204_NO_CONTENT)
def delete(name: str, space: str, db: Db, runtimes: Runtimes) -> Response:
    with db.session() as session:
        space_id = delete_space(session, name, space)
    runtimes.forget(space_id, delete_files=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/jobs", response_model=list[JobPublic], tags=["jobs"])
def list_jobs(
    db: Db,
    status_: Annotated[str | None, Query(alias="status", pattern="^(queued|running|succeeded|failed|cancelled)$")] = None,
    collection: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobPublic]:
    with db.session() as session:
        stmt = select(Job).order_by(Job.id.desc()).limit(limit)
        if status_:
            stmt = stmt.where(Job.status == status_)
        if collection:
            stmt = stmt.join(Collection, Collection.id == Job.collection_id).where(Collection.name == collection)
        return [job_view(session, j) for j in session.scalars(stmt)]


@router.get("/jobs/{job_id}", response_model=JobPublic, tags=["jobs"])
def get_one(job_id: int, db: Db) -> JobPublic:
    with db.session() as session:
        return job_view(session, get_job(session, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic, tags=["jobs"])
def cancel(job_id: int, db: Db) -> JobPublic:
    """A queued job is cancelled at once; a running one stops at its next unit of work."""
    with db.session() as session:
        return job_view(session, cancel_job(session, job_id))
