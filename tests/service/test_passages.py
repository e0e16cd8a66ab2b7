"""Chunked spaces (``index.chunking``): long documents are indexed passage by passage, found by their best
passage, and answered with that passage's offsets; edits and deletes replace every passage; filters keep
k; a reloaded server answers the same; families that cannot embed passages are refused. Both dialects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from service.api import create_app
from service.settings import Settings
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

C = "/collections/long"
DOCS = topical_documents()
SPORT = [d["text"] for d in DOCS if d["metadata"]["topic"] == "sport"]
MARKETS = [d["text"] for d in DOCS if d["metadata"]["topic"] == "markets"]
# Mostly sport, one paragraph on markets in the middle: a whole-document vector is a sport vector.
MIXED = "\n\n".join(SPORT[:6] + [MARKETS[0]] + SPORT[6:])
CHUNKED = {"by": "paragraphs", "size": 64, "overlap": 0}


def _setup(client: TestClient, jobs: Callable[[], int]) -> None:
    docs = DOCS + [{"external_id": "mixed", "text": MIXED, "metadata": {"topic": "mixed"}}]
    assert client.post("/collections", json={"name": "long"}).status_code == 201
    assert client.post(f"{C}/documents", json={"documents": docs}).status_code == 200
    for name, index in (("whole", {}), ("chunked", {"chunking": CHUNKED})):
        r = client.post(f"{C}/spaces", json={"name": name, "embedder": FAST_W2V, "index": index})
        assert r.status_code == 202, r.text
    assert jobs() == 2


def _search(client: TestClient, space: str, query: str, **extra: Any) -> list[dict[str, Any]]:
    r = client.post(f"{C}/search", json={"query": query, "space": space, "k": 21, **extra})
    assert r.status_code == 200, r.text
    return r.json()["hits"]


def _rank(hits: list[dict[str, Any]], external_id: str) -> int:
    return [h["external_id"] for h in hits].index(external_id)


def test_a_long_document_is_found_by_its_best_passage(client: TestClient, jobs: Callable[[], int]) -> None:
    _setup(client, jobs)
    query = "the central bank raised interest rates"
    chunked = _search(client, "chunked", query, snippet_chars=80)
    whole = _search(client, "whole", query)
    assert _rank(chunked, "mixed") < _rank(whole, "mixed")  # its one market paragraph counts in full
    hit = chunked[_rank(chunked, "mixed")]
    start = MIXED.index(MARKETS[0])
    best = hit["passages"][0]
    assert (best["start"], best["end"]) == (start, start + len(MARKETS[0])) and best["score"] == hit["score"]
    assert len(hit["passages"]) <= 3 and [p["score"] for p in hit["passages"]] == sorted(
        (p["score"] for p in hit["passages"]), reverse=True
    )
    # the snippet comes from the best passage, its terms marked
    assert best["start"] <= hit["text_offset"] and MIXED[hit["text_offset"]:].startswith(hit["text"])
    assert {hit["text"][h["start"]:h["end"]] for h in hit["highlights"]} >= {"central", "bank"}
    # a whole-document space has no passages; a short document is one passage: itself
    assert all(h["passages"] == [] for h in whole)
    short = next(h for h in chunked if h["external_id"] == "market-0")
    assert [(p["start"], p["end"]) for p in short["passages"]] == [(0, len(MARKETS[0]))]
    space = client.get(f"{C}/spaces/chunked").json()
    assert space["index"]["chunking"] == CHUNKED and space["status"] == "ready"


def test_edits_and_deletes_replace_every_passage(client: TestClient, jobs: Callable[[], int]) -> None:
    _setup(client, jobs)
    query = "the central bank raised interest rates"
    before = _rank(_search(client, "chunked", query), "mixed")
    r = client.patch(f"{C}/documents/mixed", json={"text": "\n\n".join(SPORT)})  # the market paragraph removed
    assert r.status_code == 200, r.text
    hits = _search(client, "chunked", query)
    assert _rank(hits, "mixed") > before
    sport = _search(client, "chunked", "the goalkeeper saved a penalty")
    mixed = next(h for h in sport if h["external_id"] == "mixed")
    assert all(p["end"] <= len("\n\n".join(SPORT)) for p in mixed["passages"])
    assert client.delete(f"{C}/documents/mixed").status_code == 204
    assert "mixed" not in {h["external_id"] for h in _search(client, "chunked", query)}


def test_a_filter_keeps_k_documents(client: TestClient, jobs: Callable[[], int]) -> None:
    _setup(client, jobs)
    hits = _search(client, "chunked", "the striker scored a goal", filter={"topic": {"in": ["markets", "mixed"]}}, k=11)
    assert len(hits) == 11 and len({h["external_id"] for h in hits}) == 11
    assert {h["metadata"]["topic"] for h in hits} == {"markets", "mixed"}
    page2 = _search(client, "chunked", "the striker scored a goal", k=5, offset=5)
    assert [h["external_id"] for h in page2] == [h["external_id"] for h in _search(client, "chunked", "the striker scored a goal", k=10)][5:]


def test_a_restarted_server_answers_the_same(client: TestClient, jobs: Callable[[], int], settings: Settings) -> None:
    _setup(client, jobs)
    want = _search(client, "chunked", "interest rates and shares")
    with TestClient(create_app(settings, run_worker=False)) as again:
        assert _search(again, "chunked", "interest rates and shares") == want
    r = client.post(f"{C}/spaces/chunked/rebuild")
    assert r.status_code == 202 and jobs() == 1
    rebuilt = client.get(f"{C}/spaces/chunked").json()
    assert rebuilt["generation"] == 1 and rebuilt["index"]["chunking"] == CHUNKED
    assert _search(client, "chunked", "interest rates and shares")[0]["passages"]


def test_families_that_cannot_embed_passages_are_refused(client: TestClient) -> None:
    assert client.post("/collections", json={"name": "long"}).status_code == 201
    assert client.post(f"{C}/documents", json={"documents": DOCS}).status_code == 200
    r = client.post(f"{C}/spaces", json={"name": "kw", "embedder": {"type": "bm25"}, "index": {"chunking": CHUNKED}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "index.chunking", r.text
    r = client.post(f"{C}/spaces", json={"name": "w", "embedder": FAST_W2V, "index": {"chunking": {"size": 10, "overlap": 10}}})
    assert r.status_code == 422 and "overlap" in r.text
    assert client.get(f"{C}/spaces").json() == []


def test_a_chunked_space_travels_as_its_spec_and_is_built_again(client: TestClient, jobs: Callable[[], int]) -> None:
    import json

    _setup(client, jobs)
    exported = client.get(f"{C}/export").content
    header = json.loads(exported.splitlines()[0])
    assert {s["name"]: s["carries"] for s in header["spaces"]} == {"whole": "model", "chunked": "spec"}
    r = client.post("/collections/copy/import", content=exported)
    assert r.status_code == 201, r.text
    assert jobs() == 1
    copy = client.post("/collections/copy/search", json={"query": "interest rates", "space": "chunked", "k": 3}).json()
    assert copy["hits"][0]["passages"] and client.get("/collections/copy/spaces/chunked").json()["index"]["chunking"] == CHUNKED


def test_the_cli_creates_a_chunked_space(tmp_path: Any, monkeypatch: Any) -> None:
    import json

    from tests.service.test_cli import run

    monkeypatch.setenv("VECDEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VECDEX_DATABASE_URL", raising=False)
    from service.settings import get_settings

    get_settings.cache_clear()
    try:
        assert run("db", "upgrade")[0] == 0
        src = tmp_path / "docs.jsonl"
        src.write_text(json.dumps({"external_id": "mixed", "text": MIXED}) + "\n" + "".join(json.dumps(d) + "\n" for d in DOCS))
        assert run("ingest", str(src), "--collection", "long", "--create")[0] == 0
        params = [f"-p{k}={v}" for k, v in FAST_W2V.items() if k != "type"]
        code, out = run("space", "create", "long", "p", "-e", "word2vec", *params, "--chunk", "paragraphs:64")
        assert code == 0, out
        code, out = run("space", "list", "long", "--json")
        assert json.loads(out)[0]["index"]["chunking"] == {"by": "paragraphs", "size": 64, "overlap": 40}
        code, out = run("space", "create", "long", "q", "-e", "word2vec", "--chunk", "tokens:x:y:z")
        assert code != 0 and "--chunk" in out
    finally:
        get_settings.cache_clear()
