"""Metrics, logs and request ids, through the API on SQLite and PostgreSQL.

The process's counters are shared by every app built in this process (the
test suite builds many), so assertions compare a scrape before and after.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from service.api import create_app
from service.observability.logs import configure_logging, log_level
from service.settings import Settings
from service.store.models import Space
from tests.service.conftest import FAST_W2V, make_settings
from tests.service.corpus import topical_documents
from tests.conftest import migrate

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    """Every sample of /metrics by (name, labels); parsing it is itself the format check."""
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much a process counter grew between two scrapes (other tests' apps share the counters)."""
    return value(after, name, **labels) - value(before, name, **labels)


def http_lines(caplog: pytest.LogCaptureFixture, request_id: str) -> list[Any]:
    """The access log records of one request."""
    return [r for r in caplog.records if r.name == "vecdex.http" and getattr(r, "request_id", None) == request_id]


@pytest.fixture
def vecdex_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO, logger="vecdex")
    yield caplog


def _seed(client: TestClient, jobs: Callable[[], int], name: str = "topics", space: str = "w2v") -> None:
    assert client.post("/collections", json={"name": name}).status_code == 201
    r = client.post(f"/collections/{name}/documents", json={"documents": topical_documents()})
    assert r.status_code == 200, r.text
    r = client.post(f"/collections/{name}/spaces", json={"name": space, "embedder": FAST_W2V})
    assert r.status_code == 202, r.text
    assert jobs() == 1


# --- /metrics and the HTTP metrics ---------------------------------------------------------------------------


def test_request_counter_and_histogram_count_each_request_by_route_template(client: TestClient) -> None:
    before = scrape(client)
    for i in range(3):
        assert client.get(f"/collections/missing-{i}").status_code == 404
    after = scrape(client)
    labels = {"method": "GET", "route": "/collections/{name}"}
    assert delta(before, after, "vecdex_http_requests_total", **labels, status="404") == 3
    assert delta(before, after, "vecdex_http_request_duration_seconds_count", **labels) == 3
    # The raw paths never become label values; a path no route knows is "unmatched".
    assert not any(dict(labels_).get("route", "").startswith("/collections/missing") for _, labels_ in after)
    client.get("/no/such/path")
    assert value(scrape(client), "vecdex_http_requests_total", method="GET", route="unmatched", status="404") >= 1


