"""POST .../documents:fetch and .../documents:delete: several documents by external id in one request.

On both dialects: asked order kept and repeats read once, missing ids listed rather than refused,
deletes in one transaction that a loaded space sees at once (no deleted document is found), a second
delete is no error, and refusals (no ids, too many, unknown collection) name their field and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from service.batch_schemas import MAX_IDS
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

C = "/collections/topics"


def _seed(client: TestClient, jobs: Callable[[], int]) -> None:
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post(f"{C}/documents", json={"documents": topical_documents()}).status_code == 200
    assert client.post(f"{C}/spaces", json={"name": "w2v", "embedder": FAST_W2V}).status_code == 202
    assert jobs() == 1


def test_fetch_keeps_the_asked_order_and_lists_what_is_missing(client: TestClient, jobs: Callable[[], int]) -> None:
    _seed(client, jobs)
    texts = {d["external_id"]: d["text"] for d in topical_documents()}
    r = client.post(f"{C}/documents:fetch", json={"ids": ["sport-2", "nope", "market-1", "sport-2"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [d["external_id"] for d in body["items"]] == ["sport-2", "market-1"]
    assert [d["text"] for d in body["items"]] == [texts["sport-2"], texts["market-1"]]
    assert body["missing"] == ["nope"]


def test_delete_many_is_seen_by_search_at_once_and_twice_is_no_error(
    client: TestClient, jobs: Callable[[], int]
) -> None:
    _seed(client, jobs)
    sport = [d["external_id"] for d in topical_documents() if d["external_id"].startswith("sport")]
    before = client.get(C).json()["document_count"]
    r = client.post(f"{C}/documents:delete", json={"ids": [*sport, "nope"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": sport, "missing": ["nope"]}
    assert client.get(C).json()["document_count"] == before - len(sport)
    hits = client.post(f"{C}/search", json={"query": "the striker scored a goal in the match", "k": 50}).json()["hits"]
    assert hits and not {h["external_id"] for h in hits} & set(sport)
    again = client.post(f"{C}/documents:delete", json={"ids": sport})
    assert again.status_code == 200 and again.json() == {"deleted": [], "missing": sport}


def test_refusals_name_the_field_and_change_nothing(client: TestClient, jobs: Callable[[], int]) -> None:
    _seed(client, jobs)
    before = client.get(C).json()["document_count"]
    for body, field in [({"ids": []}, "ids"), ({"ids": ["a"] * (MAX_IDS + 1)}, "ids"), ({"ids": [""]}, "ids[0]"), ({}, "ids")]:
        r = client.post(f"{C}/documents:delete", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field, r.json()
    r = client.post("/collections/nowhere/documents:fetch", json={"ids": ["a"]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "collection_not_found"
    assert client.get(C).json()["document_count"] == before
