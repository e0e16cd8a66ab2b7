"""The SQL half of an upsert or a delete: one SELECT, bulk writes, the change rows (no ORM objects).

:func:`service.store.repository.upsert_documents` validates the whole batch
first (duplicates, blank texts, metadata schema, given vectors); what is left
is plain row work, done here in a handful of statements whatever the batch
size (see :mod:`.bulk_writes` for why not the unit of work):

1. :func:`plan_upsert`: the batch's texts and hashes, and one SELECT (chunked
   for huge batches) of the rows that already exist, by external id;
2. :func:`write_upsert`: one multi-row INSERT of the new documents (returning
   their ids with their external ids, so nothing depends on the order the
   database returns rows in), one executemany UPDATE of the changed ones,
   then one INSERT of the change rows, in input order, so change ids follow
   the batch and a catch-up replays it as sent.

Everything runs in the caller's transaction: a failure anywhere leaves no row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..schemas import DocumentIn
from .bulk_writes import delete_in, in_values, insert_rows, update_rows
from .models import Change, Document, utcnow

SELECT_CHUNK = 5_000
"""External ids per lookup query (bounds the size of one statement's parameter for a huge batch)."""

DOCUMENTS = Document.__table__
CHANGES = Change.__table__


def content_hash(text: str) -> str:
    """Identity of a text for vector reuse: unchanged text is never embedded twice."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stored_text(doc: DocumentIn) -> str:
    """The text as stored: a blank item text is no text (left out of text corpora)."""
    text = doc.text
    return text if text.strip() else ""


@dataclass
class UpsertPlan:
    """What the batch finds in SQL, per input position: texts, hashes, the existing row's id if any."""

    texts: list[str]
    hashes: list[str]
    existing: list[int | None]
    changed: set[int] = field(default_factory=set)
    """Positions of existing documents whose text or metadata differs from the stored row."""

    @property
    def known_positions(self) -> list[int]:
        return [i for i, doc_id in enumerate(self.existing) if doc_id is not None]

    @property
    def known_ids(self) -> list[int]:
        return [doc_id for doc_id in self.existing if doc_id is not None]


@dataclass(frozen=True)
class Written:
    """What :func:`write_upsert` did: the counts, and every document's id in input order."""

    created: int
    updated: int
    unchanged: int
    ids: list[int]


def plan_upsert(session: Session, collection_id: int, docs: Sequence[DocumentIn]) -> UpsertPlan:
    """Texts, hashes and the existing rows of the batch (one SELECT per :data:`SELECT_CHUNK` ids)."""
    texts = [stored_text(d) for d in docs]
    hashes = [content_hash(t) for t in texts]
    external = [d.external_id for d in docs]
    found: dict[str, tuple[int, str, Any]] = {}
    for start in range(0, len(external), SELECT_CHUNK):
        rows = session.execute(
            select(Document.external_id, Document.id, Document.content_hash, Document.meta).where(
                Document.collection_id == collection_id,
                in_values(session, Document.external_id, external[start : start + SELECT_CHUNK]),
            )
        )
        found.update((r[0], (r[1], r[2], r[3])) for r in rows)
    existing: list[int | None] = []
    changed: set[int] = set()
    for i, ext in enumerate(external):
        row = found.get(ext)
        if row is None:
            existing.append(None)
            continue
        existing.append(row[0])
        if row[1] != hashes[i] or row[2] != docs[i].metadata:
            changed.add(i)
    return UpsertPlan(texts, hashes, existing, changed)


def write_upsert(
    session: Session, collection_id: int, docs: Sequence[DocumentIn], plan: UpsertPlan, new_vectors: set[int]
) -> Written:
    """Insert the new documents, update the changed ones (``plan.changed`` and those whose given vector
    changed, ``new_vectors``), and log one change per touched document in input order."""
    now = utcnow()
    new = [i for i, doc_id in enumerate(plan.existing) if doc_id is None]
    ids: list[int] = [doc_id or 0 for doc_id in plan.existing]
    if new:
        returned = insert_rows(
            session,
            DOCUMENTS,
            ("external_id", "text", "metadata", "content_hash"),
            [(docs[i].external_id, plan.texts[i], docs[i].metadata, plan.hashes[i]) for i in new],
            constants={"collection_id": collection_id, "created_at": now, "updated_at": now},
            returning=("external_id", "id"),
        )
        by_external = dict(returned)
        for i in new:
            ids[i] = int(by_external[docs[i].external_id])
    updated = sorted(plan.changed | new_vectors)
    if updated:
        update_rows(
            session,
            DOCUMENTS,
            ("text", "metadata", "content_hash"),
            "id",
            [(plan.texts[i], docs[i].metadata, plan.hashes[i], ids[i]) for i in updated],
            constants={"updated_at": now},
        )
    touched = set(new).union(updated)
    log_changes(session, collection_id, [ids[i] for i in range(len(docs)) if i in touched], "upsert", now)
    if updated:
        _expire_documents(session)
    return Written(len(new), len(updated), len(docs) - len(new) - len(updated), ids)


def log_changes(session: Session, collection_id: int, doc_ids: Sequence[int], op: str, now: Any = None) -> None:
    """Append one change row per document, ids increasing in the given order (one multi-row INSERT)."""
    insert_rows(
        session,
        CHANGES,
        ("document_id",),
        [(doc_id,) for doc_id in doc_ids],
        constants={"collection_id": collection_id, "op": op, "created_at": now or utcnow()},
    )


def delete_rows(session: Session, collection_id: int, doc_ids: Sequence[int]) -> None:
    """Delete these documents and log each (stored vectors and interactions go by ON DELETE CASCADE)."""
    delete_in(session, DOCUMENTS, {"collection_id": collection_id}, "id", list(doc_ids))
    log_changes(session, collection_id, doc_ids, "delete")
    _expire_documents(session)


def _expire_documents(session: Session) -> None:
    """Rows changed behind the ORM's back: a Document the session had loaded is read again on next use
    (the ORM path updated or deleted the loaded objects themselves)."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Document):
            session.expire(obj)
