"""One core behind every door: the embedded ``Vecdex`` and the HTTP API over it answer alike.

Like Qdrant's local/remote congruence tests: the same calls through
``service.Vecdex`` directly and through HTTP (a second app over the same data)
must give the same public schemas, and the same error (code, status, field).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service import Vecdex
from service.api import create_app
from service.errors import SpaceNotFound, VecdexError
from service.schemas import CollectionCreate, DocumentsUpsert, HybridRequest, SearchRequest, SimilarRequest
from service.settings import Settings
from service.space_schemas import SpaceCreate

from .conftest import FAST_W2V
from .corpus import topical_documents


@pytest.fixture
def both(settings: Settings) -> Iterator[tuple[Vecdex, TestClient]]:
    vx = Vecdex(settings)
    vx.collections.create(body=CollectionCreate(name="topics"))
    vx.documents.upsert(collection="topics", body=DocumentsUpsert.model_validate({"documents": topical_documents()}))
    created = vx.spaces.create(collection="topics", body=SpaceCreate.model_validate({"name": "w2v", "embedder": FAST_W2V}))
    job = vx.jobs.run_here(job_id=created.job.id)
    assert job is not None and job.status == "succeeded", job
    vx.spaces.create(collection="topics", body=SpaceCreate.model_validate({"name": "kw", "embedder": {"type": "bm25"}}))
    assert vx.jobs.run_here(job_id=vx.jobs.list(status="queued")[0].id).status == "succeeded"  # type: ignore[union-attr]
    with TestClient(create_app(settings, run_worker=False)) as client:
        yield vx, client
    vx.close()


def test_reads_and_queries_agree(both: tuple[Vecdex, TestClient]) -> None:
    vx, http = both
    assert [c.model_dump(mode="json") for c in vx.collections.list()] == http.get("/collections").json()
    assert [s.model_dump(mode="json") for s in vx.spaces.list(collection="topics")] == http.get(
        "/collections/topics/spaces"
    ).json()
    body = {"query": "the striker scored a goal", "k": 3}
    local = vx.queries.search(collection="topics", body=SearchRequest.model_validate(body)).model_dump(mode="json")
    assert local == http.post("/collections/topics/search", json=body).json()
    assert [h["metadata"]["topic"] for h in local["hits"]] == ["sport"] * 3
    body = {"query": "the striker scored a goal", "k": 5, "filter": {"even": True}}
    local = vx.queries.search(collection="topics", body=SearchRequest.model_validate(body)).model_dump(mode="json")
    assert local == http.post("/collections/topics/search", json=body).json()
    assert len(local["hits"]) == 5 and all(h["metadata"]["even"] for h in local["hits"])
    body = {"query": "interest rates", "k": 4, "spaces": ["kw", "w2v"]}
    local = vx.queries.hybrid(collection="topics", body=HybridRequest.model_validate(body)).model_dump(mode="json")
    assert local == http.post("/collections/topics/hybrid", json=body).json()
    local = vx.queries.similar(
        collection="topics", external_id="market-2", body=SimilarRequest(k=3)
    ).model_dump(mode="json")
    assert local == http.post("/collections/topics/documents/market-2/similar", json={"k": 3}).json()


def test_writes_through_one_door_are_seen_by_the_other(both: tuple[Vecdex, TestClient]) -> None:
    vx, http = both
    doc = {"external_id": "sport-x", "text": "the goalkeeper saved a penalty in the final match", "metadata": {"topic": "sport"}}
    assert http.post("/collections/topics/documents", json={"documents": [doc]}).json()["created"] == 1
    hits = vx.queries.search(collection="topics", body=SearchRequest(query="goalkeeper penalty final", k=25)).hits
    assert "sport-x" in [h.external_id for h in hits]
    vx.documents.delete(collection="topics", external_id="sport-x")
    hits = http.post("/collections/topics/search", json={"query": "goalkeeper penalty final", "k": 25}).json()["hits"]
    assert "sport-x" not in [h["external_id"] for h in hits]


def test_errors_are_one_class_and_one_answer(both: tuple[Vecdex, TestClient]) -> None:
    vx, http = both
    with pytest.raises(SpaceNotFound) as caught:
        vx.queries.search(collection="topics", body=SearchRequest(query="goal", space="nope"))
    r = http.post("/collections/topics/search", json={"query": "goal", "space": "nope"})
    error: VecdexError = caught.value
    assert r.status_code == error.status == 404
    assert r.json()["error"] == {"code": error.code, "message": error.message, "field": error.field}
