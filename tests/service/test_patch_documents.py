"""PATCH /collections/{c}/documents/{id}: metadata merged (RFC 7396), text replaced, through the upsert path.

On both dialects: the merge semantics, that a metadata-only patch embeds nothing while filters of a loaded
space see it at once, that a text patch is found by its new text, that every refusal names its field and
changes nothing (document, schema, change log), and that a fresh process catches up from the change log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.observability import metrics
from service.settings import Settings
from service.store.db import Database
from service.store.document_patch import merge_patch
from service.store.repository import get_collection, max_change_id
from tests.service.conftest import FAST_W2V, make_settings
from tests.service.corpus import topical_documents
from tests.conftest import migrate

JSON = dict[str, Any]
DOC = "/collections/topics/documents"


def _error(resp: Any, status: int, code: str, field: str | None) -> JSON:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code and err["field"] == field, err
    assert err["message"]
    return err


def _seed(client: TestClient, jobs: Callable[[], int] | None = None) -> None:
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post(DOC, json={"documents": topical_documents()}).status_code == 200
    if jobs is not None:
        r = client.post("/collections/topics/spaces", json={"name": "w2v", "embedder": FAST_W2V})
        assert r.status_code == 202, r.text
        assert jobs() == 1


def _head(settings: Settings) -> int:
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            return max_change_id(session, get_collection(session, "topics").id)
    finally:
        db.dispose()


def _ids(resp: Any) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [h["external_id"] for h in resp.json()["hits"]]


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Texts embedded for documents (every document embedding passes metrics.observe_embedding)."""
    counts: list[int] = []
    real = metrics.observe_embedding

    def counting(family: str, documents: int, seconds: float) -> None:
        counts.append(documents)
        real(family, documents, seconds)

    monkeypatch.setattr(metrics, "observe_embedding", counting)
    return counts


def test_merge_patch_is_rfc_7396() -> None:
    # RFC 7396 appendix A, a selection
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": "b", "b": "c"}, {"a": None}) == {"b": "c"}
    assert merge_patch({"a": ["b"]}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}
    assert merge_patch({"a": "foo"}, {"a": {"b": 1}}) == {"a": {"b": 1}}


def test_patch_merges_metadata_and_replaces_text(client: TestClient, settings: Settings) -> None:
    _seed(client)
    before = client.get(f"{DOC}/sport-1").json()
    head = _head(settings)

    r = client.patch(f"{DOC}/sport-1", json={"metadata": {"n": 100, "even": None, "extra": {"a": 1, "b": [1, 2]}}})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc == client.get(f"{DOC}/sport-1").json()  # the same shape as GET, as stored
    assert doc["metadata"] == {"topic": "sport", "n": 100, "extra": {"a": 1, "b": [1, 2]}}
    assert doc["text"] == before["text"] and doc["content_hash"] == before["content_hash"]
    assert doc["id"] == before["id"] and doc["created_at"] == before["created_at"]
    assert _head(settings) == head + 1  # one change row: loaded spaces and filter columns catch up

    r = client.patch(f"{DOC}/sport-1", json={"metadata": {"extra": {"a": None, "c": "x"}}})
    assert r.json()["metadata"] == {"topic": "sport", "n": 100, "extra": {"b": [1, 2], "c": "x"}}
    schema = client.get("/collections/topics").json()["metadata_schema"]
    assert schema["extra"] == "object"

    r = client.patch(f"{DOC}/sport-1", json={"text": "a brand new text about rain"})
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "a brand new text about rain"
    assert r.json()["content_hash"] != before["content_hash"]
    assert r.json()["metadata"]["extra"] == {"b": [1, 2], "c": "x"}  # untouched by a text patch

    both = client.patch(f"{DOC}/sport-1", json={"text": "goal", "metadata": {"topic": "misc"}}).json()
    assert both["text"] == "goal" and both["metadata"]["topic"] == "misc"

    head = _head(settings)
    same = client.patch(f"{DOC}/sport-1", json={"metadata": {"topic": "misc"}, "text": "goal"})
    assert same.status_code == 200 and same.json() == both
    assert _head(settings) == head  # nothing changed: nothing logged
    assert client.get("/collections/topics").json()["document_count"] == 20


