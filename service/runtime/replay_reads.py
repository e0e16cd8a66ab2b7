"""The catch-up's two reads (the change log after a change id, the changed documents' state) on the driver.

A loaded space replays the change log after every write of its collection: for a
batch of 1,000 documents, 1,000 change rows and then those 1,000 documents'
texts and hashes. Built as SQLAlchemy statements
(:func:`service.store.repository.changes_after` and ``documents_by_ids``) the
statement machinery and its expanding ``IN`` of 1,000 parameters cost 3-4x the
queries themselves (4.5 ms against 1.3 ms for the change rows, 7.8 ms for the
documents). Here each is one fixed statement per dialect: the same rows, the same
order, the same results, without compiling anything per call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from ..store.repository import changes_after, documents_by_ids


class DocumentRow(NamedTuple):
    """What a catch-up needs of a document (the fields of ``repository.DocumentState``): a named tuple
    builds in half the time of that frozen dataclass, and a page builds 1,000 of them."""

    id: int
    text: str
    content_hash: str


_CHANGES = {
    "sqlite": "SELECT id, document_id FROM changes WHERE collection_id = ? AND id > ? ORDER BY id LIMIT ?",
    "postgresql": "SELECT id, document_id FROM changes WHERE collection_id = %s AND id > %s ORDER BY id LIMIT %s",
}
_DOCUMENTS = {
    # One JSON array parameter expanded by SQLite in C (see service.store.bulk_writes.in_values).
    "sqlite": "SELECT id, text, content_hash FROM documents WHERE id IN (SELECT value FROM json_each(?))",
    "postgresql": "SELECT id, text, content_hash FROM documents WHERE id = ANY(%s::bigint[])",
}


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _rows(session: Session, sql: str, params: tuple[Any, ...]) -> Any:
    """The statement's rows (tuple-like) on the session's connection, after the autoflush ``session.execute``
    would do."""
    session.flush()
    return session.connection().exec_driver_sql(sql, params).fetchall()


def changes_page(session: Session, collection_id: int, after_id: int, limit: int) -> list[tuple[int, int]]:
    """(change id, document id) pairs after ``after_id``, oldest first (as ``repository.changes_after``)."""
    sql = _CHANGES.get(_dialect(session))
    if sql is None:  # another dialect: the portable statement
        return changes_after(session, collection_id, after_id, limit)
    return [(i, doc_id) for i, doc_id in _rows(session, sql, (collection_id, after_id, limit))]


def document_states(session: Session, ids: Sequence[int]) -> dict[int, DocumentRow]:
    """The current SQL state of these documents (absent: deleted), by id (as ``repository.documents_by_ids``)."""
    if not ids:
        return {}
    dialect = _dialect(session)
    sql = _DOCUMENTS.get(dialect)
    if sql is None:
        return {i: DocumentRow(d.id, d.text, d.content_hash) for i, d in documents_by_ids(session, ids).items()}
    id_list = [int(i) for i in ids]
    param = json.dumps(id_list) if dialect == "sqlite" else id_list
    return {row[0]: DocumentRow(*row) for row in _rows(session, sql, (param,))}
