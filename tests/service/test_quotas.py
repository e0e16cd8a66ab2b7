"""Quotas on work and metadata limits (VECDEX_MAX_*), on SQLite and PostgreSQL alike.

Every cap is tried just beyond its limit (a 422 naming the field, the limit and
the setting, and nothing created or written) and at its limit (accepted). Small
limits come from ``make_settings`` so the specs stay quick.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from embedders import registry
from service.api import create_app
from service.errors import QuotaExceeded
from service.facade import Vecdex
from service.quotas import SPEC_QUOTAS, check_spec
from service.settings import Settings

from .conftest import FAST_W2V, make_settings
from .corpus import topical_documents
from tests.conftest import migrate

LIMITS: dict[str, Any] = {
    "max_dim": 64, "max_epochs": 10, "max_layers": 2, "max_hidden": 64, "max_window": 8, "max_vocab": 1000,
    "max_batch_size": 16, "max_queued_jobs": 2, "max_metadata_depth": 4, "max_metadata_keys": 5,
    "max_metadata_value_bytes": 16, "max_schema_fields": 6,
}
W2V = {**FAST_W2V, "epochs": 2, "window": 5}
BILSTM = {  # every capped bilstm field exactly at its limit
    "type": "bilstm", "char_dim": 4, "filters": [[1, 32], [2, 32]], "highway_layers": 2, "projection_dim": 64,
    "hidden_dim": 64, "num_layers": 2, "max_size": 1000, "epochs": 10, "batch_size": 16, "threads": 1,
}
D2V = {"type": "doc2vec", "dim": 64, "epochs": 10, "infer_epochs": 10, "window": 8, "workers": 1}
I2V = {"type": "item2vec", "dim": 64, "epochs": 10, "window": 8, "workers": 1}
BERT = {"type": "bert", "batch_size": 16}


@pytest.fixture
def quota_settings(tmp_path: Path, database_url: str) -> Settings:
    migrate(database_url)
    return make_settings(tmp_path, database_url, **LIMITS)


@pytest.fixture
def qclient(quota_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(quota_settings, run_worker=False)) as c:
        c.post("/collections", json={"name": "news"})
        assert c.post("/collections/news/documents", json={"documents": topical_documents()}).status_code == 200
        yield c


def _nothing_created(client: TestClient) -> None:
    assert client.get("/collections/news/spaces").json() == []
    assert client.get("/jobs").json() == []


def _error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code, error
    return error


# --- spec caps -------------------------------------------------------------------------------------

OVER = [  # (spec, field, value shown, limit, setting)
    ({**W2V, "dim": 65}, "embedder.dim", "65", 64, "VECDEX_MAX_DIM"),
    ({**W2V, "epochs": 11}, "embedder.epochs", "11", 10, "VECDEX_MAX_EPOCHS"),
    ({**W2V, "window": 9}, "embedder.window", "9", 8, "VECDEX_MAX_WINDOW"),
    ({**D2V, "dim": 4096}, "embedder.dim", "4096", 64, "VECDEX_MAX_DIM"),
    ({**D2V, "infer_epochs": 11}, "embedder.infer_epochs", "11", 10, "VECDEX_MAX_EPOCHS"),
    ({**BILSTM, "hidden_dim": 8192}, "embedder.hidden_dim", "8192", 64, "VECDEX_MAX_HIDDEN"),
    ({**BILSTM, "num_layers": 3}, "embedder.num_layers", "3", 2, "VECDEX_MAX_LAYERS"),
    ({**BILSTM, "highway_layers": 3}, "embedder.highway_layers", "3", 2, "VECDEX_MAX_LAYERS"),
    ({**BILSTM, "projection_dim": 65}, "embedder.projection_dim", "65", 64, "VECDEX_MAX_DIM"),
    ({**BILSTM, "filters": [[1, 32], [2, 33]]}, "embedder.filters", "65 (the sum of its filter counts)", 64,
     "VECDEX_MAX_HIDDEN"),
    ({**BILSTM, "max_size": 1001}, "embedder.max_size", "1001", 1000, "VECDEX_MAX_VOCAB"),
    ({**BILSTM, "max_size": None}, "embedder.max_size", "null (no limit)", 1000, "VECDEX_MAX_VOCAB"),
    ({**BILSTM, "epochs": 1000}, "embedder.epochs", "1000", 10, "VECDEX_MAX_EPOCHS"),
    ({**BILSTM, "batch_size": 17}, "embedder.batch_size", "17", 16, "VECDEX_MAX_BATCH_SIZE"),
    ({**I2V, "epochs": 11}, "embedder.epochs", "11", 10, "VECDEX_MAX_EPOCHS"),
    ({**I2V, "window": 9}, "embedder.window", "9", 8, "VECDEX_MAX_WINDOW"),
    ({**I2V, "dim": 65}, "embedder.dim", "65", 64, "VECDEX_MAX_DIM"),
    ({**BERT, "batch_size": 17}, "embedder.batch_size", "17", 16, "VECDEX_MAX_BATCH_SIZE"),
]


@pytest.mark.parametrize(("spec", "field", "shown", "limit", "setting"), OVER, ids=[f"{s['type']}-{f}" for s, f, *_ in OVER])
def test_a_spec_beyond_a_cap_is_a_422_naming_field_value_limit_and_setting(
    qclient: TestClient, spec: dict, field: str, shown: str, limit: int, setting: str
) -> None:
    r = qclient.post("/collections/news/spaces", json={"name": "s", "embedder": spec})
    error = _error(r, 422, "quota_exceeded")
    assert error["field"] == field
    assert error["message"] == f"{field} is {shown}; this server allows at most {limit} ({setting})"
    _nothing_created(qclient)


def test_every_capped_field_is_tried_beyond_its_limit() -> None:
    tried = {(s["type"], f.split(".", 1)[1]) for s, f, *_ in OVER}
    for quota in SPEC_QUOTAS:
        families = [t for t in registry.families() if quota.field in registry.spec_class(t).model_fields]
        assert families, f"{quota.field} caps no family"
        assert any((t, quota.field) in tried for t in families), quota.field


@pytest.mark.parametrize("spec", [W2V | {"dim": 64, "epochs": 10, "window": 8}, D2V, BILSTM], ids=["word2vec", "doc2vec", "bilstm"])
def test_a_spec_at_every_limit_is_accepted(qclient: TestClient, spec: dict) -> None:
    r = qclient.post("/collections/news/spaces", json={"name": "s", "embedder": spec})
    assert r.status_code == 202, r.text
    assert [s["name"] for s in qclient.get("/collections/news/spaces").json()] == ["s"]


@pytest.mark.parametrize("spec", [I2V, BERT, BILSTM, D2V], ids=["item2vec", "bert", "bilstm", "doc2vec"])
def test_check_spec_takes_every_family_at_its_limits(quota_settings: Settings, spec: dict) -> None:
    check_spec(quota_settings, registry.parse_spec(spec))  # no exception
    for quota in SPEC_QUOTAS:
        assert getattr(quota_settings, quota.setting) == LIMITS[quota.setting]


def test_given_vectors_are_the_users_width_not_work(qclient: TestClient) -> None:
    """A ``vectors`` space (capability given_vectors) may be wider than max_dim: 1536-d vectors are real data."""
    r = qclient.post("/collections/news/spaces", json={"name": "v", "embedder": {"type": "vectors", "dim": 1536}})
    assert r.status_code == 202, r.text


def test_the_defaults_take_the_specs_of_the_readme_and_the_tests(tmp_path: Path) -> None:
    defaults = Settings(data_dir=tmp_path)
    for spec in (FAST_W2V, {"type": "doc2vec", "dim": 32, "epochs": 150}, {"type": "bilstm"}, {"type": "bert"},
                 {"type": "item2vec"}, {"type": "word2vec"}, {"type": "doc2vec"}, {"type": "vectors", "dim": 3072}):
        check_spec(defaults, registry.parse_spec(spec))
    with pytest.raises(QuotaExceeded, match="VECDEX_MAX_DIM"):  # the examples
        check_spec(defaults, registry.parse_spec({"type": "word2vec", "dim": 4096, "epochs": 10000}))
    with pytest.raises(QuotaExceeded):
        check_spec(defaults, registry.parse_spec({"type": "bilstm", "hidden_dim": 8192, "num_layers": 8, "epochs": 1000}))


def test_item2vec_evaluation_overrides_are_capped(quota_settings: Settings, qclient: TestClient) -> None:
    qclient.post("/collections", json={"name": "shop", "kind": "items"})
    events = [{"user": f"u{u}", "item": f"i{(u + j) % 5}", "timestamp": f"2024-03-01T12:0{j}:00Z"}
              for u in range(4) for j in range(3)]
    r = qclient.post("/collections/shop/interactions", json={"interactions": events, "unknown_items": "create"})
    assert r.status_code == 200, r.text
    vx = Vecdex.from_settings(quota_settings)
    try:
        with pytest.raises(QuotaExceeded) as info:
            vx.recommend.evaluate(collection="shop", overrides={"epochs": 11})
        assert info.value.field == "overrides.epochs" and "VECDEX_MAX_EPOCHS" in info.value.message
        with pytest.raises(QuotaExceeded) as info:
            vx.recommend.tune(collection="shop", overrides={"dim": 65}, budget_seconds=0)
        assert info.value.field == "overrides.dim"
    finally:
        vx.close()


# --- queued jobs ------------------------------------------------------------------------------------


def test_a_full_queue_is_a_429_until_a_job_ends(qclient: TestClient) -> None:
    for name in ("a", "b"):
        assert qclient.post("/collections/news/spaces", json={"name": name, "embedder": W2V}).status_code == 202
    r = qclient.post("/collections/news/spaces", json={"name": "c", "embedder": W2V})
    error = _error(r, 429, "too_many_jobs")
    assert error["field"] == "collection"
    assert "2 jobs queued or running" in error["message"] and "VECDEX_MAX_QUEUED_JOBS" in error["message"]
    assert [s["name"] for s in qclient.get("/collections/news/spaces").json()] == ["a", "b"]
    assert len(qclient.get("/jobs").json()) == 2
    _error(qclient.post("/collections/news/spaces/a/rebuild"), 429, "too_many_jobs")
    # Another collection has a queue of its own.
    qclient.post("/collections", json={"name": "other"})
    qclient.post("/collections/other/documents", json={"documents": topical_documents()})
    assert qclient.post("/collections/other/spaces", json={"name": "c", "embedder": W2V}).status_code == 202
    job = qclient.get("/jobs?collection=news").json()[0]["id"]
    assert qclient.post(f"/jobs/{job}/cancel").status_code == 200
    assert qclient.post("/collections/news/spaces", json={"name": "c", "embedder": W2V}).status_code == 202


def test_the_queue_quota_holds_inside_the_queueing_transaction(
    qclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The early check can race (two requests at cap - 1); the one on the locked collection cannot."""
    from service.facade.spaces import Spaces

    monkeypatch.setattr(Spaces, "_check_queue", lambda self, collection: None)
    for name in ("a", "b"):
        assert qclient.post("/collections/news/spaces", json={"name": name, "embedder": W2V}).status_code == 202
    _error(qclient.post("/collections/news/spaces", json={"name": "c", "embedder": W2V}), 429, "too_many_jobs")
    assert [s["name"] for s in qclient.get("/collections/news/spaces").json()] == ["a", "b"]
    assert len(qclient.get("/jobs").json()) == 2


