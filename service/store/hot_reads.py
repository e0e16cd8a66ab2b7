"""The two reads every query makes, as fixed SQL run on the driver: the space's state and the hits.

Why not the ORM or Core here, as everywhere else: on a cheap query the SQL
work is tiny (SQLite's own C code was ~4 % of it) and what cost was
SQLAlchemy's statement building, cache-key generation, session open/close and
result processing — ~1.9 ms of a 5 ms HTTP search, more than the embedding and
the index search together. These statements never change shape (only the
number of ids in a hydration), so each is written once per dialect and run on
a pooled DBAPI connection; everything they return is turned into the same
values the ORM path gives (``SpaceRef``, ``HitRow``).

On PostgreSQL what is read is read on every request: the change-log head and
the space's status and generation come from SQL each time, so several
processes over one database stay in step; only the parsing of the
collection's metadata schema is remembered, keyed by its text. On SQLite both
reads are also remembered while ``PRAGMA data_version`` says nothing was
committed since (:mod:`.read_cache`): a query of an unchanged database then
asks SQLite one pragma and nothing else, and the first commit by anyone, in
this process or another, sends the next query back to SQL.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Engine

from .db import Database
from .read_cache import VersionedCache
from .repository import HitRow, SpaceRef, missing_space

_SPACE_STATE = """
SELECT c.id, {schema}, s.id, s.name, s.status, {error}, s.embedder_type, s.store_vectors,
       s.built_change_id, s.generation,
       (SELECT max(ch.id) FROM changes ch WHERE ch.collection_id = c.id)
FROM collections c LEFT JOIN spaces s ON s.collection_id = c.id AND {space_test}
WHERE c.name = {p}
"""
_HITS = "SELECT id, external_id, {text}, {meta} FROM documents WHERE id IN ({marks})"
_ANY_KEY = "SELECT 1 FROM api_keys LIMIT 1"

NO_KEYS_TTL = 1.0
"""Seconds a server without keys trusts that answer before asking SQL again (see ``HotReads.any_key``)."""

_SCHEMA_CACHE = 256
"""Parsed metadata schemas remembered (one per collection in use; a schema changes only as fields appear)."""

_STATE_CACHE = 1024
"""(collection, space) states remembered on SQLite while the database is unchanged."""
_ROW_CACHE = 20_000
"""Hit rows remembered on SQLite while the database is unchanged (only snippets and texts up to
:data:`_ROW_TEXT_MAX` characters: whole long texts are read each time)."""
_ROW_TEXT_MAX = 2_000
_SERIALIZED = sqlite3.threadsafety == 3
"""SQLite built serialized: threads may use one connection at once (else its pragma runs under a lock)."""
_EPOCH = 1 << 40
"""Versions are ``connection epoch * _EPOCH + data_version``: a replaced watching connection counts
afresh, and its numbers must never meet the old one's."""


@dataclass(frozen=True)
class SpaceState:
    """A space as the query path needs it, and the head of its collection's change log, read together."""

    ref: SpaceRef
    head: int
    version: int | None = None
    """SQLite's data version this was read under (None on PostgreSQL): a caller hands it to :meth:`HotReads.hit_rows`
    so one search asks the pragma once."""


