"""User interactions with the items of an ``items`` collection (what item2vec learns from)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from ..errors import BatchTooLarge
from ..interactions import ingest_interactions, require_items, user_history
from ..models import Document
from ..repository import get_collection
from ..schemas import HistoryEntry, InteractionsIngest, InteractionsIngested
from .deps import Db, Runtimes, SettingsDep

router = APIRouter(prefix="/collections", tags=["interactions"])


@router.post("/{name}/interactions", response_model=InteractionsIngested)
def ingest(
    name: str, body: InteractionsIngest, db: Db, runtimes: Runtimes, settings: SettingsDep
) -> InteractionsIngested:
    """Record a batch of user events. The whole batch is written or none of it.

    With ``unknown_items: "create"`` an item id the collection lacks becomes an
    empty item (no text, no metadata) in the same transaction.
    """
    if len(body.interactions) > settings.max_batch:
        raise BatchTooLarge(
            f"{len(body.interactions)} interactions in one request; the limit is {settings.max_batch} (VECDEX_MAX_BATCH)",
            field="interactions",
        )
    with db.session() as session:
        result = ingest_interactions(session, name, body.interactions, body.unknown_items)
        collection_id = get_collection(session, name).id
    if result.created_items:
        runtimes.sync_collection(collection_id)  # new items are documents: spaces catch up like after an upsert
    return InteractionsIngested(inserted=result.inserted, created_items=result.created_items)


@router.get("/{name}/users/{user}/history", response_model=list[HistoryEntry])
def history(
    name: str,
    user: str,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many of the most recent events")] = 50,
) -> list[HistoryEntry]:
    """A user's most recent interactions, oldest first (404 ``user_not_found`` for a user with none)."""
    with db.session() as session:
        collection = get_collection(session, name)
        require_items(collection)
        events = user_history(session, collection.id, user, limit)
        ids = list({e.item for e in events})
        rows = session.execute(select(Document.id, Document.external_id).where(Document.id.in_(ids)))
        external = {r.id: r.external_id for r in rows}
    return [
        HistoryEntry(
            item=external[e.item],
            timestamp=datetime.fromtimestamp(e.ts, tz=timezone.utc),
            event=e.event,
            weight=e.weight,
        )
        for e in events
    ]

