"""Vectors out: ``POST .../spaces/{s}/embed`` and ``GET .../documents/{id}/vectors``, checked against the space itself.

Each vector handed out must be the one the service itself works with: an
embedded query searched as ``vector`` ranks exactly like the text search, a
document's vector is its text embedded as a document (and follows an update),
given vectors come back as given. Refusals name the field and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

from .conftest import FAST_W2V
from .corpus import topical_documents
from tests.conftest import migrate

DOCS = {d["external_id"]: d["text"] for d in topical_documents()}


@pytest.fixture
def news(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    """A documents collection with a trained word2vec space (the default) and a bm25 space."""
    assert client.post("/collections", json={"name": "news"}).status_code == 201
    assert client.post("/collections/news/documents", json={"documents": topical_documents()}).status_code == 200
    for space in ({"name": "w2v", "embedder": FAST_W2V, "make_default": True}, {"name": "bm25", "embedder": {"type": "bm25"}}):
        assert client.post("/collections/news/spaces", json=space).status_code == 202
    assert jobs() == 2
    return client


def _embed(client: TestClient, space: str = "w2v", **body: object) -> np.ndarray:
    r = client.post(f"/collections/news/spaces/{space}/embed", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["space"] == space and out["dim"] == len(out["vectors"][0])
    return np.asarray(out["vectors"], dtype=np.float32)


def _doc_vector(client: TestClient, external_id: str, **params: str) -> np.ndarray:
    r = client.get(f"/collections/news/documents/{external_id}/vectors", params=params)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["external_id"] == external_id and out["dim"] == len(out["vector"])
    return np.asarray(out["vector"], dtype=np.float32)


def test_an_embedded_query_searches_exactly_like_its_text(news: TestClient) -> None:
    query = "the striker scored a goal in the match"
    vector = _embed(news, texts=[query])[0]
    by_text = news.post("/collections/news/search", json={"query": query, "space": "w2v", "k": 5}).json()["hits"]
    by_vector = news.post("/collections/news/search", json={"vector": vector.tolist(), "space": "w2v", "k": 5}).json()["hits"]
    assert [h["external_id"] for h in by_vector] == [h["external_id"] for h in by_text]
    assert np.allclose([h["score"] for h in by_vector], [h["score"] for h in by_text], atol=1e-6)
    assert by_text[0]["external_id"].startswith("sport-")


def test_text_and_texts_agree_and_keep_the_order(news: TestClient) -> None:
    texts = ["stock market shares", "football goal", "interest rates"]
    many = _embed(news, texts=texts)
    assert many.shape == (3, 48)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(_embed(news, text=text)[0], many[i], atol=1e-6)
    assert not np.allclose(many[0], many[1])


def test_a_document_vector_is_its_text_embedded_as_a_document(news: TestClient) -> None:
    stored = _doc_vector(news, "market-3")
    assert stored.shape == (48,) and np.any(stored != 0)
    np.testing.assert_allclose(stored, _embed(news, texts=[DOCS["market-3"]], kind="document")[0], atol=1e-6)
    # word2vec embeds queries and documents alike (mean pooling), so the default kind gives the same vector
    np.testing.assert_allclose(stored, _embed(news, texts=[DOCS["market-3"]])[0], atol=1e-6)
    # the space defaults to the collection's default (w2v)
    np.testing.assert_allclose(_doc_vector(news, "market-3", space="w2v"), stored, atol=0)


def test_a_document_vector_follows_an_update(news: TestClient) -> None:
    before = _doc_vector(news, "sport-1")
    text = "investors sold bank shares as interest rates rose"
    r = news.post("/collections/news/documents", json={"documents": [{"external_id": "sport-1", "text": text}]})
    assert r.status_code == 200, r.text
    after = _doc_vector(news, "sport-1", space="w2v")
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, _embed(news, texts=[text], kind="document")[0], atol=1e-6)


def test_given_vectors_come_back_as_given(client: TestClient, jobs: Callable[[], int]) -> None:
    assert client.post("/collections", json={"name": "own"}).status_code == 201
    assert client.post("/collections/own/spaces", json={"name": "v", "embedder": {"type": "vectors", "dim": 4}}).status_code == 202
    assert jobs() == 1
    given = [0.25, -1.5, 3.0, 0.125]
    doc = {"external_id": "a", "text": "some text", "vectors": {"v": given}}
    assert client.post("/collections/own/documents", json={"documents": [doc]}).status_code == 200
    r = client.get("/collections/own/documents/a/vectors", params={"space": "v"})
    assert r.status_code == 200, r.text
    assert r.json()["vector"] == given
    # a given-vectors space has no model to embed text with
    r = client.post("/collections/own/spaces/v/embed", json={"texts": ["some text"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_supported"
    assert r.json()["error"]["field"] == "space" and "given" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"texts": ["football goal", "zzzz qqqq"]}, "texts[1]"),  # nothing in it is known to the model
        ({"text": "zzzz qqqq", "kind": "document"}, "text"),
        ({"text": "goal", "texts": ["goal"]}, None),  # exactly one of the two
        ({}, None),
        ({"texts": []}, "texts"),
        ({"texts": ["goal"], "kind": "passage"}, "kind"),
    ],
)
def test_bad_embed_requests_name_the_field(news: TestClient, body: dict, field: str | None) -> None:
    r = news.post("/collections/news/spaces/w2v/embed", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_too_many_texts_is_batch_too_large(tmp_path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """The cap is the deployment's VECDEX_MAX_BATCH, as for an upsert (and the OpenAPI document says so)."""
    from service.api import create_app

    from .conftest import make_settings, run_jobs

    migrate(database_url)
    settings = make_settings(tmp_path, database_url, max_batch=25)
    with TestClient(create_app(settings, run_worker=False)) as client:
        client.post("/collections", json={"name": "news"})
        client.post("/collections/news/documents", json={"documents": topical_documents()})
        client.post("/collections/news/spaces", json={"name": "w2v", "embedder": FAST_W2V})
        assert run_jobs(settings) == 1
        r = client.post("/collections/news/spaces/w2v/embed", json={"texts": ["goal"] * 26})
        assert r.status_code == 422 and r.json()["error"] == {
            "code": "batch_too_large", "message": r.json()["error"]["message"], "field": "texts"
        }
        assert client.post("/collections/news/spaces/w2v/embed", json={"texts": ["goal"] * 25}).status_code == 200
        spec = client.get("/openapi.json").json()
        assert spec["components"]["schemas"]["EmbedRequest"]["properties"]["texts"]["maxItems"] == 25