def test_metadata_patch_reuses_vectors_and_filters_see_it(
    client: TestClient, jobs: Callable[[], int], embedded: list[int]
) -> None:
    _seed(client, jobs)
    query = {"query": "stock market shares", "k": 20}
    first = client.post("/collections/topics/search", json=query).json()["hits"]
    score = {h["external_id"]: h["score"] for h in first}["market-3"]
    # load the filter columns and the space before the patch
    assert "market-3" in _ids(client.post("/collections/topics/search", json={**query, "filter": {"topic": "markets"}}))
    assert _ids(client.post("/collections/topics/search", json={**query, "filter": {"topic": "archive"}})) == []

    embedded.clear()
    r = client.patch(f"{DOC}/market-3", json={"metadata": {"topic": "archive", "n": None}})
    assert r.status_code == 200, r.text
    archived = client.post("/collections/topics/search", json={**query, "filter": {"topic": "archive"}})
    assert _ids(archived) == ["market-3"]
    assert archived.json()["hits"][0]["metadata"] == {"topic": "archive", "even": False}  # hits show it too
    markets = _ids(client.post("/collections/topics/search", json={**query, "filter": {"topic": "markets"}}))
    assert "market-3" not in markets and len(markets) == 9
    assert _ids(client.post("/collections/topics/search", json={**query, "filter": {"n": {"exists": False}}})) == [
        "market-3"
    ]
    assert sum(embedded) == 0  # the text hash did not change: the stored vector was reused
    after = client.post("/collections/topics/search", json=query).json()["hits"]
    assert {h["external_id"]: h["score"] for h in after}["market-3"] == pytest.approx(score)

    # a text patch embeds the new text, and the search finds the document by it
    text = "the central bank raised interest rates and investors sold shares"
    assert client.patch(f"{DOC}/sport-2", json={"text": text}).status_code == 200
    assert sum(embedded) >= 1
    hits = _ids(client.post("/collections/topics/search", json={"query": text, "k": 1, "filter": {"topic": "sport"}}))
    assert hits == ["sport-2"]


