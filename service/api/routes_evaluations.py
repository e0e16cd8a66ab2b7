"""Stored evaluation runs (written by ``vecdex eval``), read-only over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..evaluation.store import EvaluationPublic, list_evaluations
from .deps import Db

router = APIRouter(tags=["evaluations"])


@router.get("/collections/{name}/evaluations", response_model=list[EvaluationPublic])
def list_all(
    name: str,
    db: Db,
    space: Annotated[str | None, Query(description="Only this space's runs.")] = None,
    task: Annotated[str | None, Query(description="Only this task: retrieval, similarity or words.")] = None,
) -> list[EvaluationPublic]:
    """Evaluation runs of a collection, oldest first; 404 for an unknown collection or space."""
    with db.sessions() as session:
        return list_evaluations(session, name, space, task)
