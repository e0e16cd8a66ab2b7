"""Bring your own vectors: the ``vectors`` family, vectors with documents, vector queries.

Every expectation is computed with numpy from the vectors the test sends, so a
wrong neighbour, a lost vector or a half-written batch fails the test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.settings import Settings

from .conftest import FAST_W2V

DIM = 8
RNG = np.random.default_rng(11)
VECTORS = {f"d{i}": RNG.normal(size=DIM).astype(np.float32) for i in range(40)}
TEXTS = {key: f"document {key} about {'sport' if i % 2 else 'markets'} and weather" for i, key in enumerate(VECTORS)}


def _docs(space: str = "v", keys: list[str] | None = None) -> list[dict]:
    return [
        {
            "external_id": key,
            "text": TEXTS[key],
            "metadata": {"half": int(key[1:]) % 2},
            "vectors": {space: VECTORS[key].tolist()},
        }
        for key in (keys or list(VECTORS))
    ]


def _nearest(query: np.ndarray, keys: list[str], k: int) -> list[str]:
    """Ground truth under cosine."""
    mat = np.stack([VECTORS[key] for key in keys])
    scores = (mat / np.linalg.norm(mat, axis=1, keepdims=True)) @ (query / np.linalg.norm(query))
    return [keys[i] for i in np.argsort(-scores, kind="stable")[:k]]


@pytest.fixture
def vectors_collection(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    assert client.post("/collections", json={"name": "own"}).status_code == 201
    r = client.post("/collections/own/spaces", json={"name": "v", "embedder": {"type": "vectors", "dim": DIM}})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    assert client.get("/collections/own/spaces/v").json()["status"] == "ready"
    r = client.post("/collections/own/documents", json={"documents": _docs()})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == len(VECTORS)
    return client


def _search(client: TestClient, **body: object) -> list[str]:
    r = client.post("/collections/own/search", json={"space": "v", **body})
    assert r.status_code == 200, r.text
    return [h["external_id"] for h in r.json()["hits"]]


def test_vector_search_returns_the_true_neighbours(vectors_collection: TestClient) -> None:
    query = RNG.normal(size=DIM).astype(np.float32)
    keys = list(VECTORS)
    assert _search(vectors_collection, vector=query.tolist(), k=5) == _nearest(query, keys, 5)
    # a filter is applied inside the index: only odd documents, still the true top 5 among them
    odd = [key for key in keys if int(key[1:]) % 2]
    assert _search(vectors_collection, vector=query.tolist(), k=5, filter={"half": 1}) == _nearest(query, odd, 5)
    assert _search(vectors_collection, vector=query.tolist(), k=5, params={"exact": True}) == _nearest(query, keys, 5)


def test_more_like_this_uses_the_given_vector(vectors_collection: TestClient) -> None:
    r = vectors_collection.post("/collections/own/documents/d3/similar", json={"space": "v", "k": 4})
    assert r.status_code == 200, r.text
    others = [key for key in VECTORS if key != "d3"]
    assert [h["external_id"] for h in r.json()["hits"]] == _nearest(VECTORS["d3"], others, 4)


@pytest.mark.parametrize(
    ("document", "code", "field"),
    [
        ({"external_id": "x", "text": "t"}, "missing_vector", "documents[1].vectors.v"),
        ({"external_id": "x", "text": "t", "vectors": {"v": [1.0] * (DIM - 1)}}, "invalid_vectors", "documents[1].vectors.v"),
        ({"external_id": "x", "text": "t", "vectors": {"v": [0.0] * DIM}}, "invalid_vectors", "documents[1].vectors.v"),
        (
            {"external_id": "x", "text": "t", "vectors": {"v": [1.0] * DIM, "nope": [1.0] * DIM}},
            "unknown_vector_space",
            "documents[1].vectors.nope",
        ),
    ],
)
def test_bad_vectors_are_refused_naming_the_field_and_change_nothing(
    vectors_collection: TestClient, document: dict, code: str, field: str
) -> None:
    before = vectors_collection.get("/collections/own").json()["document_count"]
    changed = {"external_id": "d0", "text": "a new text", "vectors": {"v": [2.0] * DIM}}
    r = vectors_collection.post("/collections/own/documents", json={"documents": [changed, document]})
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == (code, field)
    assert vectors_collection.get("/collections/own").json()["document_count"] == before
    assert vectors_collection.get("/collections/own/documents/d0").json()["text"] == TEXTS["d0"]
    assert _search(vectors_collection, vector=VECTORS["d0"].tolist(), k=1) == ["d0"]


def test_non_finite_vector_is_refused(vectors_collection: TestClient) -> None:
    body = '{"documents": [{"external_id": "x", "text": "t", "vectors": {"v": [NaN, 1, 1, 1, 1, 1, 1, 1]}}]}'
    r = vectors_collection.post("/collections/own/documents", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["field"].startswith("documents[0].vectors.v")
    r = vectors_collection.post(
        "/collections/own/search",
        content='{"space": "v", "vector": [Infinity, 1, 1, 1, 1, 1, 1, 1]}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "vector[0]"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"query": "weather"}, "not_supported", "query"),
        ({"query": "weather", "vector": [1.0] * DIM}, "invalid_request", "vector"),
        ({}, "invalid_request", "vector"),
        ({"vector": [1.0] * (DIM + 1)}, "dimension_mismatch", "vector"),
    ],
)
def test_bad_queries_name_the_field(vectors_collection: TestClient, body: dict, code: str, field: str) -> None:
    r = vectors_collection.post("/collections/own/search", json={"space": "v", **body})
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == (code, field)


def test_a_changed_vector_alone_updates_the_document(vectors_collection: TestClient) -> None:
    target = RNG.normal(size=DIM).astype(np.float32)
    doc = {"external_id": "d7", "text": TEXTS["d7"], "metadata": {"half": 1}, "vectors": {"v": target.tolist()}}
    r = vectors_collection.post("/collections/own/documents", json={"documents": [doc]})
    assert r.json() == {"created": 0, "updated": 1, "unchanged": 0}
    assert _search(vectors_collection, vector=target.tolist(), k=1) == ["d7"]
    # sending the same again changes nothing
    r = vectors_collection.post("/collections/own/documents", json={"documents": [doc]})
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 1}


def test_vectors_for_a_space_that_embeds_its_own_are_refused(
    client: TestClient, jobs: Callable[[], int]
) -> None:
    client.post("/collections", json={"name": "txt"})
    docs = [{"external_id": f"t{i}", "text": f"sport and markets news item {i} weather"} for i in range(20)]
    client.post("/collections/txt/documents", json={"documents": docs})
    client.post("/collections/txt/spaces", json={"name": "w2v", "embedder": FAST_W2V})
    jobs()
    r = client.post(
        "/collections/txt/documents",
        json={"documents": [{"external_id": "t1", "text": "x y", "vectors": {"w2v": [1.0, 2.0]}}]},
    )
    assert r.status_code == 422
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == ("unknown_vector_space", "documents[0].vectors.w2v")


def test_vectors_survive_rebuild_restart_and_delete(
    vectors_collection: TestClient, settings: Settings, jobs: Callable[[], int]
) -> None:
    query = RNG.normal(size=DIM).astype(np.float32)
    before = _search(vectors_collection, vector=query.tolist(), k=6)
    assert vectors_collection.post("/collections/own/spaces/v/rebuild").status_code == 202
    assert jobs() == 1
    assert vectors_collection.get("/collections/own/spaces/v").json()["generation"] == 1
    assert _search(vectors_collection, vector=query.tolist(), k=6) == before
    # a fresh process (new app over the same data) replays from SQL and agrees
    from service.api import create_app

    with TestClient(create_app(settings, run_worker=False)) as other:
        r = other.post("/collections/own/search", json={"space": "v", "vector": query.tolist(), "k": 6})
        assert [h["external_id"] for h in r.json()["hits"]] == before
    assert vectors_collection.delete(f"/collections/own/documents/{before[0]}").status_code == 204
    assert _search(vectors_collection, vector=query.tolist(), k=5) == before[1:]


def test_compare_and_hybrid_take_a_vector(vectors_collection: TestClient, jobs: Callable[[], int]) -> None:
    # a second vectors space of another width, and documents carrying both
    r = vectors_collection.post("/collections/own/spaces", json={"name": "w", "embedder": {"type": "vectors", "dim": 3}})
    assert r.status_code == 202
    jobs()
    docs = _docs()
    for d in docs:
        d["vectors"]["w"] = [1.0, float(int(d["external_id"][1:])), 0.5]
    assert vectors_collection.post("/collections/own/documents", json={"documents": docs}).status_code == 200
    query = RNG.normal(size=DIM).astype(np.float32)
    r = vectors_collection.post("/collections/own/compare", json={"vector": query.tolist(), "k": 3})
    assert r.status_code == 200, r.text
    assert list(r.json()["results"]) == ["v"]  # only the dense spaces of the vector's length
    assert [h["external_id"] for h in r.json()["results"]["v"]] == _nearest(query, list(VECTORS), 3)
    r = vectors_collection.post("/collections/own/hybrid", json={"vector": query.tolist(), "k": 3, "spaces": ["v"]})
    assert r.status_code == 200, r.text
    assert [h["external_id"] for h in r.json()["hits"]] == _nearest(query, list(VECTORS), 3)
    r = vectors_collection.post("/collections/own/compare", json={"vector": query.tolist(), "spaces": ["v", "w"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "dimension_mismatch"


def test_items_created_by_interactions_need_no_vector(client: TestClient, jobs: Callable[[], int]) -> None:
    """An interactions batch may create items (``unknown_items: create``); they cannot carry vectors,
    so they are created without and stay out of the vectors space until sent with one."""
    client.post("/collections", json={"name": "shop", "kind": "items"})
    client.post("/collections/shop/spaces", json={"name": "v", "embedder": {"type": "vectors", "dim": DIM}})
    jobs()
    item = {"external_id": "a", "vectors": {"v": VECTORS["d1"].tolist()}}
    assert client.post("/collections/shop/documents", json={"documents": [item]}).status_code == 200
    events = [{"user": "u", "item": "b", "timestamp": "2024-03-01T12:00:00Z"}]
    r = client.post("/collections/shop/interactions", json={"interactions": events, "unknown_items": "create"})
    assert r.status_code == 200, r.text
    assert r.json() == {"inserted": 1, "created_items": 1}
    r = client.post("/collections/shop/search", json={"space": "v", "vector": VECTORS["d1"].tolist(), "k": 5})
    assert [h["external_id"] for h in r.json()["hits"]] == ["a"]
    # a plain upsert of an item without its vector is still refused
    r = client.post("/collections/shop/documents", json={"documents": [{"external_id": "c"}]})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "missing_vector")