def test_unknown_things_are_404_and_keyword_spaces_422(news: TestClient) -> None:
    cases = [
        ("post", "/collections/nope/spaces/w2v/embed", "collection_not_found"),
        ("post", "/collections/news/spaces/nope/embed", "space_not_found"),
        ("get", "/collections/news/documents/nope/vectors", "document_not_found"),
        ("get", "/collections/news/documents/sport-0/vectors?space=nope", "space_not_found"),
        ("get", "/collections/nope/documents/sport-0/vectors", "collection_not_found"),
    ]
    for method, url, code in cases:
        r = news.post(url, json={"texts": ["goal"]}) if method == "post" else news.get(url)
        assert r.status_code == 404 and r.json()["error"]["code"] == code, (url, r.text)
    r = news.post("/collections/news/spaces/bm25/embed", json={"texts": ["goal"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_supported" and r.json()["error"]["field"] == "space"
    r = news.get("/collections/news/documents/sport-0/vectors", params={"space": "bm25"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_supported" and r.json()["error"]["field"] == "space"


def test_a_space_not_ready_is_409(news: TestClient) -> None:
    assert news.post("/collections/news/spaces", json={"name": "later", "embedder": FAST_W2V}).status_code == 202
    r = news.post("/collections/news/spaces/later/embed", json={"texts": ["goal"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "space_not_ready"
    r = news.get("/collections/news/documents/sport-0/vectors", params={"space": "later"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "space_not_ready"
