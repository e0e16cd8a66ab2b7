"""``offset`` paging on search, hybrid, similar and similar/combined: page 2 is exactly ranks 11-20.

Each page must equal the slice of one deeper query (the index is asked for k + offset and the first
offset dropped), on both dialects; a filter that leaves fewer gives fewer; the depth is bounded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli import app
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

JSON = dict[str, Any]
C = "/collections/topics"
SPACES = (("w2v", FAST_W2V), ("tf", {"type": "tfidf", "min_count": 1}), ("kw", {"type": "bm25"}))


@pytest.fixture
def seeded(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post(f"{C}/documents", json={"documents": topical_documents()}).status_code == 200
    for name, spec in SPACES:
        assert client.post(f"{C}/spaces", json={"name": name, "embedder": spec}).status_code == 202
    assert jobs() == len(SPACES)
    return client


def _hits(resp: Any) -> list[JSON]:
    assert resp.status_code == 200, resp.text
    return resp.json()["hits"]


def _error(resp: Any, code: str, field: str) -> None:
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == code and err["field"] == field, err


def _pages(client: TestClient, url: str, body: JSON, size: int, pages: int, *, every: bool = True) -> None:
    """The last page of ``size`` (the same index depth) equals the matching slice of one query of
    ``size * pages`` hits; with ``every``, the earlier pages too (a ranking without ties: where scores
    tie, which of the tied documents a shallower query keeps is the index's choice)."""
    full = _hits(client.post(url, json={**body, "k": size * pages}))
    assert len(full) == size * pages
    for page in range(pages) if every else [pages - 1]:
        got = _hits(client.post(url, json={**body, "k": size, "offset": page * size}))
        assert got == full[page * size : (page + 1) * size], (url, body, page)


def test_search_pages_are_slices_of_one_deeper_search(seeded: TestClient) -> None:
    for space in ("w2v", "tf", "kw"):
        every = space != "tf"  # tf-idf scores many documents 0.0 for this query: ties
        _pages(seeded, f"{C}/search", {"query": "the striker scored a goal", "space": space}, 10, 2, every=every)
        _pages(seeded, f"{C}/search", {"query": "the striker scored a goal", "space": space}, 5, 4, every=every)
    vector = [0.01 * i for i in range(48)]
    _pages(seeded, f"{C}/search", {"vector": vector, "space": "w2v", "params": {"exact": True}}, 10, 2)
    assert _hits(seeded.post(f"{C}/search", json={"query": "goal", "k": 10})) == _hits(
        seeded.post(f"{C}/search", json={"query": "goal", "k": 10, "offset": 0})
    )

    # a filter: the pages are slices of the filtered ranking, and past its end fewer (or none) come back
    flt = {"query": "interest rates", "filter": {"topic": "sport"}}
    _pages(seeded, f"{C}/search", flt, 5, 2)
    full = _hits(seeded.post(f"{C}/search", json={**flt, "k": 10}))
    assert _hits(seeded.post(f"{C}/search", json={**flt, "k": 5, "offset": 8})) == full[8:]
    assert _hits(seeded.post(f"{C}/search", json={**flt, "k": 5, "offset": 10})) == []
    assert _hits(seeded.post(f"{C}/search", json={"query": "goal", "k": 10, "offset": 15})) == _hits(
        seeded.post(f"{C}/search", json={"query": "goal", "k": 20})
    )[15:]


def test_hybrid_similar_and_combined_pages(seeded: TestClient) -> None:
    _pages(seeded, f"{C}/hybrid", {"query": "the striker scored a goal", "spaces": ["kw", "w2v"]}, 10, 2)
    _pages(
        seeded, f"{C}/hybrid", {"query": "bank shares", "spaces": ["kw", "tf"], "fusion": "weighted"}, 4, 3
    )
    for space in ("w2v", "kw"):
        full = _hits(seeded.post(f"{C}/documents/sport-1/similar", json={"k": 19, "space": space}))
        assert len(full) == 19 and "sport-1" not in [h["external_id"] for h in full]
        page = _hits(seeded.post(f"{C}/documents/sport-1/similar", json={"k": 9, "offset": 10, "space": space}))
        assert page == full[10:19]
        assert _hits(seeded.post(f"{C}/documents/sport-1/similar", json={"k": 10, "space": space})) == full[:10]
    combined = {"spaces": ["w2v", "tf"]}
    _pages(seeded, f"{C}/documents/market-2/similar/combined", combined, 5, 3)


def test_offset_is_bounded(seeded: TestClient) -> None:
    s = f"{C}/search"
    _error(seeded.post(s, json={"query": "goal", "offset": -1}), "invalid_request", "offset")
    _error(seeded.post(s, json={"query": "goal", "offset": 10_001}), "invalid_request", "offset")
    _error(seeded.post(s, json={"query": "goal", "offset": "x"}), "invalid_request", "offset")
    # k + offset beyond VECDEX_MAX_K (1000): no deeper than the deepest single query
    _error(seeded.post(s, json={"query": "goal", "k": 10, "offset": 991}), "invalid_request", "offset")
    assert seeded.post(s, json={"query": "goal", "k": 10, "offset": 990}).status_code == 200
    _error(seeded.post(f"{C}/hybrid", json={"query": "goal", "offset": 995}), "invalid_request", "offset")
    _error(
        seeded.post(f"{C}/hybrid", json={"query": "goal", "k": 10, "offset": 10, "candidates": 15}),
        "invalid_k", "candidates",
    )
    sim = f"{C}/documents/sport-1/similar"
    _error(seeded.post(sim, json={"offset": 995}), "invalid_request", "offset")
    _error(seeded.post(f"{sim}/combined", json={"spaces": ["w2v", "tf"], "offset": 995}), "invalid_request", "offset")
    # compare has no offset: it shows each space's top k side by side
    _error(seeded.post(f"{C}/compare", json={"query": "goal", "offset": 5}), "invalid_request", "offset")


def test_cli_search_offset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from service.settings import get_settings

    monkeypatch.setenv("VECDEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VECDEX_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    try:
        run("db", "upgrade")
        src = tmp_path / "docs.jsonl"
        src.write_text("".join(json.dumps(d) + "\n" for d in topical_documents()))
        run("ingest", str(src), "--collection", "topics", "--create")
        run("space", "create", "topics", "kw", "-e", "bm25")
        full = json.loads(run("search", "topics", "striker goal", "-k", "8", "--json"))["hits"]
        page = json.loads(run("search", "topics", "striker goal", "-k", "4", "--offset", "4", "--json"))["hits"]
        assert [h["external_id"] for h in page] == [h["external_id"] for h in full[4:8]]
        text = run("search", "topics", "striker goal", "-k", "2", "--offset", "4")
        assert "  5. " in text and "  6. " in text  # ranks continue from the offset
        result = runner.invoke(app, ["search", "topics", "goal", "--offset", "-1"])
        assert result.exit_code != 0 and "offset" in result.output
    finally:
        get_settings.cache_clear()
