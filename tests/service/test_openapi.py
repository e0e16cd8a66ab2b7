"""The OpenAPI document tells the truth: checked by hand-written rules, and by schemathesis against a live server.

The fast tests hold the document to its rules (stable snake_case operation
ids, one tag per operation, every error documented with the real error body,
no FastAPI ``HTTPValidationError``, limits from the settings) and check the
offline docs pages, the 405 ``Allow`` header and the time zone of every
timestamp. ``test_schemathesis_finds_no_disagreement`` starts uvicorn over a
SQLite database holding a documents collection with a trained word2vec space
and a bm25 space, and an items collection with a trained item2vec space, then
runs ``schemathesis run --checks all`` against it (examples, coverage, fuzzing
and stateful phases), non-destructive operations first and the deletes last,
and asserts zero failures.

This module is also schemathesis' hooks module (``SCHEMATHESIS_HOOKS``): it
registers :func:`positive_data_passes_validation`, see there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api import create_app
from service.settings import Settings
from service.store.migrate import upgrade
from tests.service.conftest import FAST_W2V, make_settings, run_jobs
from tests.service.corpus import topical_documents
from tests.live_server import free_port as _free_port

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")

# ----------------------------------------------------------------------------- schemathesis hook


# Refusals of a schema-valid request that the schema could have prevented: it left out a constraint.
STATIC_CODES = frozenset({"invalid_cursor", "batch_too_large", "invalid_k", "malformed_json"})


@schemathesis.check
def positive_data_passes_validation(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schema-valid request is never refused by a rule the schema could state.

    positive_data_acceptance runs with 422 among its expected statuses (see
    ``CONFIG``): many 422s of this API depend on stored data no schema can
    know (a query with no word the model knows, a filter on a field no
    document has, a word2vec space asked for recommendations). This check
    keeps the rest of what positive_data_acceptance means: request validation
    (the only source of ``details``) and the limits documented in the schema
    (``invalid_k``, ``invalid_cursor``, ``batch_too_large``) must never
    refuse schema-valid data. The one exception is ``candidates`` >= ``k`` in
    hybrid, a relation between two fields JSON Schema cannot express.
    """
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive or response.status_code not in (400, 422):
        return None
    try:
        error = response.json()["error"]
    except Exception:
        return None
    if error.get("field") == "candidates" and error.get("code") == "invalid_k":
        return None
    # An embedder spec's parameters constrain one another (min_alpha <= alpha, max_length >= min_length, an
    # objective among hs / negative, filter widths <= max_chars): the schema states each bound, not the relations.
    details = error.get("details") or []
    if details and all(
        str(d.get("field") or "").startswith("embedder") and d.get("type") == "value_error" for d in details
    ):
        return None
    if "details" in error or error.get("code") in STATIC_CODES:
        raise AssertionError(
            f"schema-valid request refused by a rule the schema could state: {error.get('code')} "
            f"at {error.get('field')}: {error.get('message')}"
        )
    return None


# ----------------------------------------------------------------------------- the document's own rules


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("spec")
    settings = Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'v.db'}", embedded_worker=False, max_k=50)
    return create_app(settings, run_worker=False).openapi()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def test_operation_ids_are_stable_snake_case_and_unique(spec: dict[str, Any]) -> None:
    ids = [op.get("operationId") for _, _, op in _operations(spec)]
    assert all(ids), "every operation has an id"
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for op_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", op_id), op_id
        # FastAPI's generated form ends in the path and the method (get_one_jobs__job_id__get).
        assert "__" not in op_id and not re.search(r"_(get|post|put|patch|delete)$", op_id), op_id
    assert {"create_collection", "upsert_documents", "search", "hybrid_search", "create_space", "get_job"} <= set(ids)


def test_one_tag_per_operation(spec: dict[str, Any]) -> None:
    for method, path, op in _operations(spec):
        assert len(op.get("tags", [])) == 1, (method, path, op.get("tags"))
    tags = {op["tags"][0] for _, _, op in _operations(spec)}
    assert {"collections", "documents", "spaces", "jobs", "search", "health"} <= tags


