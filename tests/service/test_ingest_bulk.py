"""The bulk write path (service.store.document_writes / bulk_writes) against the ORM path it replaced.

``orm_upsert`` below is the former ``upsert_documents`` (ORM objects, unit of
work), kept as the reference: the same batches go through both, each into its
own collection, and everything observable must match: counts, ids in input
order, the change log in order, stored rows, the metadata schema, given
vectors. Then the all-or-nothing guarantees: a refused or failing document in
the middle of a batch leaves nothing written. Every case runs on SQLite and
PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import DuplicateExternalId, MetadataTypeMismatch
from service.schemas import DocumentIn
from service.settings import Settings
from service.store.db import Database
from service.store.document_writes import content_hash
from service.store.given_vectors import check_given_vectors
from service.store.models import Change, Collection, Document, Space, StoredVector
from service.store.repository import (
    UpsertResult,
    _merge_schema,
    create_collection,
    delete_document,
    get_collection,
    upsert_documents,
)
from service.store.vector_store import GIVEN_GENERATION, save_vectors

DIM = 3


def orm_upsert(session: Session, collection_name: str, docs: Sequence[DocumentIn], field_prefix: str = "documents",
               *, require_vectors: bool = True) -> UpsertResult:
    """The ORM implementation of ``upsert_documents`` before the bulk path (validation steps shared)."""
    collection = get_collection(session, collection_name, lock=True)
    schema = _merge_schema(collection.metadata_schema or {}, docs, field_prefix)
    given = check_given_vectors(session, collection.id, docs, field_prefix, require=require_vectors)
    if schema != collection.metadata_schema:
        collection.metadata_schema = schema
    existing = {
        d.external_id: d
        for d in session.scalars(
            select(Document).where(
                Document.collection_id == collection.id, Document.external_id.in_([d.external_id for d in docs])
            )
        )
    }
    created = updated = unchanged = 0
    touched: list[Document] = []
    ids: list[Document] = []
    known = [i for i, d in enumerate(docs) if d.external_id in existing]
    new_vectors = given.changed(session, known, [existing[docs[i].external_id].id for i in known]) if given else set()
    for position, doc in enumerate(docs):
        text = doc.text if doc.text.strip() else ""
        digest = content_hash(text)
        row = existing.get(doc.external_id)
        if row is None:
            row = Document(collection_id=collection.id, external_id=doc.external_id, text=text, meta=doc.metadata,
                           content_hash=digest)
            session.add(row)
            created += 1
            touched.append(row)
        elif row.content_hash != digest or row.meta != doc.metadata or position in new_vectors:
            row.text, row.meta, row.content_hash = text, doc.metadata, digest
            updated += 1
            touched.append(row)
        else:
            unchanged += 1
        ids.append(row)
    session.flush()
    if given:
        given.write(session, [row.id for row in ids], [row.content_hash for row in ids])
    session.add_all(Change(collection_id=collection.id, document_id=row.id, op="upsert") for row in touched)
    session.flush()
    return UpsertResult(created, updated, unchanged, [row.id for row in ids])


Upsert = Callable[..., UpsertResult]


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    yield database
    database.dispose()


def _collection(db: Database, name: str, kind: str = "documents") -> None:
    with db.session() as s:
        create_collection(s, name, kind)


def _run(db: Database, upsert: Upsert, name: str, docs: list[dict[str, Any]], **kw: Any) -> tuple[UpsertResult, list[str]]:
    """Upsert in one transaction; the result and its ids translated to external ids (ids differ per collection)."""
    with db.session() as s:
        result = upsert(s, name, [DocumentIn.model_validate(d) for d in docs], **kw)
    with db.session() as s:
        ext = dict(s.execute(select(Document.id, Document.external_id).where(Document.id.in_(result.ids))).all())
    return result, [ext[i] for i in result.ids]


def _state(db: Database, name: str, id_to_ext: dict[int, str] | None = None) -> dict[str, Any]:
    """Everything a write leaves in SQL for one collection, keyed by external id (not by SQL id)."""
    with db.session() as s:
        collection = get_collection(s, name)
        rows = s.scalars(select(Document).where(Document.collection_id == collection.id).order_by(Document.id)).all()
        names = {d.id: d.external_id for d in rows} | (id_to_ext or {})
        changes = s.execute(
            select(Change.document_id, Change.op).where(Change.collection_id == collection.id).order_by(Change.id)
        ).all()
        spaces = dict(s.execute(select(Space.id, Space.name).where(Space.collection_id == collection.id)).all())
        vectors = s.execute(
            select(StoredVector.space_id, StoredVector.generation, StoredVector.document_id, StoredVector.content_hash,
                   StoredVector.vector).where(StoredVector.space_id.in_(list(spaces) or [-1]))
        ).all()
        return {
            "documents": [(d.external_id, d.text, d.meta, d.content_hash, d.created_at is not None,
                           d.updated_at >= d.created_at) for d in rows],
            "order": [d.external_id for d in rows],
            "changes": [(names.get(doc_id, doc_id), op) for doc_id, op in changes],
            "schema": collection.metadata_schema,
            "vectors": sorted((spaces[v[0]], v[1], names[v[2]], v[3], bytes(v[4])) for v in vectors),
        }


def _doc(key: str, text: str | None = None, **metadata: Any) -> dict[str, Any]:
    return {"external_id": key, "text": text or f"text of {key}", "metadata": metadata}


BATCHES = [
    [_doc("a", n=1, tag="x"), _doc("b", n=2), _doc("c", flag=True), _doc("d"), _doc("e", nested={"k": [1, 2]})],
    # mixed: unchanged, new, text changed, metadata changed, unchanged, new, metadata only reordered (same JSON)
    [_doc("a", n=1, tag="x"), _doc("f", n=6, extra="new field"), _doc("b", "another text of b", n=2),
     _doc("c", flag=False), _doc("d"), _doc("g", "text of g"), _doc("e", nested={"k": [1, 2]})],
    # a repeat of the mixed batch: all unchanged
    [_doc("a", n=1, tag="x"), _doc("f", n=6, extra="new field"), _doc("b", "another text of b", n=2)],
]


def test_mixed_batches_match_the_orm_path(db: Database) -> None:
    _collection(db, "bulk")
    _collection(db, "orm")
    for batch in BATCHES:
        got, got_ext = _run(db, upsert_documents, "bulk", batch)
        want, want_ext = _run(db, orm_upsert, "orm", batch)
        assert (got.created, got.updated, got.unchanged) == (want.created, want.updated, want.unchanged)
        assert got_ext == want_ext == [d["external_id"] for d in batch]
    assert (got.created, got.updated, got.unchanged) == (0, 0, 3)
    assert _state(db, "bulk") == _state(db, "orm")
    state = _state(db, "bulk")
    assert state["changes"] == [(k, "upsert") for k in "abcde" + "fbcg"]
    assert state["schema"] == {"n": "number", "tag": "string", "flag": "boolean", "nested": "object", "extra": "string"}


def test_ids_and_change_rows_follow_input_order_across_chunks(db: Database) -> None:
    """More rows than one INSERT chunk and one SELECT chunk: ids increase in input order, one change each."""
    _collection(db, "big")
    keys = [f"k{i:05d}" for i in range(2500)]
    shuffled = keys[1::2] + keys[::2]
    result, ext = _run(db, upsert_documents, "big", [_doc(k, n=i) for i, k in enumerate(shuffled)])
    assert ext == shuffled and result.created == 2500 and result.ids == sorted(result.ids)
    again, _ = _run(db, upsert_documents, "big", [_doc(k, n=i) for i, k in enumerate(shuffled)][::-1])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2500)
    assert again.ids == result.ids[::-1]
    changed = [_doc(k, n=-1) for k in shuffled[:1500]]
    third, _ = _run(db, upsert_documents, "big", changed)
    assert (third.created, third.updated, third.unchanged) == (0, 1500, 0)
    state = _state(db, "big")
    assert state["changes"] == [(k, "upsert") for k in shuffled + shuffled[:1500]]
    assert state["order"] == shuffled


@pytest.mark.parametrize("bad", ["type", "duplicate", "unwritable"])
def test_a_bad_document_in_the_middle_writes_nothing(db: Database, bad: str) -> None:
    _collection(db, "c")
    _run(db, upsert_documents, "c", [_doc(f"old{i}", n=i) for i in range(10)])
    before = _state(db, "c")
    docs = [DocumentIn.model_validate(_doc(f"new{i}", n=i)) for i in range(1200)]
    docs[3] = DocumentIn.model_validate(_doc("old3", "changed text", n=3))  # an update before the culprit
    if bad == "type":
        docs[600] = DocumentIn.model_validate(_doc("new600", n="not a number"))
        error: type[Exception] = MetadataTypeMismatch
    elif bad == "duplicate":
        docs[600] = DocumentIn.model_validate(_doc("new1", n=1))
        error = DuplicateExternalId
    else:  # passes every check, then fails while the rows are written (metadata that cannot be serialised)
        docs[600] = DocumentIn.model_construct(external_id="new600", text="t", metadata={"n": 1, "x": {1j}}, vectors=None)
        error = TypeError
    with pytest.raises(error):
        with db.session() as s:
            upsert_documents(s, "c", docs)
    assert _state(db, "c") == before


@pytest.fixture
def vectors_spaces(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    for name in ("bulk", "orm"):
        assert client.post("/collections", json={"name": name}).status_code == 201
        r = client.post(f"/collections/{name}/spaces", json={"name": "v", "embedder": {"type": "vectors", "dim": DIM}})
        assert r.status_code == 202, r.text
    assert jobs() == 2
    return client


def _vdoc(key: str, vector: list[float], text: str | None = None) -> dict[str, Any]:
    return {**_doc(key, text, k=key), "vectors": {"v": vector}}


def test_given_vectors_match_the_orm_path(db: Database, vectors_spaces: TestClient) -> None:
    batches = [
        [_vdoc("a", [1, 0, 0]), _vdoc("b", [0, 1, 0]), _vdoc("c", [0, 0, 1])],
        # b: same text and metadata, another vector (counts as updated); c: new text, same vector; d new
        [_vdoc("a", [1, 0, 0]), _vdoc("b", [0, 2, 0]), _vdoc("c", [0, 0, 1], "new c"), _vdoc("d", [1, 1, 1])],
    ]
    for batch in batches:
        got, got_ext = _run(db, upsert_documents, "bulk", batch)
        want, want_ext = _run(db, orm_upsert, "orm", batch)
        assert (got.created, got.updated, got.unchanged) == (want.created, want.updated, want.unchanged)
        assert got_ext == want_ext
    assert (got.created, got.updated, got.unchanged) == (1, 2, 1)
    bulk, orm = _state(db, "bulk"), _state(db, "orm")
    assert bulk == orm
    stored = {v[2]: np.frombuffer(v[4], dtype=np.float32) for v in bulk["vectors"] if v[1] == GIVEN_GENERATION}
    assert stored["b"].tolist() == [0, 2, 0] and stored["d"].tolist() == [1, 1, 1]
    assert bulk["changes"] == [(k, "upsert") for k in "abc" + "bcd"]


def test_save_vectors_replaces_and_delete_logs(db: Database) -> None:
    _collection(db, "v")
    result, _ = _run(db, upsert_documents, "v", [_doc(k) for k in "abc"])
    with db.session() as s:
        space = Space(collection_id=get_collection(s, "v").id, name="s", embedder_type="word2vec", embedder_spec={},
                      index_spec={})
        s.add(space)
        s.flush()
        space_id = space.id
        hashes = [content_hash(f"text of {k}") for k in "abc"]
        save_vectors(s, space_id, 0, result.ids, hashes, np.eye(3, dtype=np.float32))
        save_vectors(s, space_id, 0, result.ids[1:], hashes[1:], np.full((2, 3), 5, dtype=np.float32))
    with db.session() as s:
        delete_document(s, "v", "c")
    state = _state(db, "v", {result.ids[2]: "c"})
    assert [(v[2], np.frombuffer(v[4], dtype=np.float32).tolist()) for v in state["vectors"]] == [
        ("a", [1, 0, 0]), ("b", [5, 5, 5])]  # c's vector went with it (ON DELETE CASCADE)
    assert state["changes"] == [("a", "upsert"), ("b", "upsert"), ("c", "upsert"), ("c", "delete")]
    assert state["order"] == ["a", "b"]
    with db.session() as s:
        assert s.scalar(select(Collection.metadata_schema).where(Collection.name == "v")) == {}


def test_unusual_external_ids_are_found_again(db: Database) -> None:
    """Lookups send the ids as one JSON (SQLite) or array (PostgreSQL) parameter: every string must survive it."""
    _collection(db, "odd")
    keys = ["é", "😀 emoji", 'quote"d', "back\\slash", " spaced ", "[1]", "null", "1", "ünï cödé", "tab\there"]
    first, ext = _run(db, upsert_documents, "odd", [_doc(k) for k in keys])
    assert ext == keys and first.created == len(keys)
    again, _ = _run(db, upsert_documents, "odd", [_doc(k) for k in keys])
    assert (again.created, again.unchanged, again.ids) == (0, len(keys), first.ids)
    with db.session() as s:
        assert delete_document(s, "odd", 'quote"d') == first.ids[2]
    assert _state(db, "odd")["order"] == [k for k in keys if k != 'quote"d']


# --- the cheaper checks and reads of goal 5: same answers as the full paths ------------------------------


def _refusal(check: Callable[[], None]) -> tuple[str, str | None] | None:
    from service.errors import MetadataTooLarge

    try:
        check()
    except MetadataTooLarge as exc:
        return str(exc), exc.field
    return None


@pytest.mark.parametrize("metadata", [
    {}, {"a": 1, "b": 2.5, "c": True, "d": None, "e": "short"},
    {"s": "x" * 16}, {"s": "x" * 17}, {"s": "é" * 8}, {"s": "é" * 9}, {"s": "😀" * 4}, {"s": "😀" * 5},
    {"k" * 16: 1}, {"k" * 17: 1}, {"é" * 9: 1}, {"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "c": 3, "d": 4},
    {"n": {"x": 1}}, {"n": [1, 2]}, {"n": {"x": "y" * 40}}, {"a": 1, "n": [[[[1]]]]},
])
def test_flat_metadata_fast_path_refuses_exactly_as_the_walk(metadata: dict[str, Any]) -> None:
    """check_metadata's flat fast path only ever skips the full walk when the walk finds nothing."""
    from service import quotas

    tight = Settings(max_metadata_value_bytes=16, max_metadata_keys=3, max_metadata_depth=3)
    docs = [DocumentIn(external_id="ok", text="t"), DocumentIn(external_id="x", text="t", metadata=metadata)]
    got = _refusal(lambda: quotas.check_metadata(tight, docs))

    def walk_only() -> None:
        for i, doc in enumerate(docs):
            top = f"documents[{i}].metadata"
            quotas._walk(tight, doc.metadata, top, 1, [0], top)

    assert got == _refusal(walk_only)


