"""An lsa space through the service, on both dialects: built by a job, searched, analysed."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.service.corpus import topical_documents


def test_an_lsa_space_finds_its_topic(client: TestClient, jobs: Callable[[], int]) -> None:
    assert client.post("/collections", json={"name": "t"}).status_code == 201
    docs = topical_documents()
    assert client.post("/collections/t/documents", json={"documents": docs}).status_code == 200
    r = client.post("/collections/t/spaces", json={"name": "lsa", "embedder": {"type": "lsa", "dim": 8}})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    space = client.get("/collections/t/spaces/lsa").json()
    assert (space["status"], space["dim"], space["metric"]) == ("ready", 8, "cosine")
    topic = {d["external_id"]: d["metadata"]["topic"] for d in docs}
    for query, wanted in (("goalkeeper penalty", "sport"), ("inflation investors", "markets")):
        hits = client.post("/collections/t/search", json={"query": query, "k": 5, "space": "lsa"}).json()["hits"]
        assert [topic[h["external_id"]] for h in hits] == [wanted] * 5, (query, hits)
    r = client.post("/collections/t/spaces/lsa/analyze", json={"text": "The striker's goals"})
    assert r.json()["tokens"] == ["striker", "goals"]
