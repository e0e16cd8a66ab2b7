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

from collections.abc import Sequence

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .bulk_writes import delete_in, in_values, insert_rows
from .models import StoredVector

VECTORS = StoredVector.__table__

GIVEN_GENERATION = -1
"""The generation under which user-supplied vectors are stored (no model generation is negative)."""


def save_vectors(
    session: Session, space_id: int, generation: int, ids: Sequence[int], hashes: Sequence[str], vectors: np.ndarray
) -> None:
    """Replace the stored vectors of these documents: one DELETE and one INSERT whatever their number
    (delete + insert works the same on every dialect; :mod:`.bulk_writes` says why not the ORM)."""
    if len(ids) == 0:
        return
    id_list = [int(i) for i in ids]
    where = {"space_id": space_id, "generation": generation}
    delete_in(session, VECTORS, where, "document_id", id_list)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    insert_rows(
        session,
        VECTORS,
        ("document_id", "content_hash", "vector"),
        [(doc_id, digest, vectors[i].tobytes()) for i, (doc_id, digest) in enumerate(zip(id_list, hashes))],
        constants=where,
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
    stmt = select(StoredVector.content_hash, StoredVector.vector).where(
        StoredVector.space_id == space_id, in_values(session, StoredVector.content_hash, list(set(hashes)))
    )
    if generation is not None:
        stmt = stmt.where(StoredVector.generation == generation)
    by_hash = {r.content_hash: r.vector for r in session.execute(stmt)}
    for i, digest in enumerate(hashes):
        blob = by_hash.get(digest)
        if blob is not None and len(blob) == dim * 4:
            out[i] = np.frombuffer(blob, dtype=np.float32)
            mask[i] = True
    return mask, out


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
