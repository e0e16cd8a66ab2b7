"""Stored float32 vectors per space and generation (the ``vectors`` table).

They let a space's index be rebuilt or caught up without re-embedding, and let
a re-upserted document whose text did not change keep its vector.

Rows are keyed by the space generation whose embedder produced them. A trained
embedder (word2vec, doc2vec, bilstm) gives every generation its own vector
space, so its rows are only ever read by the same generation: a rebuild writes
generation g+1 beside the served generation g, the generation switch makes them
the live ones in the same commit, and a process still serving g can neither
read the new rows nor overwrite them. A fixed embedder (not trainable) maps a
text to the same vector in every generation, so its rows are reused across
generations (``generation=None``).

Vectors the user supplies with a document (family ``vectors``) are the user's
data, not a model's output: they live under :data:`GIVEN_GENERATION`, are read
by document id (two documents with the same text may have different vectors)
and survive every rebuild; only deleting the document or the space removes them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .bulk_writes import in_values, replace_rows
from .models import StoredVector

VECTORS = StoredVector.__table__
HASH_INDEX = "ix_vectors_space_hash"
"""The (space_id, content_hash) index that vector reuse looks hashes up in."""
VECTORS_KEY = tuple(c.name for c in VECTORS.primary_key.columns)
"""(space_id, generation, document_id): the key a saved vector replaces."""

GIVEN_GENERATION = -1
"""The generation under which user-supplied vectors are stored (no model generation is negative)."""


def save_vectors(
    session: Session, space_id: int, generation: int, ids: Sequence[int], hashes: Sequence[str], vectors: np.ndarray
) -> None:
    """Replace the stored vectors of these documents (ids unique) in one statement whatever their number:
    an insert that replaces a row of the same key (:func:`.bulk_writes.replace_rows`), the end state of a
    DELETE of these documents' rows then an INSERT, at the cost of the INSERT alone."""
    if len(ids) == 0:
        return
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    blobs = [row.tobytes() for row in vectors]
    replace_rows(
        session,
        VECTORS,
        ("document_id", "content_hash", "vector"),
        list(zip([int(i) for i in ids], hashes, blobs)),
        constants={"space_id": space_id, "generation": generation},
        key=VECTORS_KEY,
    )


def reusable_vectors(
    session: Session,
    space_id: int,
    ids: Sequence[int],
    hashes: Sequence[str],
    dim: int,
    generation: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, vectors): which documents already have a stored vector for their current text.

    A vector is reusable when stored for any document of the space with the
    same text hash, in ``generation`` (None: any generation, right only for an
    embedder that is not trained, see the module docstring).
    """
    mask = np.zeros(len(ids), dtype=bool)
    out = np.zeros((len(ids), dim), dtype=np.float32)
    if not ids:
        return mask, out
    by_hash = dict(_vectors_by_hash(session, space_id, list(set(hashes)), generation))
    for i, digest in enumerate(hashes):
        blob = by_hash.get(digest)
        if blob is not None and len(blob) == dim * 4:
            out[i] = np.frombuffer(blob, dtype=np.float32)
            mask[i] = True
    return mask, out


def _vectors_by_hash(
    session: Session, space_id: int, hashes: list[str], generation: int | None
) -> list[tuple[str, bytes]]:
    """(content hash, vector) of the space's stored vectors with these hashes (of ``generation`` unless None).

    SQLite, on the driver: the hashes are the outer loop (``json_each(?) CROSS JOIN``, which SQLite
    never reorders), each one probe of ``ix_vectors_space_hash`` (``INDEXED BY``). Left to itself,
    SQLite's planner (no statistics) picks the primary key's (space_id, generation) prefix whenever
    a generation is given, and tests every stored vector of the space against the list: a batch's
    lookup then grows with the space (12 ms per 1,000 hashes at 20,000 vectors). PostgreSQL plans
    the array lookup on the hash index by itself.
    """
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        sql = (
            f"SELECT v.content_hash, v.vector FROM json_each(?) AS j CROSS JOIN vectors AS v INDEXED BY {HASH_INDEX} "
            "ON v.space_id = ? AND v.content_hash = j.value"
        )
        params: tuple[object, ...] = (json.dumps(hashes), space_id)
        if generation is not None:
            sql += " WHERE v.generation = ?"
            params += (generation,)
        session.flush()  # what session.execute would autoflush (a row added just before must be seen)
        return [(r[0], r[1]) for r in session.connection().exec_driver_sql(sql, params)]
    stmt = select(StoredVector.content_hash, StoredVector.vector).where(
        StoredVector.space_id == space_id, in_values(session, StoredVector.content_hash, hashes)
    )
    if generation is not None:
        stmt = stmt.where(StoredVector.generation == generation)
    return [(r[0], r[1]) for r in session.execute(stmt)]


def given_vectors(session: Session, space_id: int, ids: Sequence[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask, vectors) of the vectors the user supplied for these documents in this space."""
    mask = np.zeros(len(ids), dtype=bool)
    out = np.zeros((len(ids), dim), dtype=np.float32)
    if not len(ids):
        return mask, out
    position = {int(doc_id): i for i, doc_id in enumerate(ids)}
    rows = session.execute(
        select(StoredVector.document_id, StoredVector.vector).where(
            StoredVector.space_id == space_id,
            StoredVector.generation == GIVEN_GENERATION,
            in_values(session, StoredVector.document_id, list(position)),
        )
    )
    for doc_id, blob in rows:
        if len(blob) == dim * 4:
            out[position[doc_id]] = np.frombuffer(blob, dtype=np.float32)
            mask[position[doc_id]] = True
    return mask, out


def discard_vectors(session: Session, space_id: int, *, generation: int | None = None, keep: int | None = None) -> int:
    """Delete a space's stored vectors of one ``generation``, or of every model generation but ``keep``
    (user-supplied vectors, :data:`GIVEN_GENERATION`, go only when asked for by that generation)."""
    stmt = delete(StoredVector).where(StoredVector.space_id == space_id)
    if generation is not None:
        stmt = stmt.where(StoredVector.generation == generation)
    if keep is not None:
        stmt = stmt.where(StoredVector.generation != keep, StoredVector.generation != GIVEN_GENERATION)
    return session.execute(stmt).rowcount or 0
