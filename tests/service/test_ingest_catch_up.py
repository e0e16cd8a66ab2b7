"""The catch-up's driver-level reads and the stored-vector statements behind a loaded space's ingest.

``service.runtime.replay_reads`` replaces two SQLAlchemy statements of
``service.store.repository`` on the catch-up path, and ``vector_store`` looks
reusable vectors up hash by hash and replaces stored vectors in one statement:
each must give exactly what the statement it replaced gave. Every case runs on
SQLite and PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import select

from service.runtime.replay_reads import changes_page, document_states
from service.schemas import DocumentIn
from service.settings import Settings
from service.store.db import Database
from service.store.document_writes import content_hash
from service.store.models import Space, StoredVector
from service.store.repository import (
    changes_after,
    create_collection,
    delete_document,
    documents_by_ids,
    get_collection,
    upsert_documents,
)
from service.store.vector_store import reusable_vectors, save_vectors


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    yield database
    database.dispose()


def _docs(db: Database, name: str, texts: dict[str, str]) -> list[int]:
    """A collection with these documents (external id -> text); their ids in the given order."""
    with db.session() as s:
        create_collection(s, name, "documents")
    with db.session() as s:
        docs = [DocumentIn.model_validate({"external_id": k, "text": t}) for k, t in texts.items()]
        return upsert_documents(s, name, docs).ids


def _space(db: Database, name: str) -> int:
    with db.session() as s:
        space = Space(collection_id=get_collection(s, name).id, name="s", embedder_type="word2vec",
                      embedder_spec={}, index_spec={})
        s.add(space)
        s.flush()
        return space.id


def test_replay_reads_match_the_repository_statements(db: Database) -> None:
    ids = _docs(db, "c", {f"d{i}": f"text {i}" for i in range(7)})
    _docs(db, "other", {"x": "another collection's text"})  # its changes must not show
    with db.session() as s:
        delete_document(s, "c", "d3")
        collection_id = get_collection(s, "c").id
    with db.session() as s:
        for after, limit in [(0, 1000), (0, 3), (2, 4), (10**9, 10)]:
            want = changes_after(s, collection_id, after, limit)
            assert changes_page(s, collection_id, after, limit) == want
        assert [doc_id for _, doc_id in changes_page(s, collection_id, 0, 1000)] == ids + [ids[3]]
        asked = [ids[5], ids[3], ids[0], 10**9]
        want_docs = {i: (d.id, d.text, d.content_hash) for i, d in documents_by_ids(s, asked).items()}
        got_docs = document_states(s, asked)
        assert {i: (d.id, d.text, d.content_hash) for i, d in got_docs.items()} == want_docs
        assert set(document_states(s, asked)) == {ids[5], ids[0]}  # deleted and unknown ids are absent
        assert document_states(s, []) == {}


def test_reusable_vectors_by_hash_in_and_across_generations(db: Database) -> None:
    # b and c share a text: c reuses b's vector; d's text has no vector anywhere.
    ids = _docs(db, "v", {"a": "alpha", "b": "beta", "c": "beta", "d": "delta"})
    space_id = _space(db, "v")
    hashes = [content_hash(t) for t in ("alpha", "beta", "beta", "delta")]
    with db.session() as s:
        save_vectors(s, space_id, 0, ids[:2], hashes[:2], np.array([[1, 0], [0, 1]], dtype=np.float32))
        save_vectors(s, space_id, 1, ids[:1], hashes[:1], np.array([[7, 7]], dtype=np.float32))
    with db.session() as s:
        known, vectors = reusable_vectors(s, space_id, ids, hashes, 2, 0)
        assert known.tolist() == [True, True, True, False]
        assert vectors.tolist() == [[1, 0], [0, 1], [0, 1], [0, 0]]
        known, vectors = reusable_vectors(s, space_id, ids, hashes, 2, 1)  # generation 1 has only a's
        assert known.tolist() == [True, False, False, False] and vectors[0].tolist() == [7, 7]
        known, _ = reusable_vectors(s, space_id, ids, hashes, 2, None)  # any generation
        assert known.tolist() == [True, True, True, False]
        known, _ = reusable_vectors(s, space_id, ids, hashes, 3, 0)  # a stored vector of another size is no vector
        assert not known.any()
        known, _ = reusable_vectors(s, space_id + 1, ids, hashes, 2, 0)  # another space's vectors are not reused
        assert not known.any()


def test_save_vectors_replaces_only_its_own_generation(db: Database) -> None:
    ids = _docs(db, "r", {"a": "alpha", "b": "beta"})
    space_id = _space(db, "r")
    hashes = [content_hash("alpha"), content_hash("beta")]
    with db.session() as s:
        save_vectors(s, space_id, 0, ids, hashes, np.eye(2, dtype=np.float32))
        save_vectors(s, space_id, 1, ids[:1], hashes[:1], np.full((1, 2), 3, dtype=np.float32))
    with db.session() as s:  # a replacement in its own transaction, with a new hash (the text changed)
        save_vectors(s, space_id, 0, ids[::-1], ["h-b", "h-a"], np.array([[5, 5], [6, 6]], dtype=np.float32))
    with db.session() as s:
        rows = s.execute(
            select(StoredVector.generation, StoredVector.document_id, StoredVector.content_hash, StoredVector.vector)
            .where(StoredVector.space_id == space_id)
        ).all()
    got = sorted((g, doc_id, h, np.frombuffer(v, dtype=np.float32).tolist()) for g, doc_id, h, v in rows)
    a, b = ids
    assert got == sorted([(0, a, "h-a", [6, 6]), (0, b, "h-b", [5, 5]), (1, a, hashes[0], [3, 3])])
