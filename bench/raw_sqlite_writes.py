"""The raw sqlite3 write of one batch of documents and their change rows, shared by the ingest benchmarks'
raw references (bench_ingest_fast.py's ``raw_sqlite``, ingest_fast_space.py's ``raw_pipeline``)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from typing import Any


def write_batch(con: sqlite3.Connection, collection_id: int, batch: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """One transaction: the documents (JSON metadata and sha256 computed here, as vecdex does) and one change row
    each by ``INSERT ... SELECT``. Returns the largest document id before the batch and the texts' hashes."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    hashes = [hashlib.sha256(d["text"].encode("utf-8")).hexdigest() for d in batch]
    rows = [(collection_id, d["external_id"], d["text"], json.dumps(d["metadata"]), h, now, now)
            for d, h in zip(batch, hashes)]
    con.execute("BEGIN")
    last = con.execute("SELECT coalesce(max(id), 0) FROM documents").fetchone()[0]
    con.executemany(
        "INSERT INTO documents (collection_id, external_id, text, metadata, content_hash, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute(
        "INSERT INTO changes (collection_id, document_id, op, created_at) SELECT ?, id, 'upsert', ? FROM documents "
        "WHERE collection_id = ? AND id > ? ORDER BY id", (collection_id, now, collection_id, last))
    con.execute("COMMIT")
    return int(last), hashes
