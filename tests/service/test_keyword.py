"""Keyword (bm25) spaces, side-by-side comparison and hybrid fusion, end to end over the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.query.fusion import fuse, jaccard
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

JSON = dict[str, Any]
BM25 = {"type": "bm25"}

EXTRA = [
    {"external_id": "rare", "text": "the referee showed a zyzzyva card to the striker", "metadata": {"topic": "sport"}},
    {"external_id": "zh-bank", "text": "中央银行宣布提高利率，股票市场大幅下跌", "metadata": {"topic": "markets"}},
    {"external_id": "zh-football", "text": "足球队在体育场赢得了比赛", "metadata": {"topic": "sport"}},
]


def _space(client: TestClient, jobs: Callable[[], int], spec: JSON, name: str) -> JSON:
    r = client.post("/collections/topics/spaces", json={"name": name, "embedder": spec})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    job = client.get(f"/jobs/{r.json()['job']['id']}").json()
    assert job["status"] == "succeeded", job
    return client.get(f"/collections/topics/spaces/{name}").json()


@pytest.fixture
def kw(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    r = client.post("/collections/topics/documents", json={"documents": topical_documents() + EXTRA})
    assert r.status_code == 200, r.text
    space = _space(client, jobs, BM25, "kw")
    assert space["status"] == "ready" and space["index_kind"] == "bm25"
    return client


def _search(client: TestClient, query: str, **extra: Any) -> list[JSON]:
    r = client.post("/collections/topics/search", json={"query": query, "space": "kw", **extra})
    assert r.status_code == 200, r.text
    assert r.json()["space"] == "kw"
    return r.json()["hits"]


def test_rare_term_ranks_its_document_first(kw: TestClient) -> None:
    hits = _search(kw, "zyzzyva striker", k=5)
    assert hits[0]["external_id"] == "rare"
    assert hits[0]["score"] > hits[1]["score"] > 0
    # Only documents sharing a query term are hits.
    assert _search(kw, "zyzzyva")[0]["external_id"] == "rare" and len(_search(kw, "zyzzyva")) == 1


def test_chinese_query_finds_chinese_document(kw: TestClient) -> None:
    assert _search(kw, "利率", k=3)[0]["external_id"] == "zh-bank"
    assert _search(kw, "在体育场的比赛", k=3)[0]["external_id"] == "zh-football"


def test_upsert_and_delete_follow_the_change_log(kw: TestClient) -> None:
    assert _search(kw, "quokka") == []
    doc = {"external_id": "new", "text": "a quokka visited the stadium", "metadata": {"topic": "sport"}}
    assert kw.post("/collections/topics/documents", json={"documents": [doc]}).status_code == 200
    assert [h["external_id"] for h in _search(kw, "quokka")] == ["new"]
    # An edit replaces the old tokens.
    doc["text"] = "a wombat visited the stadium"
    assert kw.post("/collections/topics/documents", json={"documents": [doc]}).status_code == 200
    assert _search(kw, "quokka") == [] and _search(kw, "wombat")[0]["external_id"] == "new"
    assert kw.delete("/collections/topics/documents/new").status_code == 204
    assert _search(kw, "wombat") == []
    assert kw.delete("/collections/topics/documents/rare").status_code == 204
    assert _search(kw, "zyzzyva") == []


def test_filter_is_honoured(kw: TestClient) -> None:
    hits = _search(kw, "stadium match bank", k=30, filter={"topic": "markets"})
    assert hits and {h["metadata"]["topic"] for h in hits} == {"markets"}
    assert _search(kw, "zyzzyva", filter={"topic": "markets"}) == []


def test_query_without_tokens_is_a_4xx(kw: TestClient) -> None:
    r = kw.post("/collections/topics/search", json={"query": "!!! ???", "space": "kw"})
    assert r.status_code in (400, 422) and r.json()["error"]["code"] == "empty_text", r.text


def test_similar_in_a_keyword_space_finds_the_same_topic(kw: TestClient) -> None:
    r = kw.post("/collections/topics/documents/market-0/similar", json={"space": "kw", "k": 5})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits and all(h["external_id"] != "market-0" for h in hits)
    assert hits[0]["metadata"]["topic"] == "markets"


def test_compare_two_spaces(kw: TestClient, jobs: Callable[[], int]) -> None:
    _space(kw, jobs, FAST_W2V, "w2v")
    r = kw.post("/collections/topics/compare", json={"query": "striker goal penalty", "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body["results"]) == ["kw", "w2v"]
    kw_ids = [h["external_id"] for h in body["results"]["kw"]]
    w2v_ids = [h["external_id"] for h in body["results"]["w2v"]]
    assert len(kw_ids) == len(w2v_ids) == 5
    assert body["overlap"] == {"kw|w2v": pytest.approx(jaccard(kw_ids, w2v_ids))}
    # Named spaces, in the given order, with a filter.
    r = kw.post(
        "/collections/topics/compare",
        json={"query": "bank shares", "k": 3, "spaces": ["w2v", "kw"], "filter": {"topic": "markets"}},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body["overlap"]) == ["w2v|kw"]
    assert all(h["metadata"]["topic"] == "markets" for hits in body["results"].values() for h in hits)
    # An unknown space is a 404.
    r = kw.post("/collections/topics/compare", json={"query": "bank", "spaces": ["nope"]})
    assert r.status_code == 404, r.text


def test_rrf_by_hand() -> None:
    rankings = {"a": [(1, 9.0), (2, 5.0), (3, 1.0)], "b": [(3, 0.9), (1, 0.8)]}
    fused = fuse(rankings, "rrf", rrf_k=60)
    # 1: 1/61 + 1/62; 3: 1/63 + 1/61; 2: 1/62.
    assert [d for d, _, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2][1] == pytest.approx(1 / 62)
    assert fused[1][2] == {"a": (3, 1.0), "b": (1, 0.9)}


def test_weighted_by_hand() -> None:
    rankings = {"a": [(1, 9.0), (2, 5.0), (3, 1.0)], "b": [(3, 0.9), (4, 0.5)]}
    fused = fuse(rankings, "weighted", {"a": 1.0, "b": 2.0})
    # a normalised: 1 -> 1, 2 -> .5, 3 -> 0; b: 3 -> 1, 4 -> 0. 3: 0 + 2 = 2; 1: 1; 2: .5; 4: 0.
    assert [(d, s) for d, s, _ in fused] == [(3, 2.0), (1, 1.0), (2, 0.5), (4, 0.0)]


def test_hybrid_rrf_over_the_api(kw: TestClient, jobs: Callable[[], int]) -> None:
    _space(kw, jobs, FAST_W2V, "w2v")
    query = "striker goal zyzzyva"
    lists = kw.post("/collections/topics/compare", json={"query": query, "k": 8}).json()["results"]
    r = kw.post(
        "/collections/topics/hybrid",
        json={"query": query, "k": 5, "spaces": ["kw", "w2v"], "fusion": "rrf", "candidates": 8},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fusion"] == "rrf" and body["spaces"] == ["kw", "w2v"]
    # Recompute RRF from the two lists by hand.
    expected: dict[str, float] = {}
    for hits in lists.values():
        for rank, h in enumerate(hits, start=1):
            expected[h["external_id"]] = expected.get(h["external_id"], 0.0) + 1 / (60 + rank)
    got = [(h["external_id"], h["score"]) for h in body["hits"]]
    assert len(got) == 5
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    for ext, score in got:
        assert score == pytest.approx(expected[ext])
    assert sorted(expected.values(), reverse=True)[:5] == pytest.approx([s for _, s in got])
    first = body["hits"][0]
    for space, pos in first["spaces"].items():
        assert lists[space][pos["rank"] - 1]["external_id"] == first["external_id"]


def test_hybrid_weighted_zero_weight_follows_the_other_space(kw: TestClient, jobs: Callable[[], int]) -> None:
    _space(kw, jobs, FAST_W2V, "w2v")
    query = "bank shares stadium"
    for only, zero in (("w2v", "kw"), ("kw", "w2v")):
        alone = kw.post("/collections/topics/search", json={"query": query, "k": 6, "space": only}).json()["hits"]
        r = kw.post(
            "/collections/topics/hybrid",
            json={"query": query, "k": 6, "spaces": ["kw", "w2v"], "fusion": "weighted", "weights": {zero: 0}},
        )
        assert r.status_code == 200, r.text
        assert [h["external_id"] for h in r.json()["hits"]] == [h["external_id"] for h in alone], only


def test_hybrid_rejects_bad_weights(kw: TestClient) -> None:
    r = kw.post("/collections/topics/hybrid", json={"query": "bank", "spaces": ["kw"], "weights": {"x": 1}})
    assert r.status_code in (400, 422) and r.json()["error"]["field"] == "weights", r.text
    r = kw.post("/collections/topics/hybrid", json={"query": "bank", "spaces": ["kw"], "weights": {"kw": -1}})
    assert r.status_code == 422, r.text


def test_cli_compare(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from service.cli import app
    from service.settings import get_settings

    monkeypatch.setenv("VECDEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VECDEX_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        src = tmp_path / "docs.jsonl"
        src.write_text("\n".join(json.dumps(d) for d in topical_documents() + EXTRA) + "\n")
        assert runner.invoke(app, ["ingest", str(src), "--collection", "topics", "--create"]).exit_code == 0
        params = [f"-p{k}={v}" for k, v in FAST_W2V.items() if k != "type"]
        r = runner.invoke(app, ["space", "create", "topics", "w2v", "-e", "word2vec", *params])
        assert r.exit_code == 0, r.output
        r = runner.invoke(app, ["space", "create", "topics", "kw", "-e", "bm25"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(app, ["compare", "topics", "zyzzyva striker goal", "--space", "kw", "-s", "w2v", "-k", "3"])
        assert r.exit_code == 0, r.output
        lines = r.output.splitlines()
        assert lines[0].split() == ["kw", "w2v"]
        assert lines[1].startswith("  1. rare (")
        assert len([line for line in lines if line[:4].strip().rstrip(".").isdigit()]) == 3
        assert lines[-1].startswith("overlap kw / w2v: ")
        r = runner.invoke(app, ["compare", "topics", "bank", "--json"])
        assert r.exit_code == 0, r.output
        assert set(json.loads(r.output)["overlap"]) == {"w2v|kw"}

        # hybrid: the CLI fuses what compare lists, by the same RRF as the API.
        query = "zyzzyva striker goal"
        r = runner.invoke(app, ["compare", "topics", query, "-s", "kw", "-s", "w2v", "-k", "8", "--json"])
        lists = json.loads(r.output)["results"]
        expected: dict[str, float] = {}
        for hits in lists.values():
            for rank, h in enumerate(hits, start=1):
                expected[h["external_id"]] = expected.get(h["external_id"], 0.0) + 1 / (60 + rank)
        r = runner.invoke(app, ["hybrid", "topics", query, "-s", "kw", "-s", "w2v", "-k", "4", "--candidates", "8", "--json"])
        assert r.exit_code == 0, r.output
        fused = json.loads(r.output)
        assert fused["spaces"] == ["kw", "w2v"]
        assert [h["score"] for h in fused["hits"]] == pytest.approx(sorted(expected.values(), reverse=True)[:4])
        r = runner.invoke(app, ["hybrid", "topics", query, "-k", "4", "--candidates", "8"])
        assert r.exit_code == 0 and r.output.startswith("rrf over w2v, kw:"), r.output
        assert len(r.output.strip().splitlines()) == 5 and "kw#1" in r.output
        # A zero weight leaves the other space's order.
        r = runner.invoke(app, ["hybrid", "topics", "bank shares stadium", "--fusion", "weighted", "-w", "w2v=0", "-k", "5", "--json"])
        alone = runner.invoke(app, ["search", "topics", "bank shares stadium", "--space", "kw", "-k", "5", "--json"])
        ids = lambda out: [h["external_id"] for h in json.loads(out)["hits"]]  # noqa: E731
        assert r.exit_code == 0 and ids(r.output) == ids(alone.output), r.output
        for bad, field in ((["-w", "kw=-1"], "weights"), (["-w", "nope=1"], "weights"), (["--fusion", "max"], "fusion")):
            r = runner.invoke(app, ["hybrid", "topics", "bank", *bad])
            assert r.exit_code == 2 and field in r.output, (bad, r.output)
    finally:
        get_settings.cache_clear()


def test_a_new_process_refills_the_keyword_index_from_sql(kw: TestClient, settings: Any) -> None:
    from service.api import create_app

    doc = {"external_id": "late", "text": "a platypus at the bank", "metadata": {"topic": "markets"}}
    assert kw.post("/collections/topics/documents", json={"documents": [doc]}).status_code == 200
    assert kw.delete("/collections/topics/documents/rare").status_code == 204
    with TestClient(create_app(settings, run_worker=False)) as other:
        assert _search(other, "platypus")[0]["external_id"] == "late"
        assert _search(other, "zyzzyva") == []
        assert _search(other, "利率")[0]["external_id"] == "zh-bank"


def test_rebuild_keeps_serving(kw: TestClient, jobs: Callable[[], int]) -> None:
    r = kw.post("/collections/topics/spaces/kw/rebuild")
    assert r.status_code == 202, r.text
    assert jobs() == 1
    space = kw.get("/collections/topics/spaces/kw").json()
    assert space["status"] == "ready" and space["generation"] == 1
    assert _search(kw, "zyzzyva")[0]["external_id"] == "rare"