def test_every_error_is_documented_with_the_real_error_body(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert set(schemas["ErrorInfo"]["required"]) == {"code", "message", "field"}
    for method, path, op in _operations(spec):
        responses = op["responses"]
        statuses = {int(s) for s in responses}
        assert 422 in statuses, (method, path)
        if "requestBody" in op:
            assert {400, 413} <= statuses, (method, path)
        if "{" in path:
            assert 404 in statuses, (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorBody", (method, path, status)
    ops = {op["operationId"]: op for _, _, op in _operations(spec)}
    assert {"409", "429"} <= set(ops["create_space"]["responses"])
    assert "409" in ops["create_collection"]["responses"] and "503" in ops["readyz"]["responses"]


def test_auth_statuses_where_a_key_is_needed(spec: dict[str, Any]) -> None:
    """401/403 everywhere but the probes, which say they need no key; in step with the scopes table if present."""
    try:
        from service.api.scopes import rule_for
    except ImportError:  # the API-key table is not in this checkout
        rule_for = None
    for method, path, op in _operations(spec):
        public = op["tags"] == ["health"]
        assert ({"401", "403"} <= set(op["responses"])) is not public, (method, path)
        if public:
            assert op.get("security", []) == [], (method, path)
        if rule_for is not None:
            assert (rule_for(method, path).scope is None) is public, (method, path)


def test_limits_come_from_the_settings(spec: dict[str, Any]) -> None:
    """max_k=50 in these settings: the document says 50, not the default 1000."""
    schemas = spec["components"]["schemas"]
    assert schemas["SearchRequest"]["properties"]["k"]["maximum"] == 50
    assert schemas["SearchRequest"]["properties"]["k"]["minimum"] == 1
    assert schemas["DocumentsUpsert"]["properties"]["documents"]["maxItems"] == 1000
    ops = {op["operationId"]: op for _, _, op in _operations(spec)}
    k = next(p for p in ops["word_neighbors"]["parameters"] if p["name"] == "k")
    assert k["schema"]["maximum"] == 50
    cursor = next(p for p in ops["list_documents"]["parameters"] if p["name"] == "cursor")
    pattern = re.compile(cursor["schema"]["pattern"])
    assert pattern.search(str(2**63 - 1)) and not pattern.search(str(2**63)) and not pattern.search("")
    assert schemas["SearchRequest"]["examples"] and schemas["SpaceCreate"]["examples"]


def test_quotas_are_maxima_of_the_embedder_specs(tmp_path: Path) -> None:
    """The spec quotas (VECDEX_MAX_*) are in the document as this server sets them; the given vectors' dim is not."""
    settings = Settings(data_dir=tmp_path, embedded_worker=False, max_dim=300, max_epochs=20, max_vocab=5000)
    schemas = create_app(settings, run_worker=False).openapi()["components"]["schemas"]
    assert schemas["Word2VecSpec"]["properties"]["dim"]["maximum"] == 300
    assert schemas["Word2VecSpec"]["properties"]["epochs"]["maximum"] == 20
    assert schemas["BiLSTMSpec"]["properties"]["epochs"]["maximum"] == 20
    max_size = schemas["BiLSTMSpec"]["properties"]["max_size"]  # null (no cap) is refused by the quota
    assert all(b.get("type") != "null" for b in max_size.get("anyOf", [max_size]))
    assert schemas["VectorsSpec"]["properties"]["dim"]["maximum"] > 300


def test_with_auth_off_no_operation_declares_a_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, embedded_worker=False, auth="off")
    spec = create_app(settings, run_worker=False).openapi()
    assert "securitySchemes" not in spec.get("components", {})
    for method, path, op in _operations(spec):
        assert "security" not in op and not {"401", "403"} & set(op["responses"]), (method, path)


def test_an_integer_written_as_651_0_is_an_integer() -> None:
    """JSON Schema's integer includes 651.0 (schemathesis sent it for an evaluation's k on PostgreSQL's run)."""
    from service.evaluation.requests import RetrievalRequest

    base = {"task": "retrieval", "queries": [{"id": "q", "text": "t"}], "qrels": {"q": {"d": 1}}}
    assert RetrievalRequest.model_validate({**base, "k": 651.0}).k == [651]
    assert RetrievalRequest.model_validate({**base, "k": [5, 10.0]}).k == [5, 10]
    with pytest.raises(ValueError):
        RetrievalRequest.model_validate({**base, "k": 6.5})


def test_docs_pages_are_served_from_local_files(client: TestClient) -> None:
    for page, assets in (("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")), ("/redoc", ("redoc.standalone.js",))):
        r = client.get(page)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", r.text)
        assert urls and all(u.startswith("/") for u in urls), urls  # nothing from a CDN
        assert "fonts.googleapis" not in r.text
        for asset in assets:
            assert f"/docs-static/{asset}" in r.text
            served = client.get(f"/docs-static/{asset}")
            assert served.status_code == 200 and len(served.content) > 1000
    assert client.get("/docs-static/favicon.png").status_code == 200


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    client.post("/collections", json={"name": "c"})
    r = client.request("PATCH", "/collections/c")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "DELETE"}
    assert {m.strip() for m in client.put("/collections").headers["allow"].split(",")} >= {"GET", "POST"}


ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)")


