"""Per-process cache of :class:`~.filter_columns.MetadataColumns`, one per collection, kept in step with SQL.

Why: a filter resolved in SQL scans every document's JSON; the columns answer
it in memory. They stay exact through the change log: every upsert that
changes a document and every delete appends a ``changes`` row in the same
transaction, and change ids commit in order within a collection. A copy
remembers the last change it reflects; before answering for a caller whose
snapshot has seen ``head_change_id``, it reads the changes after its own up
to that head, then the *current* metadata of those documents (present:
upsert, gone: remove). Re-reading the current row is idempotent, which is
what makes a load that races with writers safe: the change id is read
before the rows, so anything a row read might have missed (or seen early)
is replayed by the next catch-up.

Locking, per collection: ``refresh`` serialises loads and catch-ups (it is
held across SQL); ``data`` guards the columns and is held only for memory
work (applying a fetched batch, evaluating a filter). A reader whose head the
copy already covers takes only ``data``, so it never waits on SQL. A reader
may get an answer *newer* than its head (another thread caught up further);
that is the same as SQL answering from a later snapshot.

On SQLite, ids are ``max + 1``: a deleted collection's id (and, if it held the
newest changes, its change ids) can come back for a new collection, so the
owner must call :meth:`FilterColumnsCache.forget` when it deletes one; as a
second guard a copy is reloaded when the collection's name differs.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..store.db import Database
from ..store.filter_tree import Node
from ..store.models import Change, Document
from indexers.masked_ids import id_mask

from .filter_columns import MetadataColumns, NotExact

logger = logging.getLogger(__name__)

DOCUMENTS = Document.__table__
CHANGES = Change.__table__
META = DOCUMENTS.c["metadata"]

LOAD_BATCH = 10_000
"""Rows per fetch when loading a collection, and changes per read when catching up (bounded memory per round trip)."""
ID_CHUNK = 1_000
"""Document ids per ``IN`` list when re-reading changed documents (SQLite caps bound parameters)."""
RESULT_BYTES = 64 << 20
"""Bytes of filter answers remembered per collection (a broad filter at 1M documents is ~8 MB)."""


@dataclass
class _Copy:
    """One collection's columns, the change id they reflect, and the two locks (see the module docstring)."""

    name: str
    columns: MetadataColumns | None = None
    change_id: int = 0
    refresh: threading.Lock = field(default_factory=threading.Lock)
    data: threading.Lock = field(default_factory=threading.Lock)
    loader: threading.Thread | None = None
    results: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    """Answers to filters asked since the columns last changed (emptied, under ``data``, whenever they do)."""
    result_bytes: int = 0

    def changed(self) -> None:
        """The columns moved on: no remembered answer holds any more (call under ``data``)."""
        self.results.clear()
        self.result_bytes = 0

    def remember(self, key: str, answer: np.ndarray) -> None:
        """Keep an answer (read-only from now on: callers share it), least recently used out first."""
        size = answer.nbytes + sum(a.nbytes for a in _masks_of(answer))
        if size > RESULT_BYTES // 4:
            return
        answer.flags.writeable = False
        for mask in _masks_of(answer):
            mask.flags.writeable = False
        self.results[key] = answer
        self.result_bytes += size
        while self.result_bytes > RESULT_BYTES:
            _, old = self.results.popitem(last=False)
            self.result_bytes -= old.nbytes + sum(a.nbytes for a in _masks_of(old))


def _masks_of(answer: np.ndarray) -> list[np.ndarray]:
    found = id_mask(answer)
    return [] if found is None else [found[1]]


def _collection_of(ref: Any) -> tuple[int, str]:
    """(id, name) of a :class:`~service.store.repository.SpaceRef` or a :class:`~service.store.models.Collection`."""
    if hasattr(ref, "collection_id"):
        return int(ref.collection_id), str(ref.collection_name)
    return int(ref.id), str(ref.name)