def test_refused_bodies_are_counted_with_their_status(client: TestClient, settings: Settings) -> None:
    before = scrape(client)
    too_big = b"[" + b" " * (settings.max_body_bytes + 1) + b"]"
    r = client.post("/collections", content=too_big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.headers["x-request-id"]
    after = scrape(client)
    # Refused before routing, so no route template is known.
    key = {"method": "POST", "route": "unmatched", "status": "413"}
    assert delta(before, after, "vecdex_http_requests_total", **key) == 1


def test_build_search_and_stored_state_metrics(client: TestClient, jobs: Callable[[], int]) -> None:
    before = scrape(client)
    _seed(client, jobs)
    after_build = scrape(client)
    job = {"type": "build_space", "outcome": "succeeded"}
    assert delta(before, after_build, "vecdex_jobs_total", **job) == 1
    assert delta(before, after_build, "vecdex_job_duration_seconds_count", **job) == 1
    family = {"family": "word2vec"}
    assert delta(before, after_build, "vecdex_embedded_documents_total", **family) == len(topical_documents())
    assert delta(before, after_build, "vecdex_embed_seconds_total", **family) > 0

    space = client.get("/collections/topics/spaces/w2v").json()
    search = {"collection": "topics", "space": "w2v", "index_kind": space["index_kind"], "backend": "faiss"}
    r = client.post("/collections/topics/search", json={"query": "football match goal", "k": 3})
    assert r.status_code == 200, r.text
    after_search = scrape(client)
    assert delta(after_build, after_search, "vecdex_search_duration_seconds_count", **search) == 1
    assert delta(after_build, after_search, "vecdex_search_duration_seconds_sum", **search) > 0

    # Stored state, read at scrape time, equals the real counts.
    runtime = client.app.state.vecdex.core.searcher.path.resolve("topics", "w2v")[1]
    where = {"collection": "topics", "space": "w2v"}
    assert value(after_search, "vecdex_documents", collection="topics") == len(topical_documents())
    assert value(after_search, "vecdex_space_vectors", **where) == len(runtime.index) > 0
    assert value(after_search, "vecdex_space_index_bytes", **where) > 0
    assert value(after_search, "vecdex_jobs_by_status", type="build_space", status="succeeded") == 1

    # A delete shows at the next scrape, in documents and (once caught up) in vectors.
    doc_id = topical_documents()[0]["external_id"]
    assert client.delete(f"/collections/topics/documents/{doc_id}").status_code == 204
    assert client.post("/collections/topics/search", json={"query": "bank shares", "k": 3}).status_code == 200
    after_delete = scrape(client)
    assert value(after_delete, "vecdex_documents", collection="topics") == len(topical_documents()) - 1
    runtime = client.app.state.vecdex.core.searcher.path.resolve("topics", "w2v")[1]
    assert value(after_delete, "vecdex_space_vectors", **where) == len(runtime.index)


def test_two_apps_in_one_process_serve_metrics_side_by_side(settings: Settings) -> None:
    apps = [create_app(settings, run_worker=False) for _ in range(3)]  # no "Duplicated timeseries"
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        assert a.post("/collections", json={"name": "shared"}).status_code == 201
        sa, sb = scrape(a), scrape(b)
    # Each app reads the stored state itself; the process counters are one set, seen by both.
    shared = {"collection": "shared"}
    assert value(sa, "vecdex_documents", **shared) == value(sb, "vecdex_documents", **shared) == 0
    assert ("vecdex_documents", frozenset(shared.items())) in sb
    assert value(sb, "vecdex_http_requests_total", method="POST", route="/collections", status="201") >= 1


def test_metrics_can_be_switched_off(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:

    migrate(database_url)
    monkeypatch.setenv("VECDEX_METRICS", "false")
    with TestClient(create_app(make_settings(tmp_path, database_url), run_worker=False)) as c:
        assert c.get("/metrics").status_code == 404
        assert c.get("/healthz").headers["x-request-id"]  # request ids and logs stay on


# --- request ids ------------------------------------------------------------------------------------------------


def test_request_id_is_echoed_when_sane(client: TestClient) -> None:
    for rid in ("abc-123", "trace:4bf92f3577b34da6a3ce929d0e0e4736", "x" * 128):
        assert client.get("/healthz", headers={"X-Request-ID": rid}).headers["x-request-id"] == rid


def test_request_id_is_generated_unique_when_missing_or_insane(client: TestClient) -> None:
    generated = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(generated) == 5 and all(re.fullmatch(r"[0-9a-f]{32}", g) for g in generated)
    for insane in ("x" * 129, "with space", "tab\there", "\u00e9t\u00e9".encode("latin-1"), "caf\u00e9".encode()):
        headers: Any = {"X-Request-ID": insane}
        rid = client.get("/healthz", headers=headers).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid), (insane, rid)


def test_unexpected_error_carries_the_request_id(settings: Settings, vecdex_logs: pytest.LogCaptureFixture) -> None:
    app = create_app(settings, run_worker=False)

    def boom() -> None:
        raise RuntimeError("kaboom")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "boom-1"
    unhandled = [rec for rec in vecdex_logs.records if rec.getMessage() == "unhandled error"]
    assert unhandled and unhandled[0].request_id == "boom-1"  # type: ignore[attr-defined]
    access = http_lines(vecdex_logs, "boom-1")
    assert access and access[0].levelno == logging.WARNING and access[0].status == 500  # type: ignore[attr-defined]


# --- logs -------------------------------------------------------------------------------------------------------


def test_access_log_line_carries_request_id_route_status_duration(
    client: TestClient, vecdex_logs: pytest.LogCaptureFixture
) -> None:
    client.get("/collections/nope", headers={"X-Request-ID": "req-42"})
    lines = http_lines(vecdex_logs, "req-42")
    assert len(lines) == 1
    line: Any = lines[0]
    assert (line.method, line.route, line.path, line.status) == ("GET", "/collections/{name}", "/collections/nope", 404)
    assert line.duration_ms >= 0 and line.levelno == logging.INFO
    # Outside a request nothing claims an id.
    logging.getLogger("vecdex.test").info("outside")
    assert vecdex_logs.records[-1].request_id is None  # type: ignore[attr-defined]


def test_json_format_emits_one_parseable_object_per_line(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:

    migrate(database_url)
    settings = make_settings(tmp_path, database_url, log_format="json")
    try:
        with TestClient(create_app(settings, run_worker=False)) as c:
            capsys.readouterr()
            c.get("/collections/nope", headers={"X-Request-ID": "json-1"})
            err = capsys.readouterr().err
    finally:
        configure_logging(make_settings(tmp_path, database_url))  # back to text for the tests that follow
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    ours = [r for r in records if r.get("request_id") == "json-1"]
    assert len(ours) == 1, err
    rec = ours[0]
    assert {"time", "level", "logger", "message", "request_id"} <= rec.keys()
    assert (rec["level"], rec["logger"], rec["message"]) == ("INFO", "vecdex.http", "GET /collections/nope 404")
    assert (rec["route"], rec["status"], rec["method"]) == ("/collections/{name}", 404, "GET")
    assert isinstance(rec["duration_ms"], float)


def test_text_format_names_level_logger_request_id_and_extras(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    client.get("/collections/nope", headers={"X-Request-ID": "text-1"})
    line = next(x for x in capsys.readouterr().err.splitlines() if "[text-1]" in x)
    assert " INFO vecdex.http [text-1] GET /collections/nope 404 route=/collections/{name} duration_ms=" in line


def test_bad_log_level_is_refused_with_its_name() -> None:
    assert log_level("debug") == logging.DEBUG and log_level("30") == 30
    with pytest.raises(ValueError, match="LOUD"):
        log_level("LOUD")


# --- the worker -------------------------------------------------------------------------------------------------


def _job_lines(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if r.name == "vecdex.jobs"]


def test_worker_logs_start_and_end_of_a_succeeded_job(
    client: TestClient, jobs: Callable[[], int], vecdex_logs: pytest.LogCaptureFixture
) -> None:
    _seed(client, jobs)
    start, end = _job_lines(vecdex_logs)
    assert start.levelno == logging.INFO and "started" in start.getMessage()
    assert (start.job_type, start.collection, start.space) == ("build_space", "topics", "w2v")
    assert end.job_id == start.job_id and end.outcome == "succeeded" and end.levelno == logging.INFO
    assert end.duration_ms > 0 and not hasattr(end, "error_code")


def test_worker_logs_a_failed_job_with_its_error_code(
    client: TestClient, jobs: Callable[[], int], vecdex_logs: pytest.LogCaptureFixture
) -> None:
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post("/collections/topics/documents", json={"documents": topical_documents()}).status_code == 200
    assert client.post("/collections/topics/spaces", json={"name": "w2v", "embedder": FAST_W2V}).status_code == 202
    vx = client.app.state.vecdex
    with vx.db.session() as s:  # make the build impossible after the preflight passed
        s.execute(update(Space).values(embedder_spec={**FAST_W2V, "min_count": 10_000}))
    before = scrape(client)
    assert jobs() == 1
    start, end = _job_lines(vecdex_logs)
    assert end.job_id == start.job_id and end.outcome == "failed" and end.levelno == logging.WARNING
    assert end.error_code == "empty_vocabulary" and end.duration_ms > 0
    assert "failed" in end.getMessage() and end.exc_info is None  # a known error: no traceback
    failed = {"type": "build_space", "outcome": "failed"}
    assert delta(before, scrape(client), "vecdex_jobs_total", **failed) == 1


def test_metrics_need_a_key_once_keys_exist(client: TestClient, settings: Settings) -> None:
    from service.facade import Vecdex
    from service.key_schemas import KeyCreate

    vx = Vecdex(settings)  # as `vecdex keys create` in another process
    try:
        secret = vx.keys.create(body=KeyCreate(name="scraper", scope="read")).secret
    finally:
        vx.close()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["x-request-id"]
    r = client.get("/metrics", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }
    # refused before routing (no key, so no body is read): counted, under route "unmatched"
    assert value(samples, "vecdex_http_requests_total", method="GET", route="unmatched", status="401") >= 1


def test_keyword_searches_are_labelled_bm25(client: TestClient, jobs: Callable[[], int]) -> None:
    _seed(client, jobs)
    r = client.post("/collections/topics/spaces", json={"name": "kw", "embedder": {"type": "bm25"}})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    before = scrape(client)
    r = client.post("/collections/topics/search", json={"query": "football", "k": 3, "space": "kw"})
    assert r.status_code == 200, r.text
    after = scrape(client)
    labels = {"collection": "topics", "space": "kw", "index_kind": "bm25", "backend": "keyword"}
    assert delta(before, after, "vecdex_search_duration_seconds_count", **labels) == 1
    # A keyword space has no vectors; its index files are still measured.
    assert ("vecdex_space_vectors", frozenset({"collection": "topics", "space": "kw"}.items())) not in after
    assert value(after, "vecdex_space_index_bytes", collection="topics", space="kw") > 0