# --- metadata ---------------------------------------------------------------------------------------


def _state(client: TestClient) -> tuple[int, dict]:
    row = client.get("/collections/news").json()
    return row["document_count"], row["metadata_schema"]


def _upsert(client: TestClient, *metadata: dict) -> Any:
    documents = [{"external_id": f"m{i}", "text": "a match report", "metadata": m} for i, m in enumerate(metadata)]
    return client.post("/collections/news/documents", json={"documents": documents})


METADATA_OVER = [  # (metadata of documents[1], field, says, setting)
    ({"a": {"b": {"c": {"d": {}}}}}, "documents[1].metadata.a.b.c.d", "nested 5 levels deep", "VECDEX_MAX_METADATA_DEPTH"),
    ({"a": [[[[1]]]]}, "documents[1].metadata.a[0][0][0]", "nested 5 levels deep", "VECDEX_MAX_METADATA_DEPTH"),
    ({"a": 1, "b": {"c": 1, "d": [{"e": 1, "f": 2}]}}, "documents[1].metadata", "more than 5 keys",
     "VECDEX_MAX_METADATA_KEYS"),
    ({"topic": "x", "tags": ["ok", "é" * 9]}, "documents[1].metadata.tags[1]", "string of 18 bytes",
     "VECDEX_MAX_METADATA_VALUE_BYTES"),
    ({"k" * 17: 1}, "documents[1].metadata." + "k" * 17, "key of 17 bytes", "VECDEX_MAX_METADATA_VALUE_BYTES"),
]


