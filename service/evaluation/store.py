"""Reading stored evaluation runs (the ``evaluations`` table) for the CLI and the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..schema_types import UtcDatetime
from ..store.models import Evaluation, Space
from ..store.repository import get_collection, get_space


class EvaluationPublic(BaseModel):
    id: int
    collection: str
    space: str
    embedder_type: str
    task: str
    dataset: str
    metrics: dict[str, Any]
    params: dict[str, Any]
    created_at: UtcDatetime


def list_evaluations(
    session: Session, collection_name: str, space_name: str | None = None, task: str | None = None
) -> list[EvaluationPublic]:
    """Runs of a collection (optionally of one space or task), oldest first."""
    collection = get_collection(session, collection_name)
    stmt = (
        select(Evaluation, Space.name, Space.embedder_type)
        .join(Space, Space.id == Evaluation.space_id)
        .where(Evaluation.collection_id == collection.id)
        .order_by(Evaluation.id)
    )
    if space_name is not None:
        stmt = stmt.where(Evaluation.space_id == get_space(session, collection, space_name).id)
    if task is not None:
        stmt = stmt.where(Evaluation.task == task)
    return [
        EvaluationPublic(
            id=row.id,
            collection=collection.name,
            space=name,
            embedder_type=embedder_type,
            task=row.task,
            dataset=row.dataset,
            metrics=row.metrics or {},
            params=row.params or {},
            created_at=row.created_at,
        )
        for row, name, embedder_type in session.execute(stmt)
    ]