def test_timestamps_carry_a_time_zone_on_every_read(client: TestClient, settings: Settings) -> None:
    """SQLite gives naive date-times back: reads said 2025-01-02T03:04:05 while the POST said ...Z."""
    created = client.post("/collections", json={"name": "t"}).json()["created_at"]
    docs = [{"external_id": f"d{i}", "text": t["text"]} for i, t in enumerate(topical_documents())]
    client.post("/collections/t/documents", json={"documents": docs})
    job = client.post("/collections/t/spaces", json={"name": "w", "embedder": FAST_W2V}).json()["job"]
    run_jobs(settings)
    stamps = [
        created,
        client.get("/collections/t").json()["created_at"],
        client.get("/collections").json()[0]["created_at"],
        *(d[k] for d in client.get("/collections/t/documents").json()["items"] for k in ("created_at", "updated_at")),
        client.get("/collections/t/documents/d1").json()["updated_at"],
        client.get("/collections/t/spaces/w").json()["created_at"],
        *(client.get(f"/jobs/{job['id']}").json()[k] for k in ("created_at", "started_at", "finished_at")),
        client.get("/jobs").json()[0]["finished_at"],
    ]
    for stamp in stamps:
        assert ISO_UTC.fullmatch(stamp), stamp
        assert datetime.fromisoformat(stamp.replace("Z", "+00:00")).tzinfo is not None