@pytest.mark.parametrize(("metadata", "field", "says", "setting"), METADATA_OVER, ids=["depth", "depth-list", "keys", "bytes", "key-bytes"])
def test_metadata_beyond_a_limit_is_refused_whole_naming_the_field(
    qclient: TestClient, metadata: dict, field: str, says: str, setting: str
) -> None:
    before = _state(qclient)
    error = _error(_upsert(qclient, {"topic": "sport"}, metadata), 422, "metadata_too_large")
    assert error["field"] == field
    assert says in error["message"] and setting in error["message"] and field in error["message"]
    assert _state(qclient) == before


def test_metadata_at_every_limit_is_accepted(qclient: TestClient) -> None:
    at = [{"a": {"b": {"c": {"d": 1}}}}, {"n": 1, "a": {"c": 1, "d": [{"e": 1}]}}, {"topic": "é" * 8, "k" * 16: "v"}]
    assert _upsert(qclient, *at).status_code == 200
    assert _state(qclient)[0] == len(topical_documents()) + 3


def test_a_batch_that_would_overfill_the_schema_is_refused_whole(qclient: TestClient) -> None:
    count, schema = _state(qclient)
    room = LIMITS["max_schema_fields"] - len(schema)
    assert room >= 1
    new = [f"f{i}" for i in range(room + 1)]
    before = _state(qclient)
    error = _error(_upsert(qclient, *({k: 1} for k in new)), 422, "metadata_too_large")
    assert error["field"] == f"documents[{room}].metadata.{new[-1]}" and "VECDEX_MAX_SCHEMA_FIELDS" in error["message"]
    assert _state(qclient) == before
    # null fixes no type (so adds no field); known fields are always fine; the room fills up to the limit
    assert _upsert(qclient, *({k: 1} for k in new[:room]), {new[-1]: None}, {"n": 1}).status_code == 200
    assert len(_state(qclient)[1]) == LIMITS["max_schema_fields"]


