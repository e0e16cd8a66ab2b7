"""Jobs (space builds): list, read, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ..space_schemas import JobPublic
from .deps import VecdexDep
from .openapi import errors

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The job's id (a signed 64-bit SQL integer).")]
"""Bounded like the SQL column: an id beyond int64 would overflow the driver (a 500), not miss (a 404)."""


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