def test_refused_patches_name_the_field_and_change_nothing(client: TestClient, settings: Settings) -> None:
    _seed(client)
    before = client.get(f"{DOC}/sport-1").json()
    schema = client.get("/collections/topics").json()["metadata_schema"]
    head = _head(settings)

    _error(client.patch("/collections/nope/documents/sport-1", json={"text": "x"}), 404, "collection_not_found", "collection")
    _error(client.patch(f"{DOC}/nope", json={"text": "x"}), 404, "document_not_found", "external_id")
    _error(client.patch(f"{DOC}/sport-1", json={}), 422, "invalid_request", "metadata")
    _error(client.patch(f"{DOC}/sport-1", json={"metadata": None}), 422, "invalid_request", "metadata")
    _error(client.patch(f"{DOC}/sport-1", json={"text": None}), 422, "invalid_request", "text")
    _error(client.patch(f"{DOC}/sport-1", json={"metadata": [1]}), 422, "invalid_request", "metadata")
    _error(client.patch(f"{DOC}/sport-1", json={"external_id": "x"}), 422, "invalid_request", "external_id")
    _error(client.patch(f"{DOC}/sport-1", json={"text": "  \n"}), 422, "invalid_request", "text")
    _error(client.patch(f"{DOC}/sport-1", json={"text": "a\u0000b"}), 422, "invalid_request", "text")
    _error(client.patch(f"{DOC}/sport-1", json={"metadata": {"x": "a\u0000b"}}), 422, "invalid_request", "metadata")
    _error(client.patch(f"{DOC}/sport-1", json={"metadata": {"n": "seven"}}), 422, "metadata_type_mismatch", "metadata.n")
    _error(
        client.patch(f"{DOC}/sport-1", json={"metadata": {"new": 1, "topic": 3}}), 422, "metadata_type_mismatch",
        "metadata.topic",
    )
    deep: Any = 1
    for _ in range(settings.max_metadata_depth + 1):
        deep = {"d": deep}
    r = client.patch(f"{DOC}/sport-1", json={"metadata": {"deep": deep}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "metadata_too_large", r.text
    assert r.json()["error"]["field"].startswith("metadata.deep.d")

    assert client.get(f"{DOC}/sport-1").json() == before
    assert client.get("/collections/topics").json()["metadata_schema"] == schema
    assert _head(settings) == head


@pytest.fixture
def tight(tmp_path: Path, database_url: str) -> Iterator[tuple[TestClient, Settings]]:
    """A server with small metadata limits (the quota checks of an upsert apply to the merged metadata)."""

    migrate(database_url)
    settings = make_settings(tmp_path, database_url, max_metadata_keys=5, max_schema_fields=5)
    with TestClient(create_app(settings, run_worker=False)) as c:
        yield c, settings


def test_quotas_apply_to_the_merged_metadata(tight: tuple[TestClient, Settings]) -> None:
    client, settings = tight
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    docs = [{"external_id": "a", "text": "x", "metadata": {"k1": 1, "k2": 2, "k3": 3}}]
    assert client.post(DOC, json={"documents": docs}).status_code == 200
    before, head = client.get(f"{DOC}/a").json(), _head(settings)
    # 3 stored + 3 new = 6 keys > 5, though the patch itself has only 3
    err = _error(
        client.patch(f"{DOC}/a", json={"metadata": {"k4": 4, "k5": 5, "k6": 6}}), 422, "metadata_too_large", "metadata"
    )
    assert "VECDEX_MAX_METADATA_KEYS" in err["message"]
    assert client.get(f"{DOC}/a").json() == before and _head(settings) == head
    # replacing keys (k1 removed) keeps it within: 2 + 3 = 5
    r = client.patch(f"{DOC}/a", json={"metadata": {"k1": None, "k4": 4, "k5": 5}})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"] == {"k2": 2, "k3": 3, "k4": 4, "k5": 5}
    # the schema has k1..k5 now: a sixth field would grow it past max_schema_fields
    _error(client.patch(f"{DOC}/a", json={"metadata": {"k6": 1, "k2": None}}), 422, "metadata_too_large", "metadata.k6")


def test_items_patch_and_a_fresh_process_catches_up(
    client: TestClient, jobs: Callable[[], int], settings: Settings
) -> None:
    assert client.post("/collections", json={"name": "shop", "kind": "items"}).status_code == 201
    r = client.post("/collections/shop/documents", json={"documents": [{"external_id": "i1", "metadata": {"c": "a"}}]})
    assert r.status_code == 200
    r = client.patch("/collections/shop/documents/i1", json={"metadata": {"c": "b"}, "text": ""})
    assert r.status_code == 200, r.text  # an item may have no text
    assert r.json()["metadata"] == {"c": "b"} and r.json()["text"] == ""

    # the change log carries the patch: a process that loads the space afterwards catches up from it
    _seed(client, jobs)
    query = {"query": "stock market shares", "k": 5}
    assert _ids(client.post("/collections/topics/search", json={**query, "filter": {"topic": "sport"}}))
    assert client.patch(f"{DOC}/market-1", json={"metadata": {"topic": "moved"}}).status_code == 200
    with TestClient(create_app(settings, run_worker=False)) as fresh:
        assert _ids(fresh.post("/collections/topics/search", json={**query, "filter": {"topic": "moved"}})) == [
            "market-1"
        ]


def test_concurrent_patches_of_one_document_lose_no_key(settings: Settings) -> None:
    """Patches are read-modify-write under the collection's lock: each merges into the latest row."""
    import threading

    from service import Vecdex
    from service.patch_schemas import DocumentPatch
    from service.schemas import CollectionCreate, DocumentsUpsert

    vx = Vecdex(settings)
    try:
        vx.collections.create(body=CollectionCreate(name="topics"))
        vx.documents.upsert(
            collection="topics", body=DocumentsUpsert.model_validate({"documents": [{"external_id": "a", "text": "x"}]})
        )
        errors: list[BaseException] = []

        def patch(i: int) -> None:
            try:
                vx.documents.patch(collection="topics", external_id="a", body=DocumentPatch(metadata={f"k{i}": i}))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=patch, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert vx.documents.get(collection="topics", external_id="a").metadata == {f"k{i}": i for i in range(8)}
    finally:
        vx.close()
