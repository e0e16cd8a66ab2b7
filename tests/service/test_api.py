"""The HTTP API end to end with FastAPI's TestClient, on SQLite and PostgreSQL.

Assertions are on behaviour: the right neighbours, the right error code and
field, and nothing written when a request is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import FAST_D2V, FAST_W2V
from tests.service.corpus import topical_documents
from tests.conftest import migrate

JSON = dict[str, Any]


def _error(resp: Any, status: int, code: str, field: str | None = None) -> JSON:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code, err
    if field is not None:
        assert err["field"] == field, err
    assert err["message"]
    return err


def _seed(client: TestClient, name: str = "topics") -> None:
    assert client.post("/collections", json={"name": name}).status_code == 201
    r = client.post(f"/collections/{name}/documents", json={"documents": topical_documents()})
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 20, "updated": 0, "unchanged": 0}


def _space(client: TestClient, jobs: Callable[[], int], spec: JSON, name: str, collection: str = "topics") -> JSON:
    r = client.post(f"/collections/{collection}/spaces", json={"name": name, "embedder": spec})
    assert r.status_code == 202, r.text
    job_id = r.json()["job"]["id"]
    assert r.json()["space"]["status"] == "pending"
    assert jobs() == 1
    job = client.get(f"/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job
    assert job["done"] == job["total"]
    return client.get(f"/collections/{collection}/spaces/{name}").json()


@pytest.fixture
def seeded(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    _seed(client)
    space = _space(client, jobs, FAST_W2V, "w2v")
    assert space["status"] == "ready" and space["is_default"] and space["dim"] == 48
    return client


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_collections_crud(client: TestClient) -> None:
    r = client.post("/collections", json={"name": "news", "description": "d"})
    assert r.status_code == 201 and r.json()["document_count"] == 0
    _error(client.post("/collections", json={"name": "news"}), 409, "already_exists", "name")
    _error(client.post("/collections", json={"name": "bad name!"}), 422, "invalid_request", "name")
    assert [c["name"] for c in client.get("/collections").json()] == ["news"]
    assert client.get("/collections/news").json()["name"] == "news"
    assert client.delete("/collections/news").status_code == 204
    _error(client.get("/collections/news"), 404, "collection_not_found", "collection")


def test_documents_upsert_get_list_delete(client: TestClient) -> None:
    _seed(client)
    doc = client.get("/collections/topics/documents/sport-3").json()
    assert doc["metadata"] == {"topic": "sport", "n": 3, "even": False}
    # Same external id replaces; same content is "unchanged".
    r = client.post(
        "/collections/topics/documents",
        json={"documents": [{"external_id": "sport-3", "text": "new text"}, topical_documents()[0]]},
    )
    assert r.json() == {"created": 0, "updated": 1, "unchanged": 1}
    after = client.get("/collections/topics/documents/sport-3").json()
    assert after["text"] == "new text" and after["id"] == doc["id"]
    # Cursor pagination visits every document exactly once.
    seen, cursor = [], None
    while True:
        page = client.get("/collections/topics/documents", params={"limit": 6, **({"cursor": cursor} if cursor else {})}).json()
        seen += [d["external_id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 20 and len(set(seen)) == 20
    _error(client.get("/collections/topics/documents", params={"cursor": "x"}), 422, "invalid_cursor", "cursor")
    assert client.delete("/collections/topics/documents/sport-3").status_code == 204
    _error(client.get("/collections/topics/documents/sport-3"), 404, "document_not_found", "external_id")
    assert client.get("/collections/topics").json()["document_count"] == 19


def test_search_finds_the_topic(seeded: TestClient) -> None:
    r = seeded.post("/collections/topics/search", json={"query": "the striker scored a goal in the match", "k": 5})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert len(hits) == 5
    assert all(h["metadata"]["topic"] == "sport" for h in hits), hits
    assert hits[0]["score"] >= hits[-1]["score"]
    r = seeded.post("/collections/topics/search", json={"query": "investors fear inflation and interest rates", "k": 5})
    assert all(h["metadata"]["topic"] == "markets" for h in r.json()["hits"])
    # A document's own text finds the document first.
    own = seeded.get("/collections/topics/documents/market-4").json()["text"]
    top = seeded.post("/collections/topics/search", json={"query": own, "k": 1}).json()["hits"][0]
    assert top["external_id"] == "market-4" and top["score"] == pytest.approx(1.0, abs=1e-4)


def test_filter_inside_the_index_returns_k(seeded: TestClient) -> None:
    # The query is about sport, the filter allows only markets: still exactly k market hits.
    body = {"query": "the striker scored a goal", "k": 4, "filter": {"topic": "markets"}}
    hits = seeded.post("/collections/topics/search", json=body).json()["hits"]
    assert len(hits) == 4 and {h["metadata"]["topic"] for h in hits} == {"markets"}
    body = {"query": "goal", "k": 10, "filter": {"topic": "sport", "even": True}}
    hits = seeded.post("/collections/topics/search", json=body).json()["hits"]
    assert sorted(h["external_id"] for h in hits) == [f"sport-{i}" for i in (0, 2, 4, 6, 8)]
    body = {"query": "goal", "k": 3, "filter": {"n": 7}}
    hits = seeded.post("/collections/topics/search", json=body).json()["hits"]
    assert sorted(h["external_id"] for h in hits) == ["market-7", "sport-7"]


def test_filter_errors(seeded: TestClient) -> None:
    q = {"query": "goal", "k": 3}
    _error(seeded.post("/collections/topics/search", json={**q, "filter": {"n": "7"}}), 422, "filter_type_mismatch", "filter.n")
    _error(seeded.post("/collections/topics/search", json={**q, "filter": {"color": "red"}}), 422, "unknown_filter_field", "filter.color")
    _error(seeded.post("/collections/topics/search", json={**q, "filter": {"n": [1]}}), 422, "invalid_filter", "filter.n")


def test_more_like_this(seeded: TestClient) -> None:
    r = seeded.post("/collections/topics/documents/sport-1/similar", json={"k": 5})
    hits = r.json()["hits"]
    assert len(hits) == 5 and "sport-1" not in [h["external_id"] for h in hits]
    assert sum(h["metadata"]["topic"] == "sport" for h in hits) >= 4
    r = seeded.post("/collections/topics/documents/sport-1/similar", json={"k": 3, "filter": {"topic": "markets"}})
    assert {h["metadata"]["topic"] for h in r.json()["hits"]} == {"markets"}
    _error(seeded.post("/collections/topics/documents/nope/similar", json={"k": 3}), 404, "document_not_found")


def test_words(seeded: TestClient) -> None:
    r = seeded.get("/collections/topics/spaces/w2v/words/striker/neighbors", params={"k": 5})
    assert r.status_code == 200, r.text
    neighbors = r.json()["neighbors"]
    assert len(neighbors) == 5 and "striker" not in [n["word"] for n in neighbors]
    _error(seeded.get("/collections/topics/spaces/w2v/words/zyzzyva/neighbors"), 404, "out_of_vocabulary")
    r = seeded.post("/collections/topics/spaces/w2v/words/analogy", json={"positive": ["striker", "bank"], "negative": ["football"], "k": 3})
    assert r.status_code == 200 and len(r.json()["results"]) == 3
    assert not {"striker", "bank", "football"} & {w["word"] for w in r.json()["results"]}
    _error(
        seeded.post("/collections/topics/spaces/w2v/words/analogy", json={"positive": ["zyzzyva"], "k": 3}), 404, "out_of_vocabulary"
    )
    # Contextual token vectors are for bilstm spaces.
    _error(seeded.post("/collections/topics/spaces/w2v/tokens", json={"text": "a goal"}), 422, "not_supported", "space")


def test_writes_reach_the_index(seeded: TestClient) -> None:
    new = {"external_id": "sport-new", "text": "the goalkeeper saved a penalty in the league match", "metadata": {"topic": "sport"}}
    seeded.post("/collections/topics/documents", json={"documents": [new]})
    hits = seeded.post("/collections/topics/search", json={"query": new["text"], "k": 1}).json()["hits"]
    assert hits[0]["external_id"] == "sport-new"
    seeded.delete("/collections/topics/documents/sport-new")
    hits = seeded.post("/collections/topics/search", json={"query": new["text"], "k": 20}).json()["hits"]
    assert "sport-new" not in [h["external_id"] for h in hits]
    assert len(hits) == 20


def test_doc2vec_space_side_by_side(seeded: TestClient, jobs: Callable[[], int]) -> None:
    space = _space(seeded, jobs, FAST_D2V, "d2v")
    assert space["status"] == "ready" and not space["is_default"]
    r = seeded.post("/collections/topics/search", json={"query": "investors and interest rates", "k": 5, "space": "d2v"})
    assert r.json()["space"] == "d2v" and len(r.json()["hits"]) == 5
    # A trained document's own text finds it among the first hits.
    own = seeded.get("/collections/topics/documents/sport-2").json()["text"]
    top = seeded.post("/collections/topics/search", json={"query": own, "k": 3, "space": "d2v"}).json()["hits"]
    assert "sport-2" in [h["external_id"] for h in top]
    # Word queries are for word2vec spaces only.
    _error(seeded.get("/collections/topics/spaces/d2v/words/goal/neighbors"), 422, "not_supported", "space")
    assert seeded.post("/collections/topics/spaces/d2v/default").json()["is_default"]
    assert seeded.get("/collections/topics").json()["default_space"] == "d2v"
    assert seeded.delete("/collections/topics/spaces/d2v").status_code == 204
    assert seeded.get("/collections/topics").json()["default_space"] == "w2v"


def _count(client: TestClient, collection: str = "topics") -> int:
    return client.get(f"/collections/{collection}").json()["document_count"]


def test_bad_input_changes_nothing(seeded: TestClient) -> None:
    post = lambda body: seeded.post("/collections/topics/documents", json=body)  # noqa: E731
    before = _count(seeded)
    _error(post({"documents": [{"external_id": "x", "text": "   "}]}), 422, "invalid_request", "documents[0].text")
    _error(post({"documents": []}), 422, "invalid_request", "documents")
    _error(post({"documents": [{"external_id": "a", "text": "t"}, {"external_id": "a", "text": "u"}]}), 422, "duplicate_external_id", "documents[1].external_id")
    # The second document's metadata contradicts the collection schema: the first must not be written either.
    bad = [{"external_id": "ok-1", "text": "fine"}, {"external_id": "bad-1", "text": "t", "metadata": {"n": "seven"}}]
    _error(post({"documents": bad}), 422, "metadata_type_mismatch", "documents[1].metadata.n")
    assert _count(seeded) == before
    _error(seeded.get("/collections/topics/documents/ok-1"), 404, "document_not_found")
    r = seeded.post("/collections/topics/documents", content=b'{"documents": [', headers={"content-type": "application/json"})
    _error(r, 400, "malformed_json")
    _error(seeded.post("/collections/nope/documents", json={"documents": [{"external_id": "a", "text": "t"}]}), 404, "collection_not_found")
    assert _count(seeded) == before


def test_search_errors(seeded: TestClient, settings: Any) -> None:
    s = lambda body, c="topics": seeded.post(f"/collections/{c}/search", json=body)  # noqa: E731
    _error(s({"query": "goal", "k": 0}), 422, "invalid_k", "k")
    _error(s({"query": "goal", "k": settings.max_k + 1}), 422, "invalid_k", "k")
    _error(s({"query": "   "}), 422, "invalid_request", "query")
    _error(s({"query": "goal"}, "nope"), 404, "collection_not_found", "collection")
    _error(s({"query": "goal", "space": "nope"}), 404, "space_not_found", "space")
    _error(s({"query": "zyzzyva qwxv"}), 422, "empty_text")
    _error(s({"query": "goal", "kk": 3}), 422, "invalid_request", "kk")


def test_search_params_reach_the_index_per_request(seeded: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """efSearch / nprobe / exact travel with one request to the index and no further (indexers tests
    show what they do to recall; this space is small, so every setting returns the exact answer)."""
    from indexers import FaissIndex, SearchParams

    seen: list[SearchParams | None] = []
    original = FaissIndex.search

    def spy(self: FaissIndex, queries: Any, k: int, allowed_ids: Any = None, params: Any = None) -> Any:
        seen.append(params)
        return original(self, queries, k, allowed_ids, params)

    monkeypatch.setattr(FaissIndex, "search", spy)
    q = {"query": "the striker scored a goal", "k": 5}
    plain = seeded.post("/collections/topics/search", json=q).json()["hits"]
    tuned = seeded.post("/collections/topics/search", json={**q, "params": {"ef_search": 512, "nprobe": 3}}).json()["hits"]
    exact = seeded.post("/collections/topics/search", json={**q, "params": {"exact": True}}).json()["hits"]
    assert seen == [None, SearchParams(ef_search=512, nprobe=3), SearchParams(exact=True)]
    assert [h["external_id"] for h in plain] == [h["external_id"] for h in tuned] == [h["external_id"] for h in exact]


def test_search_params_errors(seeded: TestClient) -> None:
    s = lambda params: seeded.post("/collections/topics/search", json={"query": "goal", "params": params})  # noqa: E731
    _error(s({"ef_search": 0}), 422, "invalid_request", "params.ef_search")
    _error(s({"nprobe": 0}), 422, "invalid_request", "params.nprobe")
    _error(s({"ef_search": 5000}), 422, "invalid_request", "params.ef_search")
    _error(s({"efSearch": 64}), 422, "invalid_request", "params.efSearch")
    _error(s({"exact": "sometimes"}), 422, "invalid_request", "params.exact")


def test_space_errors_write_nothing(seeded: TestClient, jobs: Callable[[], int]) -> None:
    spaces = lambda: seeded.get("/collections/topics/spaces").json()  # noqa: E731
    before = spaces()
    r = seeded.post("/collections/topics/spaces", json={"name": "x", "embedder": {**FAST_W2V, "min_count": 10_000}})
    _error(r, 422, "empty_vocabulary")
    r = seeded.post("/collections/topics/spaces", json={"name": "x", "embedder": {"type": "nope"}})
    _error(r, 422, "invalid_request")
    r = seeded.post("/collections/topics/spaces", json={"name": "x", "embedder": {**FAST_W2V, "dim": -1}})
    _error(r, 422, "invalid_request", "embedder.word2vec.dim")
    _error(seeded.post("/collections/topics/spaces", json={"name": "w2v", "embedder": FAST_W2V}), 409, "space_exists", "name")
    seeded.post("/collections", json={"name": "tiny"})
    seeded.post("/collections/tiny/spaces", json={"name": "x", "embedder": FAST_W2V})
    _error(seeded.post("/collections/tiny/spaces", json={"name": "x", "embedder": FAST_W2V}), 422, "corpus_too_small")
    seeded.post("/collections/tiny/documents", json={"documents": [{"external_id": "1", "text": "one lonely sentence"}]})
    _error(seeded.post("/collections/tiny/spaces", json={"name": "x", "embedder": FAST_W2V}), 422, "corpus_too_small")
    assert spaces() == before and seeded.get("/collections/tiny/spaces").json() == []
    assert jobs() == 0


def test_search_before_any_space(client: TestClient) -> None:
    _seed(client)
    _error(client.post("/collections/topics/search", json={"query": "goal"}), 404, "space_not_found", "space")
    client.post("/collections/topics/spaces", json={"name": "w2v", "embedder": FAST_W2V})
    _error(client.post("/collections/topics/search", json={"query": "goal", "space": "w2v"}), 409, "space_not_ready", "space")


def test_body_too_large(tmp_path: Any, sqlite_url: str) -> None:
    from service.api import create_app
    from tests.service.conftest import make_settings

    migrate(sqlite_url)
    with TestClient(create_app(make_settings(tmp_path, sqlite_url, max_body_bytes=2048), run_worker=False)) as c:
        c.post("/collections", json={"name": "c"})
        big = {"documents": [{"external_id": "a", "text": "x" * 5000}]}
        _error(c.post("/collections/c/documents", json=big), 413, "body_too_large")

        def chunks():  # no Content-Length: counted while streaming
            yield b'{"documents": [{"external_id": "a", "text": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}]}'

        r = c.post("/collections/c/documents", content=chunks(), headers={"content-type": "application/json"})
        _error(r, 413, "body_too_large")
        assert c.get("/collections/c").json()["document_count"] == 0


def test_batch_limit(tmp_path: Any, sqlite_url: str) -> None:
    from service.api import create_app
    from tests.service.conftest import make_settings

    migrate(sqlite_url)
    with TestClient(create_app(make_settings(tmp_path, sqlite_url, max_batch=3), run_worker=False)) as c:
        c.post("/collections", json={"name": "c"})
        docs = [{"external_id": str(i), "text": "t"} for i in range(4)]
        _error(c.post("/collections/c/documents", json={"documents": docs}), 422, "batch_too_large", "documents")
