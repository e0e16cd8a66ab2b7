"""Jobs (space builds): list, read, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ..space_schemas import JobPublic
from .deps import VecdexDep
from .openapi import errors

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The job's id (an SQL INTEGER: 1..2^31-1).")]
"""Bounded like the column, ``jobs.id INTEGER`` (32-bit on PostgreSQL; on SQLite ids grow by one from 1):
a larger id would overflow the driver or the database (a 500) rather than miss (a 404)."""


@router.get("", response_model=list[JobPublic], operation_id="list_jobs")
def list_jobs(
    vx: VecdexDep,
    status_: Annotated[str | None, Query(alias="status", pattern="^(queued|running|succeeded|failed|cancelled)$")] = None,
    collection: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobPublic]:
    """Newest first."""
    return vx.jobs.list(status=status_, collection=collection, limit=limit)


@router.get("/{job_id}", response_model=JobPublic, operation_id="get_job", responses=errors(404))
def get_one(job_id: JobId, vx: VecdexDep) -> JobPublic:
    return vx.jobs.get(job_id=job_id)


@router.post("/{job_id}/cancel", response_model=JobPublic, operation_id="cancel_job", responses=errors(404, 409))
def cancel(job_id: JobId, vx: VecdexDep) -> JobPublic:
    """A queued job is cancelled at once; a running one stops at its next unit of work (409 ``job_finished``)."""
    return vx.jobs.cancel(job_id=job_id)
