"""Stored float32 vectors per space (the ``vectors`` table).

They let a space's index be rebuilt or caught up without re-embedding, and let
a re-upserted document whose text did not change keep its vector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import StoredVector


def save_vectors(
    session: Session, space_id: int, ids: Sequence[int], hashes: Sequence[str], vectors: np.ndarray
) -> None:
    """Replace the stored vectors of these documents (delete + insert works the same on every dialect)."""
    if len(ids) == 0:
        return
    id_list = [int(i) for i in ids]
    session.execute(delete(StoredVector).where(StoredVector.space_id == space_id, StoredVector.document_id.in_(id_list)))
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    session.add_all(
        StoredVector(space_id=space_id, document_id=doc_id, content_hash=digest, vector=vectors[i].tobytes())
        for i, (doc_id, digest) in enumerate(zip(id_list, hashes))
    )
    session.flush()


def reusable_vectors(
    session: Session, space_id: int, ids: Sequence[int], hashes: Sequence[str], dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, vectors): which documents already have a stored vector for their current text.

    A vector is reusable when stored for the same document with the same hash,
    or for any document of the space with the same text hash.
    """
    mask = np.zeros(len(ids), dtype=bool)
    out = np.zeros((len(ids), dim), dtype=np.float32)
    if not ids:
        return mask, out
    rows = session.execute(
        select(StoredVector.document_id, StoredVector.content_hash, StoredVector.vector).where(
            StoredVector.space_id == space_id, StoredVector.content_hash.in_(list(set(hashes)))
        )
    ).all()
    by_hash = {r.content_hash: r.vector for r in rows}
    for i, digest in enumerate(hashes):
        blob = by_hash.get(digest)
        if blob is not None:
            out[i] = np.frombuffer(blob, dtype=np.float32)
            mask[i] = True
    return mask, out
