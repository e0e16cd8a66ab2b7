"""API keys with scopes: open until the first key, then Bearer keys on every route but the probes and docs.

HTTP cases run on SQLite and PostgreSQL (the ``database_url`` fixture); the CLI ones on a SQLite file.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from service.api import create_app
from service.api.scopes import ROUTES, UNCLASSIFIED, is_public_path, rule_for
from service.errors import CollectionNotFound, KeyExists, KeyNotFound, UnprotectedBind
from service.facade import Vecdex
from service.key_schemas import KeyCreate, covers
from service.settings import Settings
from service.store import hot_reads
from service.store.models import ApiKey
from tests.service.corpus import topical_documents

JSON = dict[str, Any]


@pytest.fixture(autouse=True)
def keys_seen_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most tests create keys through a second service object, as another process would; a server
    remembers "no keys" for up to NO_KEYS_TTL (see test_a_key_made_elsewhere_is_enforced_within_the_ttl),
    so here it asks SQL every time."""
    monkeypatch.setattr(hot_reads, "NO_KEYS_TTL", 0.0)


@pytest.fixture
def vx(settings: Settings) -> Iterator[Vecdex]:
    """A second service object over the same database, as `vecdex keys create` in another process would be."""
    v = Vecdex(settings)
    yield v
    v.close()


def make_key(vx: Vecdex, name: str, scope: str, collections: list[str] | None = None) -> dict[str, str]:
    body = KeyCreate(name=name, scope=scope, collections=collections)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {vx.keys.create(body=body).secret}"}


def assert_unauthorized(r: Any, says: str) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == "unauthorized" and body["error"]["field"] is None
    assert says in body["error"]["message"]


def assert_forbidden(r: Any, *says: str) -> None:
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"
    for s in says:
        assert s in r.json()["error"]["message"]