@pytest.mark.parametrize(("unsaved", "size", "since", "due"), [
    (999, 0, 1e9, False),           # never under snapshot_every, however old the snapshot
    (1000, 100, 0.0, True),         # a small index: every snapshot_every changes, as before
    (1000, 1_000_000, 0.0, False),  # a large one: not a full save per 1,000 changes...
    (250_000, 1_000_000, 0.0, True),  # ...but once a quarter of it is unsaved
    (1000, 1_000_000, 60.0, True),  # or once a minute under steady writes
])
def test_snapshot_cadence_scales_with_the_index(unsaved: int, size: int, since: float, due: bool) -> None:
    from service.runtime.spaces import snapshot_due

    assert snapshot_due(unsaved, size, since, every=1000, fraction=0.25, seconds=60.0) is due


def test_documents_by_ids_reads_the_current_state(db: Database) -> None:
    from service.store.repository import DocumentState, documents_by_ids

    _collection(db, "c")
    result, _ = _run(db, upsert_documents, "c", [_doc("a"), _doc("b"), _doc("c")])
    with db.session() as s:
        delete_document(s, "c", "b")
    with db.session() as s:
        got = documents_by_ids(s, result.ids + [10**9])
    a, b, c = result.ids
    assert got == {a: DocumentState(a, "text of a", content_hash("text of a")),
                   c: DocumentState(c, "text of c", content_hash("text of c"))}


def test_a_facade_write_reads_its_collection_once(settings: Settings) -> None:
    """The facade locks the collection row once and hands it on (it used to be read three times)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from service.facade import Vecdex
    from service.schemas import CollectionCreate, DocumentsUpsert

    vx = Vecdex(settings)
    try:
        vx.collections.create(body=CollectionCreate(name="once"))
        statements: list[str] = []

        def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        event.listen(Engine, "before_cursor_execute", seen)
        try:
            body = DocumentsUpsert.model_validate({"documents": [_doc("a", n=1), _doc("b", group="g")]})
            counts = vx.documents.upsert(collection="once", body=body)
        finally:
            event.remove(Engine, "before_cursor_execute", seen)
        assert (counts.created, counts.updated, counts.unchanged) == (2, 0, 0)
        assert sum("FROM collections" in s for s in statements) == 1
        assert vx.collections.get(name="once").metadata_schema == {"n": "number", "group": "string"}
    finally:
        vx.close()