class HotReads:
    """Prepared-once statements for the query path, per dialect (SQLite ``?``, psycopg ``%s``)."""

    def __init__(self, db: Database) -> None:
        self._engine: Engine = db.engine
        pg = db.dialect == "postgresql"
        p = "%s" if pg else "?"
        self._p = p
        text_of = (lambda col: f"{col}::text") if pg else (lambda col: col)
        self._by_name = _SPACE_STATE.format(
            schema=text_of("c.metadata_schema"), error=text_of("s.error"), space_test=f"s.name = {p}", p=p
        )
        self._by_default = _SPACE_STATE.format(
            schema=text_of("c.metadata_schema"), error=text_of("s.error"), space_test="s.id = c.default_space_id", p=p
        )
        self._hits_full = _HITS.replace("{text}", "text").replace("{meta}", text_of("metadata"))
        self._hits_snippet = _HITS.replace("{text}", f"substr(text, 1, {p})").replace("{meta}", text_of("metadata"))
        self._schemas: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._pg = pg
        self._probe: Any = None
        self._probe_lock = threading.Lock()
        self._probe_epoch = 0
        self._no_keys_until = 0.0
        self._states: VersionedCache[tuple[str, str | None], SpaceState] = VersionedCache(_STATE_CACHE)
        self._rows: VersionedCache[int, tuple[HitRow, int]] = VersionedCache(_ROW_CACHE)

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A DBAPI cursor on a pooled connection; the pool rolls the read transaction back on return."""
        conn = self._engine.raw_connection()
        try:
            cur = conn.cursor()
            try:
                yield cur
            finally:
                cur.close()
        finally:
            conn.close()

    def data_version(self) -> int | None:
        """SQLite's data version as seen by the watching connection (None on PostgreSQL: nothing is cached).

        It changes whenever another connection, of this process or another, has committed; it never
        goes back (see :mod:`.read_cache`).
        """
        if self._pg:
            return None
        with self._probe_lock:  # to open (or reopen) the connection; SQL under it only where SQLite is not serialized
            conn = self._probe_connection()
            epoch = self._probe_epoch
            if not _SERIALIZED:
                return epoch * _EPOCH + self._ask_version(conn)
        # Concurrent searches ask on the one connection at once. Asking under the lock made each
        # search wait for the one before it to get the GIL back after SQLite.
        return epoch * _EPOCH + self._ask_version(conn)

    def _ask_version(self, conn: Any) -> int:
        try:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])
        except Exception:
            with self._probe_lock if _SERIALIZED else contextlib.nullcontext():
                if self._probe is conn:
                    self._close_probe()
            raise

    def space_state(self, collection: str, space: str | None) -> SpaceState:
        """Collection + space (the default one when ``space`` is None) + change-log head, in one statement
        (on SQLite, remembered while the database is unchanged).

        Raises the same ``collection_not_found`` / ``space_not_found`` as the ORM path.
        """
        version = self.data_version()
        key = (collection, space)
        if version is not None:
            state = self._states.get(version, key)
            if state is not None:
                return state
        with self.cursor() as cur:
            state = self._read_state(cur, collection, space)
        if version is not None:
            state = replace(state, version=version)
            self._states.put(version, key, state)
        return state

    def _read_state(self, cur: Any, collection: str, space: str | None) -> SpaceState:
        if space is None:
            cur.execute(self._by_default, (collection,))
        else:
            cur.execute(self._by_name, (space, collection))
        row = cur.fetchone()
        if row is None or row[2] is None:
            raise missing_space(collection, space, collection_found=row is not None)
        cid, schema, sid, name, status, error, family, store, built, generation, head = row
        ref = SpaceRef(
            id=sid,
            name=name,
            collection_id=cid,
            collection_name=collection,
            metadata_schema=self._schema(schema),
            status=status,
            error=json.loads(error) if error else None,
            embedder_type=family,
            store_vectors=bool(store),
            built_change_id=built,
            generation=generation or 0,
        )
        return SpaceState(ref, head or 0)

    def _schema(self, text: str | None) -> dict[str, str]:
        """The parsed schema for this exact text (shared, never mutated by readers)."""
        if not text:
            return {}
        parsed = self._schemas.get(text)
        if parsed is None:
            parsed = json.loads(text)
            with self._lock:
                if len(self._schemas) >= _SCHEMA_CACHE:
                    self._schemas.clear()
                self._schemas[text] = parsed
        return parsed

    def hit_rows(self, ids: Sequence[int], snippet: int, version: int | None = None) -> dict[int, HitRow]:
        """What each hit shows (external id, the first ``snippet`` characters or all of the text, metadata);
        a deleted id is absent. On SQLite rows read under the current data version are reused (a row read
        with a longer snippet, or whole, serves a shorter one).

        ``version``: the data version the search's :meth:`space_state` was read under, instead of asking
        the pragma again. Rows remembered under it are as of that moment or later, never older; if a
        commit has moved the version on since, the cache holds the newer version's rows (or none) and
        SQL is read."""
        if not ids:
            return {}
        if version is None and not self._pg:
            version = self.data_version()
        if version is None:
            with self.cursor() as cur:
                return self._read_rows(cur, ids, snippet)
        rows: dict[int, HitRow] = {}
        missing: list[int] = []
        for doc_id in ids:
            entry = self._rows.get(version, doc_id)
            if entry is not None and (entry[1] == 0 or (snippet and entry[1] >= snippet)):
                row = entry[0]
                rows[doc_id] = row if not snippet or len(row.text) <= snippet else replace(row, text=row.text[:snippet])
            else:
                missing.append(doc_id)
        if missing:
            with self.cursor() as cur:
                read = self._read_rows(cur, missing, snippet)
            for doc_id, row in read.items():
                if len(row.text) <= _ROW_TEXT_MAX:
                    self._rows.put(version, doc_id, (row, snippet))
            rows.update(read)
        return rows

    def _read_rows(self, cur: Any, ids: Sequence[int], snippet: int) -> dict[int, HitRow]:
        marks = ", ".join([self._p] * len(ids))
        if snippet:
            cur.execute(self._hits_snippet.replace("{marks}", marks), (snippet, *ids))
        else:
            cur.execute(self._hits_full.replace("{marks}", marks), tuple(ids))
        return {
            row[0]: HitRow(row[1], row[2] or "", json.loads(row[3]) if row[3] else {}) for row in cur.fetchall()
        }

    def any_key(self) -> bool:
        """Whether any API key row exists (revoked ones included).

        Asked on every request of a server without keys, from the event loop. A "no" is remembered for
        :data:`NO_KEYS_TTL` seconds: probing SQL from the loop thread means giving up the GIL and waiting to
        get it back, which under concurrent load cost more than a search (measured). A key created
        through this process is seen at once (:meth:`key_created`); one created by another process
        (``vecdex keys create`` beside a running server) within that second. The probe runs on a
        connection of its own, outside the pool, in autocommit (no checkout, no transaction to roll back,
        no snapshot held between probes); a connection that failed is replaced on the next probe.
        """
        if time.monotonic() < self._no_keys_until:
            return False
        with self._probe_lock:
            try:
                conn = self._probe_connection()
                cur = conn.cursor()
                try:
                    cur.execute(_ANY_KEY)
                    found = cur.fetchone() is not None
                finally:
                    cur.close()
            except Exception:
                self._close_probe()
                raise
        if not found:
            self._no_keys_until = time.monotonic() + NO_KEYS_TTL
        return found

    def key_created(self) -> None:
        """A key now exists: stop remembering that there was none."""
        self._no_keys_until = 0.0

    def _probe_connection(self) -> Any:
        if self._probe is None:
            proxied = self._engine.raw_connection()
            proxied.detach()  # ours until closed: the pool neither resets nor hands it out
            conn = proxied.dbapi_connection
            if self._pg:
                conn.autocommit = True
            self._probe = conn
            self._probe_epoch += 1
        return self._probe

    def close(self) -> None:
        """Close the probe's own connection (the pool's are the engine's to dispose)."""
        with self._probe_lock:
            self._close_probe()

    def _close_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            with contextlib.suppress(Exception):  # already broken: nothing left to release
                probe.close()