def test_ingest_names_each_line_beyond_a_limit_and_loads_the_rest(
    quota_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.cli import app
    from service.settings import get_settings

    monkeypatch.setenv("VECDEX_DATABASE_URL", quota_settings.resolved_database_url)
    monkeypatch.setenv("VECDEX_DATA_DIR", str(quota_settings.data_dir))
    for name, value in {**LIMITS, "max_schema_fields": 2}.items():
        monkeypatch.setenv(f"VECDEX_{name.upper()}", str(value))
    lines = [json.dumps({"id": f"d{i}", "text": f"document number {i}", "n": i}) for i in range(1, 9)]
    lines[2] = json.dumps({"id": "d3", "text": "too long", "note": "x" * 17})
    lines[4] = json.dumps({"id": "d5", "text": "new fields", "a": 1, "b": 2})  # n + a, b: 3 fields > 2
    lines[6] = json.dumps({"id": "d7", "text": "deep", "metadata": {"a": {"b": {"c": {"d": {}}}}}})
    src = tmp_path / "docs.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["ingest", str(src), "--collection", "big", "--create"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 1, r.output
    assert f"{src}:3: document.metadata.note is a string of 17 bytes" in r.output
    assert f"{src}:5: document.metadata." in r.output and "VECDEX_MAX_SCHEMA_FIELDS" in r.output
    assert f"{src}:7: document.metadata.a.b.c.d is nested 5 levels deep" in r.output
    assert "5 created" in r.output and "3 rejected" in r.output


# --- bert model paths -------------------------------------------------------------------------------


def test_the_bert_refusal_is_the_same_for_an_existing_and_a_missing_directory(qclient: TestClient, tmp_path: Path) -> None:
    """The message names the model as sent and nothing else: it must not tell which server directories exist."""
    (tmp_path / "exists").mkdir()
    messages = set()
    for model in (tmp_path / "exists", tmp_path / "missing", tmp_path):
        r = qclient.post("/collections/news/spaces", json={"name": "b", "embedder": {**BERT, "model": str(model)}})
        error = _error(r, 422, "model_unavailable")
        assert error["field"] == "embedder.model"
        messages.add(error["message"].replace(str(model), "<model>"))
    assert len(messages) == 1 and "not available offline on this server" in messages.pop()
    _nothing_created(qclient)
