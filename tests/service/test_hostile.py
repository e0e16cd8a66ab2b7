"""Hostile input never gets a 500 and changes nothing, on SQLite and PostgreSQL alike.

Each case was a 500 (or a write that made later reads fail) before: NaN and
infinities in metadata, NUL characters and lone surrogates wherever text goes
into SQL, metadata nested hundreds deep, cursors that are not document ids,
NUL in the URL, external ids the routes cannot address. After each refusal the
collection must be exactly as before, and reads and filtered searches keep
working.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.settings import Settings

from .conftest import FAST_W2V, run_jobs
from .corpus import topical_documents


def _nested(depth: int) -> dict:
    out: dict = {}
    cur = out
    for _ in range(depth):
        cur["n"] = {}
        cur = cur["n"]
    return out


@pytest.fixture(scope="module")
def loaded(module_client: TestClient, module_settings: Settings) -> TestClient:
    """One collection per dialect for the module: its tests send what must be refused and check that
    nothing changed, so they can share it (a test that let a change through fails itself)."""
    client = module_client
    client.post("/collections", json={"name": "news"})
    assert client.post("/collections/news/documents", json={"documents": topical_documents()}).status_code == 200
    client.post("/collections/news/spaces", json={"name": "w2v", "embedder": FAST_W2V})
    run_jobs(module_settings)
    return client


def _state(client: TestClient) -> tuple[int, dict]:
    return client.get("/collections/news").json()["document_count"], client.get("/collections/news").json()["metadata_schema"]


BAD_DOCUMENTS = [
    ('{"external_id": "x", "text": "t", "metadata": {"v": NaN}}', "documents[0].metadata", "nan"),
    ('{"external_id": "x", "text": "t", "metadata": {"v": Infinity}}', "documents[0].metadata", "inf"),
    ('{"external_id": "x", "text": "t", "metadata": {"a": [1, -Infinity]}}', "documents[0].metadata", "inf"),
    ('{"external_id": "x", "text": "a\\u0000b"}', "documents[0].text", "NUL"),
    ('{"external_id": "x\\u0000", "text": "t"}', "documents[0].external_id", "NUL"),
    ('{"external_id": "x", "text": "t", "metadata": {"k\\u0000": 1}}', "documents[0].metadata", "NUL"),
    ('{"external_id": "x", "text": "t", "metadata": {"k": "v\\u0000"}}', "documents[0].metadata", "NUL"),
    ('{"external_id": "x", "text": "t", "metadata": {"k\\ud800": 1}}', "documents[0].metadata", "surrogate"),
    ('{"external_id": "x", "text": "t\\udfff"}', "documents[0].text", "unicode"),  # pydantic's own check
    ('{"external_id": "a/b", "text": "t"}', "documents[0].external_id", "'/'"),
    (json.dumps({"external_id": "x", "text": "t", "metadata": _nested(300)}), "documents[0].metadata", "deeper"),
]


@pytest.mark.parametrize(("document", "field", "says"), BAD_DOCUMENTS)
def test_bad_documents_are_refused_naming_the_field_and_change_nothing(
    loaded: TestClient, document: str, field: str, says: str
) -> None:
    before = _state(loaded)
    body = '{"documents": [' + document + "]}"
    r = loaded.post("/collections/news/documents", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field and says in r.json()["error"]["message"]
    assert _state(loaded) == before
    # reads and filtered searches still work afterwards
    assert loaded.get("/collections/news/documents?limit=1000").status_code == 200
    r = loaded.post("/collections/news/search", json={"query": "goal", "k": 3, "filter": {"topic": "sport"}})
    assert r.status_code == 200 and len(r.json()["hits"]) == 3


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("GET", "/collections/news/documents?cursor=9223372036854775808", None, 422),
        ("GET", "/collections/news/documents?cursor=%C2%B2", None, 422),
        ("GET", "/collections/news/documents?cursor=-1", None, 422),
        ("GET", "/collections/%00", None, 404),
        ("GET", "/collections/news/documents/%00", None, 404),
        ("GET", "/collections/news/items/a/similar?space=%00", None, 422),
        ("POST", "/collections/news/search", {"query": "goal", "filter": {"topic": "sp\u0000ort"}}, 422),
        ("POST", "/collections/news/search", {"query": "goal", "filter": {"to\u0000pic": "sport"}}, 422),
        ("POST", "/collections", {"name": "c2", "description": "d\u0000"}, 422),
        # found by schemathesis: ids beyond int64 overflowed the driver (500); float32 overflow became inf
        ("POST", "/jobs/2838114513837175078912/cancel", None, 422),
        ("GET", "/jobs/9223372036854775808", None, 422),
        ("GET", "/jobs/2147483648", None, 422),  # jobs.id is a 32-bit INTEGER on PostgreSQL
        ("POST", "/collections/news/search", {"vector": [1e300, 0.0], "k": 1}, 422),
    ],
)
def test_odd_requests_get_a_4xx(loaded: TestClient, method: str, url: str, body: dict | None, status: int) -> None:
    before = _state(loaded)
    r = loaded.request(method, url, json=body)
    assert r.status_code == status, r.text
    assert "error" in r.json()
    assert _state(loaded) == before
    assert [c["name"] for c in loaded.get("/collections").json()] == ["news"]


def test_interactions_with_nul_are_refused(client: TestClient) -> None:
    client.post("/collections", json={"name": "shop", "kind": "items"})
    client.post("/collections/shop/documents", json={"documents": [{"external_id": "i1"}]})
    for event in ({"user": "u\u0000", "item": "i1"}, {"user": "u", "item": "i1", "event": "v\u0000"}):
        r = client.post(
            "/collections/shop/interactions", json={"interactions": [{**event, "timestamp": "2024-03-01T12:00:00Z"}]}
        )
        assert r.status_code == 422, r.text
    assert client.get("/collections/shop/users/u/history").status_code == 404  # nothing was written


def test_ingest_names_every_bad_line_and_puts_every_good_one_in(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,200 lines with a NUL on line 700 and JSON nested 5,000 deep on line 900: both named, 1,198 in."""
    from service.cli import app
    from service.store.migrate import upgrade

    upgrade(settings.resolved_database_url)
    monkeypatch.setenv("VECDEX_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("VECDEX_DATA_DIR", str(settings.data_dir))
    from service.settings import get_settings

    get_settings.cache_clear()
    lines = [json.dumps({"id": f"d{i}", "text": f"document number {i}"}) for i in range(1, 1201)]
    lines[699] = json.dumps({"id": "d700", "text": "bad \u0000 text"})
    lines[899] = '{"id": "d900", "text": "deep", "metadata": ' + "[" * 5000 + "]" * 5000 + "}"
    src = tmp_path / "docs.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        r = CliRunner().invoke(app, ["ingest", str(src), "--collection", "big", "--create"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 1, r.output
    assert f"{src}:700:" in r.output and f"{src}:900:" in r.output
    assert "1198 created" in r.output.replace(",", "")


@pytest.mark.parametrize("key", ['p"."q', "back\\slash", 'quote"d', "dot.ted", "sp ace"])
def test_filter_keys_are_matched_literally(client: TestClient, jobs: Callable[[], int], key: str) -> None:
    """On SQLite a key with '"' or '\\' used to match nothing, and 'p"."q' the nested {"p": {"q": ...}}."""
    client.post("/collections", json={"name": "k"})
    docs = [
        {"external_id": "flat", "text": "the striker scored a goal", "metadata": {key: "v", "n": 1}},
        {"external_id": "nested", "text": "the striker scored twice", "metadata": {"p": {"q": "v"}, "n": 2}},
        {"external_id": "other", "text": "the goalkeeper saved it", "metadata": {key: "w", "n": 3}},
    ]
    assert client.post("/collections/k/documents", json={"documents": docs}).status_code == 200
    client.post("/collections/k/spaces", json={"name": "kw", "embedder": {"type": "bm25"}})
    jobs()
    r = client.post("/collections/k/search", json={"query": "striker goal saved", "k": 3, "filter": {key: "v"}})
    assert r.status_code == 200, r.text
    assert [h["external_id"] for h in r.json()["hits"]] == ["flat"]
