"""SQL reads and writes for user interactions with the items of an ``items`` collection.

An interaction row points at the item's *document* row (its SQL id, which is
also its FAISS id), so deleting an item deletes its interactions, and the
sequences item2vec trains on speak the same ids as the index. Timestamps are
stored in UTC; SQLite keeps no offset, so every value is normalised before it
is written and read back as UTC.

Writes are all-or-nothing per batch: the caller's transaction (``Database.session``)
commits the whole batch or nothing. The collection row is locked like a
document write, so an item cannot be deleted between being resolved and being
referenced.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from embedders.item2vec.sequences import Interaction, build_sequences

from .db import Database
from ..errors import InvalidInput, NotAnItemsCollection, UnknownItem, UserNotFound
from .models import Collection, Document
from .models import Interaction as InteractionRow  # the row; ``Interaction`` is the sequences' record
from .repository import ITEMS, get_collection, upsert_documents
from ..schemas import DocumentIn, InteractionIn

UnknownItems = Literal["reject", "create"]

# Well below SQLite's bound-parameter limit (32,766) and PostgreSQL's (65,535).
_IN_CHUNK = 1000
_YIELD_PER = 10_000


@dataclass(frozen=True)
class IngestResult:
    inserted: int
    created_items: int


def require_items(collection: Collection) -> None:
    """Interactions only make sense between users and the items of an ``items`` collection."""
    if collection.kind != ITEMS:
        raise NotAnItemsCollection(
            f"collection {collection.name!r} is of kind {collection.kind!r}; interactions need a collection "
            "of kind items (create one with kind 'items')",
            field="collection",
        )


def _chunks(values: Sequence[str], size: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def known_items(session: Session, collection_id: int, external_ids: Iterable[str]) -> dict[str, int]:
    """External id -> document id, for the given ids that exist in the collection."""
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(Document.external_id, Document.id).where(
                Document.collection_id == collection_id, Document.external_id.in_(chunk)
            )
        )
        found.update({r.external_id: r.id for r in rows})
    return found


def _utc(ts: datetime) -> datetime:
    """Aware UTC (a naive value is taken as UTC), the only form written to the ``ts`` column."""
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def _epoch(ts: datetime) -> float:
    """Epoch seconds of a value read back: SQLite returns naive UTC, PostgreSQL an aware value."""
    return _utc(ts).timestamp()


def ingest_interactions(
    session: Session,
    collection_name: str,
    records: Sequence[InteractionIn],
    unknown_items: UnknownItems = "reject",
    *,
    field_prefix: str = "interactions",
) -> IngestResult:
    """Insert a batch of interactions, resolving item external ids to document ids.

    Args:
        records: Validated interactions (see :class:`service.schemas.InteractionIn`).
        unknown_items: ``"reject"`` refuses the batch at the first item the
            collection lacks (field ``interactions[i].item``); ``"create"``
            creates each missing item as an empty-text document with no
            metadata, through :func:`upsert_documents` so the change log (and
            so every space) sees it, in this same transaction.

    Raises:
        NotFound: no such collection.
        Conflict: the collection is not of kind items (``not_an_items_collection``).
        InvalidInput: an unknown item with ``unknown_items="reject"`` (``unknown_item``).
    """
    if unknown_items not in ("reject", "create"):
        raise InvalidInput(
            f"unknown_items must be 'reject' or 'create', not {unknown_items!r}", field="unknown_items"
        )
    collection = get_collection(session, collection_name, lock=True)
    require_items(collection)
    ids = known_items(session, collection.id, (r.item for r in records))
    missing = list(dict.fromkeys(r.item for r in records if r.item not in ids))
    created = 0
    if missing:
        if unknown_items == "reject":
            i = next(i for i, r in enumerate(records) if r.item not in ids)
            raise UnknownItem(
                f"item {records[i].item!r} is not in collection {collection_name!r} "
                "(add it first, or send unknown_items 'create')",
                field=f"{field_prefix}[{i}].item",
            )
        result = upsert_documents(
            session, collection_name, [DocumentIn(external_id=e, text="") for e in missing], require_vectors=False
        )
        ids.update(zip(missing, result.ids))
        created = result.created
    if records:
        session.execute(
            insert(InteractionRow),
            [
                {
                    "collection_id": collection.id,
                    "user_id": r.user,
                    "item_id": ids[r.item],
                    "ts": _utc(r.timestamp),
                    "event": r.event,
                    "weight": r.weight,
                    "created_at": datetime.now(timezone.utc),
                }
                for r in records
            ],
        )
    session.flush()
    return IngestResult(inserted=len(records), created_items=created)


_COLUMNS = (
    InteractionRow.user_id,
    InteractionRow.item_id,
    InteractionRow.ts,
    InteractionRow.weight,
    InteractionRow.event,
)


def _interaction(row) -> Interaction:  # type: ignore[no-untyped-def]
    return Interaction(user=row.user_id, item=row.item_id, ts=_epoch(row.ts), weight=row.weight, event=row.event)


def iter_interactions(
    session_or_db: Session | Database, collection_id: int, *, before: datetime | None = None
) -> Iterator[Interaction]:
    """Stream a collection's interactions ordered by user, time, id, in chunks.

    ``yield_per`` keeps memory flat however long the log (a server-side cursor
    on PostgreSQL); the (collection_id, user_id, ts) index serves the order.
    ``before`` keeps only events strictly before that instant (naive means
    UTC), for training on the past and evaluating on the rest.
    """
    stmt = select(*_COLUMNS).where(InteractionRow.collection_id == collection_id)
    if before is not None:
        stmt = stmt.where(InteractionRow.ts < _utc(before))
    stmt = stmt.order_by(InteractionRow.user_id, InteractionRow.ts, InteractionRow.id).execution_options(
        yield_per=_YIELD_PER
    )
    if isinstance(session_or_db, Database):
        with session_or_db.sessions() as session:
            for row in session.execute(stmt):
                yield _interaction(row)
    else:
        for row in session_or_db.execute(stmt):
            yield _interaction(row)


def load_interactions(
    session_or_db: Session | Database, collection_id: int, *, before: datetime | None = None
) -> list[Interaction]:
    """Every interaction of a collection (``ts`` in epoch seconds), ordered by user, time, id.

    See :func:`iter_interactions` to consume them without a list.
    """
    return list(iter_interactions(session_or_db, collection_id, before=before))


def count_interactions(session: Session, collection_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(InteractionRow).where(InteractionRow.collection_id == collection_id)
    ) or 0


def user_history(session: Session, collection_id: int, user: str, limit: int) -> list[Interaction]:
    """A user's ``limit`` most recent interactions, returned oldest first.

    Raises:
        NotFound: the user has no interaction in this collection (``user_not_found``).
    """
    rows = session.execute(
        select(*_COLUMNS)
        .where(InteractionRow.collection_id == collection_id, InteractionRow.user_id == user)
        .order_by(InteractionRow.ts.desc(), InteractionRow.id.desc())
        .limit(max(1, limit))
    ).all()
    if not rows:
        raise UserNotFound(f"user {user!r} has no interactions in this collection", field="user")
    return [_interaction(r) for r in reversed(rows)]


class InteractionSequences:
    """A collection's training sequences for item2vec: re-iterable and sized, as ``fit`` expects.

    Built with :func:`embedders.item2vec.sequences.build_sequences` (per user,
    split into sessions at gaps longer than ``gap_seconds``, positive weights
    only, sessions shorter than ``min_length`` dropped). The log is read once, on
    first use, and the sequences are kept in memory: a list of item-id lists is
    small next to the model at the scale we serve (tens of millions of events
    would call for an on-disk or per-user streaming form instead).
    """

    def __init__(
        self,
        db: Session | Database,
        collection_id: int,
        gap_seconds: float | None,
        min_length: int = 2,
        *,
        before: datetime | None = None,
    ) -> None:
        self._db = db
        self._collection_id = collection_id
        self._gap_seconds = gap_seconds
        self._min_length = min_length
        self._before = before
        self._sequences: list[list[int]] | None = None

    def _materialise(self) -> list[list[int]]:
        if self._sequences is None:
            self._sequences = build_sequences(
                iter_interactions(self._db, self._collection_id, before=self._before),
                self._gap_seconds,
                min_length=self._min_length,
            )
        return self._sequences

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._materialise())

    def __len__(self) -> int:
        return len(self._materialise())


def interaction_sequences(db: Database, collection_id: int, spec: object) -> InteractionSequences:
    """The training sequences an item2vec-like spec asks for (its session gap and minimum length)."""
    gap_minutes = getattr(spec, "session_gap_minutes", None)
    return InteractionSequences(
        db,
        collection_id,
        None if gap_minutes is None else float(gap_minutes) * 60.0,
        int(getattr(spec, "min_session_length", 2)),
    )
