"""``POST .../documents/{id}/similar/combined``: neighbours ranked by the clipped mean of each space's cosine,
what the similarity evaluation's combination scores; bad input a 4xx naming the field (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

C = "/collections/topics"


@pytest.fixture
def topics(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post(f"{C}/documents", json={"documents": topical_documents()}).status_code == 200
    for name, spec in (("w2v", FAST_W2V), ("tf", {"type": "tfidf", "min_count": 1}), ("kw", {"type": "bm25"})):
        assert client.post(f"{C}/spaces", json={"name": name, "embedder": spec}).status_code == 202
        assert jobs() == 1
    return client


def _cosines(client: TestClient, space: str, doc: str) -> dict[str, float]:
    hits = client.post(f"{C}/documents/{doc}/similar", json={"k": 19, "space": space}).json()["hits"]
    return {h["external_id"]: h["score"] for h in hits}


def test_the_ranking_is_the_clipped_mean_of_the_spaces_cosines(topics: TestClient) -> None:
    w2v, tf = _cosines(topics, "w2v", "sport-0"), _cosines(topics, "tf", "sport-0")
    weights = {"w2v": 1.0, "tf": 3.0}
    r = topics.post(f"{C}/documents/sport-0/similar/combined", json={"k": 5, "spaces": ["w2v", "tf"], "weights": weights})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["spaces"] == ["w2v", "tf"] and body["weights"] == weights and body["weights_from"] == "request"
    expected = {d: (max(w2v[d], 0) + 3 * max(tf[d], 0)) / 4 for d in w2v}
    best = sorted(expected, key=lambda d: (-expected[d], d))[:5]
    assert [h["external_id"] for h in body["hits"]] == best
    for h in body["hits"]:
        assert h["score"] == pytest.approx(expected[h["external_id"]], abs=1e-5)
        assert h["scores"] == pytest.approx({"w2v": w2v[h["external_id"]], "tf": tf[h["external_id"]]}, abs=1e-5)
        assert h["external_id"] != "sport-0"
    # Same topic first: the corpus has two topics.
    assert all(h["external_id"].startswith("sport") for h in body["hits"])
    equal = topics.post(f"{C}/documents/sport-0/similar/combined", json={"k": 3, "spaces": ["w2v", "tf"]}).json()
    assert equal["weights"] == {"w2v": 1.0, "tf": 1.0} and equal["weights_from"] == "equal"
    mean = {d: (max(w2v[d], 0) + max(tf[d], 0)) / 2 for d in w2v}
    assert [h["external_id"] for h in equal["hits"]] == sorted(mean, key=lambda d: (-mean[d], d))[:3]
    filtered = topics.post(
        f"{C}/documents/sport-0/similar/combined", json={"k": 5, "spaces": ["w2v", "tf"], "filter": {"topic": "markets"}}
    ).json()
    assert filtered["hits"] and all(h["metadata"]["topic"] == "markets" for h in filtered["hits"])


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"spaces": ["w2v"]}, 422, "spaces"),
        ({"spaces": ["w2v", "kw"]}, 422, "spaces[1]"),
        ({"spaces": ["w2v", "tf"], "weights": {"nope": 1}}, 422, "weights"),
        ({"spaces": ["w2v", "tf"], "weights": {"w2v": -1}}, 422, "weights"),
        ({"spaces": ["w2v", "tf"], "weights": {"w2v": 0, "tf": 0}}, 422, "weights"),
        ({"spaces": ["w2v", "ghost"]}, 404, "space"),
    ],
)
def test_bad_input_names_the_field(topics: TestClient, body: dict[str, Any], status: int, field: str) -> None:
    r = topics.post(f"{C}/documents/sport-0/similar/combined", json=body)
    assert r.status_code == status, r.text
    assert field in str(r.json()), r.json()


def test_an_unknown_document_is_a_404(topics: TestClient) -> None:
    r = topics.post(f"{C}/documents/nope/similar/combined", json={"spaces": ["w2v", "tf"]})
    assert r.status_code == 404 and "nope" in r.text


def test_weights_fitted_by_an_evaluation_are_kept_on_the_collection_and_used(topics: TestClient) -> None:
    pairs = [("sport-0", "sport-1", 1.0), ("sport-0", "market-0", 0.0), ("market-1", "market-2", 0.9),
             ("sport-2", "market-3", 0.1), ("sport-4", "sport-5", 0.8), ("market-5", "sport-6", 0.2)]
    body = {"task": "similarity", "pairs": [{"a": a, "b": b, "score": s} for a, b, s in pairs]}
    # Without fit_weights nothing is kept: the combination stays equal.
    assert topics.post(f"{C}/evaluations", json=body).status_code == 200
    url = f"{C}/documents/sport-0/similar/combined"
    assert topics.post(url, json={"spaces": ["w2v", "tf"]}).json()["weights_from"] == "equal"
    r = topics.post(f"{C}/evaluations", json={**body, "fit_weights": True})
    fitted = {x["space"]: x for x in r.json()["results"]}["w2v+tf"]["params"]["weights"]
    got = topics.post(url, json={"k": 4, "spaces": ["tf", "w2v"]}).json()
    assert got["weights_from"] == "collection" and got["weights"] == pytest.approx({"tf": fitted["tf"], "w2v": fitted["w2v"]})
    w2v, tf = _cosines(topics, "w2v", "sport-0"), _cosines(topics, "tf", "sport-0")
    for h in got["hits"]:
        d = h["external_id"]
        want = (fitted["w2v"] * max(w2v[d], 0) + fitted["tf"] * max(tf[d], 0)) / (fitted["w2v"] + fitted["tf"])
        assert h["score"] == pytest.approx(want, abs=1e-5)
    # A request's weights win.
    assert topics.post(url, json={"spaces": ["w2v", "tf"], "weights": {"w2v": 1}}).json()["weights_from"] == "request"