def test_cli_jobs_show_prints_the_api_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from service.cli import app
    from service.settings import get_settings

    monkeypatch.setenv("VECDEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VECDEX_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(d) for d in topical_documents()))
        assert runner.invoke(app, ["ingest", str(tmp_path / "d.jsonl"), "--collection", "c", "--create"]).exit_code == 0
        params = [f"-p{k}={v}" for k, v in FAST_W2V.items() if k != "type"]
        result = runner.invoke(app, ["space", "create", "c", "w", "-e", "word2vec", *params])
        assert result.exit_code == 0, result.output
        out = runner.invoke(app, ["jobs", "show", "1"]).output
    finally:
        get_settings.cache_clear()
    job = json.loads(out)
    assert ISO_UTC.fullmatch(job["created_at"]) and " " not in job["created_at"], job["created_at"]


# ----------------------------------------------------------------------------- schemathesis against a live server

MAX_EXAMPLES = int(os.environ.get("VECDEX_SCHEMATHESIS_EXAMPLES", "8"))
MAX_SECONDS = int(os.environ.get("VECDEX_SCHEMATHESIS_SECONDS", "25"))
DESTRUCTIVE = ("delete_collection", "delete_space", "delete_document")

# State-dependent 422s of a schema-valid request (see positive_data_passes_validation).
CONFIG = """
workers = 1
seed = 20261202
suppress-health-check = ["all"]

[generation]
max-examples = {examples}
# No text field takes a NUL or a lone surrogate (README, "hostile input"): SQL cannot store them. The
# schema cannot say so of every string, so generated text keeps to what it can.
allow-x00 = false
codec = "utf-8"
database = "none"

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]

# A query names its space implicitly (the collection's default): on a collection just created, with no
# space yet, it answers 404 space_not_found. ensure_resource_availability reads that 404 as the new
# collection itself missing; GET /collections/{{name}} and the other reads of a resource keep the check.
[[operations]]
include-operation-id-regex = "^(search|compare_spaces|hybrid_search|similar_documents|recommend|recommend_for_user|similar_items|run_evaluation|list_evaluations|ingest_interactions|get_user_history|set_default_space|rebuild_space)$"
checks.ensure_resource_availability.enabled = false
"""


class _Counted:
    """Counts the HTTP requests the server answers (the figure schemathesis' report does not give)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


def _load(client: TestClient, settings: Settings) -> None:
    """A documents collection (word2vec + bm25) and an items collection (item2vec), trained now."""
    from embedders.item2vec.synthetic import planted_log

    assert client.post("/collections", json={"name": "news"}).status_code == 201
    docs = topical_documents() + [
        {"external_id": f"misc-{i}", "text": f"note {i} about the weather and the river", "metadata": {"topic": "misc"}}
        for i in range(10)
    ]
    assert client.post("/collections/news/documents", json={"documents": docs}).status_code == 200
    for space in ({"name": "w2v", "embedder": FAST_W2V, "make_default": True}, {"name": "bm25", "embedder": {"type": "bm25"}}):
        assert client.post("/collections/news/spaces", json=space).status_code == 202
    log, group_of = planted_log(n_users=30, n_groups=3, items_per_group=6, sessions_per_user=3, seed=5)
    items = [{"external_id": f"i{i}", "text": f"item {i}", "metadata": {"group": g}} for i, g in sorted(group_of.items())]
    assert client.post("/collections", json={"name": "shop", "kind": "items"}).status_code == 201
    assert client.post("/collections/shop/documents", json={"documents": items}).status_code == 200
    events = [{"user": e.user, "item": f"i{e.item}", "timestamp": e.ts} for e in log]
    assert client.post("/collections/shop/interactions", json={"interactions": events[:1000]}).status_code == 200
    i2v = {"type": "item2vec", "dim": 16, "epochs": 5, "workers": 1, "seed": 3}
    assert client.post("/collections/shop/spaces", json={"name": "i2v", "embedder": i2v}).status_code == 202
    assert run_jobs(settings) == 3
    assert all(s["status"] == "ready" for c in ("news", "shop") for s in client.get(f"/collections/{c}/spaces").json())


def _api_key(app: Any) -> str | None:
    """An admin key, so that keys are enforced as in production (ignored_auth then has something to check)."""
    try:
        from service.key_schemas import KeyCreate
    except ImportError:  # no API keys in this checkout
        return None
    return app.state.vecdex.keys.create(body=KeyCreate(name="schemathesis", scope="admin")).secret


def _run(url: str, workdir: Path, label: str, key: str | None, seconds: int, *selection: str) -> dict[str, Any]:
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG.format(examples=MAX_EXAMPLES))
    report = workdir / f"{label}.json"
    # No --checks: every check is on by default, and naming them on the command line would override the
    # per-operation exemption in CONFIG.
    args = [str(SCHEMATHESIS), "--config-file", str(config), "run", url, "--no-color"]
    args += ["--max-time", str(seconds), "--report", "json", "--report-json-path", str(report), *selection]
    if key:
        args += ["-H", f"Authorization: Bearer {key}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": __name__, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True, timeout=seconds * 3 + 60)
    (workdir / f"{label}.txt").write_text(done.stdout + done.stderr)
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(report.read_text())
    result["output"] = done.stdout
    return result


def test_schemathesis_finds_no_disagreement(tmp_path: Path, database_url: str) -> None:
    """On SQLite and PostgreSQL: the dialects fail differently (a NUL, an overflow, a JSON path)."""
    started = time.perf_counter()
    url = database_url
    upgrade(url)
    settings = make_settings(tmp_path, url)
    app = create_app(settings, run_worker=False)
    with TestClient(app) as client:
        _load(client, settings)
    served = create_app(settings, run_worker=False)
    key = _api_key(served)
    counted = _Counted(served)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(counted, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        spec_url = f"http://127.0.0.1:{port}/openapi.json"
        # --max-time is a budget that fuzzing and stateful testing fill: the three deletes need little of it.
        excluded = (a for op in DESTRUCTIVE for a in ("--exclude-operation-id", op))
        first = _run(spec_url, tmp_path, "main", key, MAX_SECONDS, *excluded)
        included = (a for op in DESTRUCTIVE for a in ("--include-operation-id", op))
        second = _run(spec_url, tmp_path, "deletes", key, max(5, MAX_SECONDS // 5), *included)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    runs = (first, second)
    figures = {
        "operations": sum(r["operations"]["tested"] for r in runs),
        "test_cases": sum(r["test_cases"]["generated"] for r in runs),
        "requests": counted.requests,
        "failures": sum(f["count"] for r in runs for f in r["failures"]),
        "errors": sum(e["count"] for r in runs for e in r["errors"]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(f"\nschemathesis (all checks): {json.dumps(figures)}")
    (tmp_path / "figures.json").write_text(json.dumps(figures))
    problems = [f"{f['code']} {f['title']}: {f['count']} in {f['operations']}" for r in runs for f in r["failures"]]
    problems += [f"error {e['title']}: {e['count']}" for r in runs for e in r["errors"]]
    assert not problems, "\n".join(problems) + "\n\n" + "\n".join(r["output"][-6000:] for r in runs)
    # A floor, not a target: the time budget fills with as many requests as the machine allows (~1,100 on
    # two idle cores, a few hundred when they are shared), and each operation must have been exercised.
    assert figures["operations"] >= 30 and figures["requests"] >= 5 * figures["operations"]
