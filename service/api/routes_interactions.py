"""User interactions with the items of an ``items`` collection (what item2vec learns from)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..schemas import HistoryEntry, InteractionsIngest, InteractionsIngested
from .deps import VecdexDep
from .openapi import errors

router = APIRouter(prefix="/collections", tags=["interactions"])


@router.post("/{name}/interactions", response_model=InteractionsIngested, operation_id="ingest_interactions", responses=errors(404, 409))
def ingest(name: str, body: InteractionsIngest, vx: VecdexDep) -> InteractionsIngested:
    """Record a batch of user events. The whole batch is written or none of it.

    With ``unknown_items: "create"`` an item id the collection lacks becomes an
    empty item (no text, no metadata) in the same transaction.
    """
    return vx.interactions.ingest(collection=name, body=body)


@router.get("/{name}/users/{user}/history", response_model=list[HistoryEntry], operation_id="get_user_history", responses=errors(404, 409))
def history(
    name: str,
    user: str,
    vx: VecdexDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many of the most recent events")] = 50,
) -> list[HistoryEntry]:
    """A user's most recent interactions, oldest first (404 ``user_not_found`` for a user with none)."""
    return vx.interactions.history(collection=name, user=user, limit=limit)