class FilterColumnsCache:
    """Filters answered from in-memory columns; :meth:`ids` returns None where SQL must answer instead.

    ``max_collections`` bounds how many collections are held (least recently
    used goes first); ``reload_fraction``: a catch-up touching more documents
    than this fraction of the copy (and at least ``LOAD_BATCH``) reloads instead,
    since one sequential scan beats that many ``IN`` lookups.
    ``background_load``: a collection's first load (seconds at a million
    documents: every row's JSON is decoded) runs in a thread of its own
    (sessions from ``db``) while :meth:`ids` answers None, so that query and the
    ones after it go to SQL instead of waiting; catch-ups still run inline (small).
    """

    def __init__(
        self,
        db: Database | None = None,
        *,
        max_collections: int | None = None,
        reload_fraction: float = 0.5,
        compact_min: int = 1024,
        background_load: bool = False,
    ) -> None:
        self.db = db
        self.background_load = background_load and db is not None
        self.max_collections = max_collections
        self.reload_fraction = reload_fraction
        self.compact_min = compact_min
        self._copies: OrderedDict[int, _Copy] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0
        self.catch_ups = 0

    # ------------------------------------------------------------------------- public

    def ids(self, session_or_db: Session | Database | None, ref: Any, head_change_id: int, tree: Node) -> np.ndarray | None:
        """Sorted int64 ids of the documents ``tree`` matches, as of at least ``head_change_id``.

        ``session_or_db``: the caller's session (reads run in it), a Database
        (a short session of its own), or None (this cache's ``db``). ``ref``: a
        SpaceRef or Collection. Returns None when the columns cannot answer
        exactly (:class:`NotExact`: a number field holding integers beyond 2**53):
        the caller resolves the filter in SQL. SQL errors propagate and leave
        the copy as it was.
        """
        collection_id, name = _collection_of(ref)
        copy = self._copy(collection_id, name)
        if copy.columns is None and self.background_load:
            self._load_in_background(collection_id, copy)
            return None
        if copy.columns is None or copy.change_id < head_change_id:
            with copy.refresh:
                if copy.columns is None or copy.change_id < head_change_id:
                    with self._session(session_or_db) as session:
                        if copy.columns is None:
                            self._load(session, collection_id, copy)
                        if copy.change_id < head_change_id:
                            self._catch_up(session, collection_id, copy, head_change_id)
        key = repr(tree)  # repr, not the tree: True, 1 and 1.0 hash alike
        with copy.data:
            assert copy.columns is not None
            remembered = copy.results.get(key)
            if remembered is not None:
                copy.results.move_to_end(key)
                return remembered
            try:
                answer = copy.columns.matching(tree)
            except NotExact:
                return None
            copy.remember(key, answer)
            return answer

    def warm(self, session_or_db: Session | Database | None, ref: Any) -> None:
        """Load a collection's copy now, if it is not loaded (e.g. at startup, so no query pays for it)."""
        collection_id, name = _collection_of(ref)
        copy = self._copy(collection_id, name)
        with copy.refresh:
            if copy.columns is None:
                with self._session(session_or_db) as session:
                    self._load(session, collection_id, copy)

    def wait_loaded(self, collection_id: int, timeout: float | None = None) -> bool:
        """Wait for a background load of the collection to end; whether a copy is loaded now."""
        with self._lock:
            copy = self._copies.get(collection_id)
        if copy is not None and copy.loader is not None:
            copy.loader.join(timeout)
        return copy is not None and copy.columns is not None

    def forget(self, collection_id: int) -> None:
        """Drop a collection's copy (call it when the collection is deleted)."""
        with self._lock:
            self._copies.pop(collection_id, None)

    def clear(self) -> None:
        with self._lock:
            self._copies.clear()

    def change_id(self, collection_id: int) -> int | None:
        """The last change the collection's copy reflects; None when none is loaded."""
        with self._lock:
            copy = self._copies.get(collection_id)
        return copy.change_id if copy is not None and copy.columns is not None else None

    def current(self, collection_id: int, head_change_id: int) -> bool:
        """Whether :meth:`ids` would answer this head from memory alone (a copy loaded and caught up to it)."""
        change = self.change_id(collection_id)
        return change is not None and change >= head_change_id

    def columns(self, collection_id: int) -> MetadataColumns | None:
        """The loaded copy (for tests and statistics: read it only under no concurrent :meth:`ids`)."""
        with self._lock:
            copy = self._copies.get(collection_id)
        return copy.columns if copy is not None else None

    # ------------------------------------------------------------------------- internals

    def _copy(self, collection_id: int, name: str) -> _Copy:
        with self._lock:
            copy = self._copies.get(collection_id)
            if copy is None or copy.name != name:
                copy = self._copies[collection_id] = _Copy(name)
            self._copies.move_to_end(collection_id)
            if self.max_collections is not None:
                while len(self._copies) > self.max_collections:
                    self._copies.popitem(last=False)
            return copy

    def _load_in_background(self, collection_id: int, copy: _Copy) -> None:
        with self._lock:
            if copy.loader is not None and copy.loader.is_alive():
                return
            copy.loader = threading.Thread(
                target=self._background, args=(collection_id, copy), name=f"filter-columns-{collection_id}", daemon=True
            )
            copy.loader.start()

    def _background(self, collection_id: int, copy: _Copy) -> None:
        """Load, swallowing errors: the copy stays unloaded and the next :meth:`ids` starts another try."""
        try:
            with copy.refresh:
                if copy.columns is None:
                    with self._session(None) as session:
                        self._load(session, collection_id, copy)
        except Exception:  # noqa: BLE001 - SQL answers meanwhile; logged for the operator
            logger.exception("loading the filter columns of collection %s failed", collection_id)

    @contextmanager
    def _session(self, session_or_db: Session | Database | None) -> Iterator[Session]:
        if isinstance(session_or_db, Session):
            yield session_or_db
            return
        db = session_or_db if session_or_db is not None else self.db
        if db is None:
            raise ValueError("FilterColumnsCache needs a session or a Database")
        with db.sessions() as session:
            yield session

    def _load(self, session: Session, collection_id: int, copy: _Copy) -> None:
        """Stream every (id, metadata) row from one scan; the change id is read first (see module doc).

        One unordered scan, fetched ``LOAD_BATCH`` rows at a time (a server-side
        cursor on PostgreSQL): keyset pages (``id > last ORDER BY id LIMIT``) would
        each re-scan the collection on SQLite, whose planner picks the
        (collection_id, external_id) index and sorts, quadratic in the size.
        """
        base = session.scalar(select(func.max(CHANGES.c.id)).where(CHANGES.c.collection_id == collection_id)) or 0
        columns = MetadataColumns(self.compact_min)
        result = session.execute(
            select(DOCUMENTS.c.id, META)
            .where(DOCUMENTS.c.collection_id == collection_id)
            .execution_options(yield_per=LOAD_BATCH)
        )
        columns.load((int(r[0]), r[1]) for r in result)
        with copy.data:
            copy.columns, copy.change_id = columns, int(base)
            copy.changed()
        with self._lock:
            self.loads += 1

    def _catch_up(self, session: Session, collection_id: int, copy: _Copy, head: int) -> None:
        """Apply the changes in (copy.change_id, head]: re-read those documents, upsert or remove each."""
        assert copy.columns is not None
        changed: dict[int, None] = {}
        last = copy.change_id
        limit = max(LOAD_BATCH, int(len(copy.columns) * self.reload_fraction))
        while True:
            batch = session.execute(
                select(CHANGES.c.id, CHANGES.c.document_id)
                .where(CHANGES.c.collection_id == collection_id, CHANGES.c.id > last, CHANGES.c.id <= head)
                .order_by(CHANGES.c.id)
                .limit(LOAD_BATCH)
            ).all()
            changed.update((int(r[1]), None) for r in batch)
            if batch:
                last = int(batch[-1][0])
            if len(changed) > limit:
                self._load(session, collection_id, copy)  # cheaper than that many lookups
                if copy.change_id < head:
                    self._catch_up(session, collection_id, copy, head)
                return
            if len(batch) < LOAD_BATCH:
                break
        ids = list(changed)
        present: dict[int, Any] = {}
        for i in range(0, len(ids), ID_CHUNK):
            chunk = ids[i : i + ID_CHUNK]
            rows = session.execute(
                select(DOCUMENTS.c.id, META).where(
                    DOCUMENTS.c.collection_id == collection_id, DOCUMENTS.c.id.in_(chunk)
                )
            )
            present.update((int(r[0]), r[1]) for r in rows)
        with copy.data:
            copy.columns.remove_many(d for d in ids if d not in present)
            copy.columns.upsert_many(present.items())
            copy.change_id = max(copy.change_id, last)
            copy.changed()
        with self._lock:
            self.catch_ups += 1