@pytest.fixture
def topics(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    """A collection with documents and a ready bm25 space, made while no key exists (the open demo mode)."""
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post("/collections/topics/documents", json={"documents": topical_documents()}).status_code == 200
    r = client.post("/collections/topics/spaces", json={"name": "kw", "embedder": {"type": "bm25"}})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    assert client.post("/collections", json={"name": "other"}).status_code == 201
    return client


def search(client: TestClient, headers: dict[str, str], collection: str = "topics") -> Any:
    return client.post(f"/collections/{collection}/search", json={"query": "striker goal", "k": 3}, headers=headers)


# ----------------------------------------------------------------------------- HTTP


def test_a_key_made_elsewhere_is_enforced_within_the_ttl(
    topics: TestClient, vx: Vecdex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keyless server remembers "no keys" briefly (it is asked on every request, from the event loop);
    a key made by another process is enforced once that memory expires, one made by this process at once."""
    monkeypatch.setattr(hot_reads, "NO_KEYS_TTL", 0.5)
    assert search(topics, {}).status_code == 200  # remembered: no keys
    make_key(vx, "elsewhere", "read")  # another process
    assert search(topics, {}).status_code == 200  # still within the remembered half second
    time.sleep(0.6)
    assert_unauthorized(search(topics, {}), "Authorization: Bearer")


def test_a_key_made_by_the_server_itself_is_enforced_at_once(topics: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hot_reads, "NO_KEYS_TTL", 60.0)
    assert search(topics, {}).status_code == 200
    own = topics.app.state.vecdex  # type: ignore[attr-defined]
    make_key(own, "here", "read")
    assert_unauthorized(search(topics, {}), "Authorization: Bearer")


def test_with_no_key_the_api_is_open(topics: TestClient) -> None:
    assert search(topics, {}).status_code == 200
    assert topics.get("/collections").status_code == 200
    # a stray header is no key when none exists
    assert search(topics, {"Authorization": "Bearer whatever"}).status_code == 200


def test_missing_unknown_and_revoked_keys_are_401(topics: TestClient, vx: Vecdex) -> None:
    headers = make_key(vx, "reader", "read")
    assert_unauthorized(topics.get("/collections"), "Authorization: Bearer")
    assert_unauthorized(search(topics, {}), "Authorization: Bearer")
    assert_unauthorized(search(topics, {"Authorization": "Bearer vdx_not-a-key"}), "unknown API key")
    assert_unauthorized(search(topics, {"Authorization": "Basic cmVhZGVyOng="}), "Authorization: Bearer")
    # the probes stay open for load balancers
    assert topics.get("/healthz").status_code == 200 and topics.get("/readyz").status_code == 200
    assert search(topics, headers).status_code == 200
    vx.keys.revoke(name="reader")
    assert_unauthorized(search(topics, headers), "revoked")
    # revoking the last key locks the API rather than reopening it
    assert_unauthorized(search(topics, {}), "Authorization: Bearer")


def test_a_request_without_a_valid_key_is_refused_before_its_body_is_read(topics: TestClient, vx: Vecdex) -> None:
    """401, not 400 malformed_json / 422 / 413: an anonymous client cannot make the server parse or buffer a body."""
    headers = make_key(vx, "writer", "write")
    url = "/collections/topics/documents"
    bad_json = {"content-type": "application/json"}
    assert_unauthorized(topics.post(url, content=b"{not json", headers=bad_json), "Authorization: Bearer")
    assert_unauthorized(topics.post(url, json={"documents": "nope"}), "Authorization: Bearer")
    unknown = {**bad_json, "Authorization": "Bearer vdx_nope"}
    assert_unauthorized(topics.post(url, content=b"{not json", headers=unknown), "unknown API key")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body limit would buffer it
        yield b'{"documents": ['
        yield b"0," * 1000
        yield b"0]}"

    assert_unauthorized(topics.post(url, content=chunks(), headers=bad_json), "Authorization: Bearer")
    # with the key, the same bodies reach the route and get its answers
    assert topics.post(url, content=b"{not json", headers={**bad_json, **headers}).status_code == 400
    assert topics.post(url, json={"documents": "nope"}, headers=headers).status_code == 422


def test_read_write_and_admin_scopes(topics: TestClient, vx: Vecdex) -> None:
    read, write, admin = (make_key(vx, s, s) for s in ("read", "write", "admin"))
    doc = {"documents": [{"external_id": "new", "text": "the striker scored"}]}

    assert search(topics, read).status_code == 200
    assert topics.get("/collections/topics/documents/sport-1", headers=read).status_code == 200
    assert topics.get("/collections/topics/spaces", headers=read).status_code == 200
    assert topics.get("/jobs", headers=read).status_code == 200
    assert_forbidden(topics.post("/collections/topics/documents", json=doc, headers=read), "'write'", "'read'")
    assert_forbidden(topics.delete("/collections/topics/documents/sport-1", headers=read), "'write'")

    assert search(topics, write).status_code == 200
    assert topics.post("/collections/topics/documents", json=doc, headers=write).status_code == 200
    assert topics.delete("/collections/topics/documents/new", headers=write).status_code == 204
    assert_forbidden(topics.post("/collections", json={"name": "x"}, headers=write), "'admin'", "'write'")
    space = {"name": "kw2", "embedder": {"type": "bm25"}}
    assert_forbidden(topics.post("/collections/topics/spaces", json=space, headers=write), "'admin'")
    assert_forbidden(topics.delete("/collections/other", headers=write), "'admin'")
    assert_forbidden(topics.post("/jobs/1/cancel", headers=write), "'admin'")

    assert search(topics, admin).status_code == 200
    assert topics.post("/collections/topics/documents", json=doc, headers=admin).status_code == 200
    assert topics.post("/collections", json={"name": "x"}, headers=admin).status_code == 201
    assert topics.post("/collections/topics/spaces", json=space, headers=admin).status_code == 202
    assert topics.delete("/collections/x", headers=admin).status_code == 204
    # the scope check comes first: a read key learns nothing about what exists
    assert_forbidden(topics.delete("/collections/nope", headers=read), "'admin'")
    assert topics.delete("/collections/nope", headers=admin).status_code == 404


def test_a_key_limited_to_collections(topics: TestClient, vx: Vecdex) -> None:
    limited = make_key(vx, "topics-writer", "write", ["topics"])
    admin = make_key(vx, "admin", "admin")
    assert search(topics, limited).status_code == 200
    assert topics.get("/collections/topics", headers=limited).status_code == 200
    assert_forbidden(search(topics, limited, "other"), "limited to collections ['topics']", "'other'")
    assert_forbidden(topics.get("/collections/other", headers=limited), "'other'")
    # what is about no single collection reaches beyond the key's
    assert_forbidden(topics.get("/collections", headers=limited), "not about one collection")
    assert topics.get("/collections", headers=admin).status_code == 200
    assert topics.get("/jobs?collection=topics", headers=limited).status_code == 200
    assert_forbidden(topics.get("/jobs?collection=other", headers=limited), "'other'")
    assert_forbidden(topics.get("/jobs", headers=limited), "every collection")
    r = topics.post("/collections/other/spaces", json={"name": "kw", "embedder": {"type": "bm25"}}, headers=admin)
    other_job, topics_job = r.json()["job"]["id"], topics.get("/jobs?collection=topics", headers=admin).json()[0]["id"]
    assert topics.get(f"/jobs/{topics_job}", headers=limited).status_code == 200
    assert_forbidden(topics.get(f"/jobs/{other_job}", headers=limited), "'other'")


def test_auth_off_checks_nothing(tmp_path: Path, settings: Settings, vx: Vecdex) -> None:
    make_key(vx, "admin", "admin")
    off = settings.model_copy(update={"auth": "off"})
    with TestClient(create_app(off, run_worker=False)) as client:
        assert client.get("/collections").status_code == 200
        assert client.post("/collections", json={"name": "open"}).status_code == 201


def test_last_use_is_recorded_and_the_secret_is_stored_hashed(topics: TestClient, vx: Vecdex) -> None:
    created = vx.keys.create(body=KeyCreate(name="reader", scope="read"))
    assert created.key.last_used_at is None and created.secret.startswith(created.key.prefix)
    assert search(topics, {"Authorization": f"Bearer {created.secret}"}).status_code == 200
    (listed,) = vx.keys.list()
    assert listed.last_used_at is not None and listed.last_used_at.tzinfo is not None
    assert listed.created_at.tzinfo is not None
    with vx.db.sessions() as session:
        row = session.scalar(select(ApiKey))
    assert row is not None and created.secret not in str(vars(row))
    assert row.secret_hash == hashlib.sha256(created.secret.encode()).hexdigest()


def test_key_names_are_unique_and_collections_must_exist(settings: Settings, vx: Vecdex) -> None:
    vx.keys.create(body=KeyCreate(name="k", scope="read"))
    with pytest.raises(KeyExists):
        vx.keys.create(body=KeyCreate(name="k", scope="admin"))
    with pytest.raises(CollectionNotFound):
        vx.keys.create(body=KeyCreate(name="k2", scope="read", collections=["nope"]))
    with pytest.raises(KeyNotFound):
        vx.keys.revoke(name="nope")
    first = vx.keys.revoke(name="k").revoked_at
    assert first is not None and vx.keys.revoke(name="k").revoked_at == first  # idempotent


# ----------------------------------------------------------------------------- every route


def _routes(app: FastAPI) -> list[tuple[str, str, bool]]:
    """(method, path template, is a FastAPI route) of every route the app serves."""
    out = []
    for rc in iter_route_contexts(app.routes):
        for method in sorted(rc.methods or {"GET"}):
            if method != "HEAD":
                out.append((method, rc.path, isinstance(rc.original_route, APIRoute)))
    return out


def test_every_route_is_classified(client: TestClient) -> None:
    routes = _routes(client.app)  # type: ignore[arg-type]
    assert len(routes) >= 30, routes  # the walk sees the included routers
    unclassified = [(m, p) for m, p, _ in routes if (m, p) not in ROUTES]
    assert unclassified == [], "add these to service/api/scopes.py ROUTES"
    # Only FastAPI routes run the key dependency: anything else (a plain Route, a Mount) must be public.
    bypassing = [(m, p) for m, p, api in routes if not api and not is_public_path(p)]
    assert bypassing == [], "these routes skip the key check: make them APIRoutes added after install_auth"


def test_every_non_public_route_refuses_a_request_without_a_key(client: TestClient, vx: Vecdex) -> None:
    """The dependency really runs on every route (the lazily included routers too), before body validation."""
    make_key(vx, "admin", "admin")
    checked = 0
    for method, path, api in _routes(client.app):  # type: ignore[arg-type]
        url = re.sub(r"\{job_id\}", "1", re.sub(r"\{[a-z_]+\}", "x", path))
        r = client.request(method, url, json={})
        if rule_for(method, path).scope is None:
            assert r.status_code != 401, (method, path)
        else:
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            checked += 1
    assert checked >= 30


def test_an_unclassified_route_needs_admin(settings: Settings, vx: Vecdex) -> None:
    assert rule_for("GET", "/not-in-the-table") == UNCLASSIFIED and UNCLASSIFIED.scope == "admin"
    app = create_app(settings, run_worker=False)

    @app.get("/added-later")
    def _added() -> dict[str, str]:
        return {"ok": "yes"}

    read, admin = make_key(vx, "read", "read"), make_key(vx, "admin", "admin")
    limited = make_key(vx, "limited", "admin", [vx.collections.create(body=_collection("c")).name])
    with TestClient(app) as client:
        assert_unauthorized(client.get("/added-later"), "Bearer")
        assert_forbidden(client.get("/added-later", headers=read), "'admin'")
        assert_forbidden(client.get("/added-later", headers=limited), "not about one collection")
        assert client.get("/added-later", headers=admin).json() == {"ok": "yes"}


def _collection(name: str) -> Any:
    from service.schemas import CollectionCreate

    return CollectionCreate(name=name)


def test_metrics_and_docs_by_path(client: TestClient, vx: Vecdex) -> None:
    assert rule_for("GET", "/metrics").scope == "read" and rule_for("GET", "/metrics").collection is None
    assert all(rule_for("GET", p).scope is None for p in ("/docs", "/redoc", "/openapi.json", "/healthz", "/readyz"))
    make_key(vx, "admin", "admin")
    # /metrics, once served, must not answer without a key (a middleware answering it would skip the check)
    assert client.get("/metrics").status_code in (401, 404)
    assert client.get("/openapi.json").status_code == 200


def test_openapi_declares_the_bearer_scheme(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert spec["paths"]["/collections/{name}/search"]["post"]["security"] == [{"ApiKey": []}]


def test_scopes_nest() -> None:
    assert covers("admin", "write") and covers("write", "read") and covers("read", "read")
    assert not covers("read", "write") and not covers("write", "admin")


# ----------------------------------------------------------------------------- bind refusal


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"])
def test_loopback_is_served_openly(vx: Vecdex, host: str) -> None:
    assert vx.keys.check_bind(host=host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "example.com"])
def test_an_open_api_is_not_served_beyond_loopback(settings: Settings, vx: Vecdex, host: str) -> None:
    with pytest.raises(UnprotectedBind) as info:
        vx.keys.check_bind(host=host)
    assert "vecdex keys create" in info.value.message and "VECDEX_AUTH=off" in info.value.message
    off = Vecdex(settings.model_copy(update={"auth": "off"}))
    try:
        assert "VECDEX_AUTH=off" in (off.keys.check_bind(host=host) or "")
    finally:
        off.close()
    make_key(vx, "admin", "admin")
    assert vx.keys.check_bind(host=host) is None


# ----------------------------------------------------------------------------- CLI

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from service.settings import get_settings

    monkeypatch.setenv("VECDEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VECDEX_DATABASE_URL", raising=False)
    monkeypatch.delenv("VECDEX_AUTH", raising=False)
    get_settings.cache_clear()
    from service.cli import app

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def cli(*args: str) -> Any:
    from service.cli import app

    return runner.invoke(app, list(args))


def test_cli_create_list_revoke(env: Path) -> None:
    r = cli("keys", "create", "ci", "--scope", "read")
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip()
    assert re.fullmatch(r"vdx_[A-Za-z0-9_-]{43}", secret), r.stdout  # stdout is the secret alone
    assert "shown this once" in r.stderr and "all collections" in r.stderr

    assert cli("collection", "create", "news").exit_code == 0
    r = cli("keys", "create", "news-writer", "--scope", "write", "--collection", "news")
    assert r.exit_code == 0 and "news" in r.stderr

    r = cli("keys", "list")
    assert r.exit_code == 0 and secret not in r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith(f"ci\tread\t{secret[:12]}...\t*\tcreated ") and "last used never\tactive" in lines[0]
    assert lines[1].startswith("news-writer\twrite\t") and "\tnews\t" in lines[1]
    r = cli("keys", "list", "--json")
    assert secret not in r.output and [k["name"] for k in __import__("json").loads(r.stdout)] == ["ci", "news-writer"]

    r = cli("keys", "revoke", "ci")
    assert r.exit_code == 0 and "revoked key ci" in r.output
    assert "\trevoked " in cli("keys", "list").stdout.splitlines()[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["keys", "create", "ci", "--scope", "root"], "error [invalid_input] scope"),
        (["keys", "create", "bad name", "--scope", "read"], "error [invalid_input] name"),
        (["keys", "create", "ci2", "--scope", "read", "-c", "nope"], "error [collection_not_found]"),
        (["keys", "create", "ci", "--scope", "admin"], "error [key_exists] name: an API key named 'ci' already exists"),
        (["keys", "revoke", "nope"], "error [key_not_found]"),
    ],
)
def test_cli_errors_are_one_line(env: Path, args: list[str], says: str) -> None:
    assert cli("keys", "create", "ci", "--scope", "read").exit_code == 0
    r = cli(*args)
    assert r.exit_code == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stands in for uvicorn.run: records the host it would bind."""
    import uvicorn

    hosts: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **options: hosts.append(host))
    return hosts


def test_demo_refuses_an_open_bind_before_building(env: Path, served: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import service.demo

    built: list[str] = []
    monkeypatch.setattr(service.demo, "build_demo", lambda **_: built.append("demo"))
    r = cli("demo", "--host", "0.0.0.0")
    assert r.exit_code == 2 and "unprotected_bind" in r.stderr and built == [] and served == []
    assert cli("demo", "--host", "0.0.0.0", "--no-serve").exit_code == 0 and built == ["demo"]


def test_demo_on_a_fresh_data_directory(tmp_path: Path, served: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`make demo` on a fresh clone: no database yet (the demo migrates it), loopback served, 0.0.0.0 refused."""
    import service.demo
    from service.settings import get_settings
    from service.store.migrate import upgrade

    monkeypatch.setenv("VECDEX_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("VECDEX_DATABASE_URL", raising=False)
    monkeypatch.delenv("VECDEX_AUTH", raising=False)
    get_settings.cache_clear()
    built: list[str] = []

    def build(**_: Any) -> None:  # what the real build does first, without minutes of training
        upgrade(get_settings().resolved_database_url)
        built.append("demo")

    monkeypatch.setattr(service.demo, "build_demo", build)
    try:
        r = cli("demo", "--host", "0.0.0.0")
        assert r.exit_code == 2 and "unprotected_bind" in r.stderr and built == [] and served == [], r.output
        r = cli("demo")
        assert r.exit_code == 0 and built == ["demo"] and served == ["127.0.0.1"], r.output
    finally:
        get_settings.cache_clear()


def test_serve_refuses_an_open_bind_beyond_loopback(
    env: Path, served: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    r = cli("serve", "--host", "0.0.0.0", "--no-worker")
    assert r.exit_code == 2 and served == []
    (line,) = r.stderr.strip().splitlines()
    assert "error [unprotected_bind] host:" in line and "vecdex keys create" in line and "VECDEX_AUTH=off" in line
    assert cli("serve", "--host", "127.0.0.1", "--no-worker").exit_code == 0 and served == ["127.0.0.1"]

    from service.settings import get_settings

    monkeypatch.setenv("VECDEX_AUTH", "off")
    get_settings.cache_clear()
    r = cli("serve", "--host", "0.0.0.0", "--no-worker")
    assert r.exit_code == 0 and served[-1] == "0.0.0.0" and "VECDEX_AUTH=off" in r.stderr
    monkeypatch.setenv("VECDEX_AUTH", "on")
    get_settings.cache_clear()

    assert cli("keys", "create", "admin", "--scope", "admin").exit_code == 0
    r = cli("serve", "--host", "0.0.0.0", "--no-worker")
    assert r.exit_code == 0 and served[-1] == "0.0.0.0" and r.stderr == ""
