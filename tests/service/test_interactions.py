"""Items collections and user interactions: storage, HTTP, sequences, and the ingest-interactions command.

Every SQL-facing case runs on SQLite and, with VECDEX_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from embedders.item2vec.sequences import Interaction
from service.api import create_app
from service.cli import app as cli_app
from service.store.db import Database
from service.store.interactions import (
    InteractionSequences,
    count_interactions,
    ingest_interactions,
    load_interactions,
    user_history,
)
from service.store.models import Document
from service.store.repository import get_collection
from service.schemas import InteractionIn
from service.settings import Settings
from tests.service.conftest import FAST_W2V, make_settings
from tests.service.corpus import topical_documents
from tests.conftest import migrate

JSON = dict[str, Any]
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
E0 = T0.timestamp()


def _error(resp: Any, status: int, code: str, field: str | None = None) -> JSON:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code, err
    if field is not None:
        assert err["field"] == field, err
    assert err["message"]
    return err


def _items(client: TestClient, name: str = "shop", ids: tuple[str, ...] = ("a", "b", "c", "d")) -> None:
    r = client.post("/collections", json={"name": name, "kind": "items"})
    assert r.status_code == 201, r.text
    docs = [{"external_id": i, "metadata": {"category": "x", "price": 1.5, "in_stock": True}} for i in ids]
    r = client.post(f"/collections/{name}/documents", json={"documents": docs})
    assert r.status_code == 200, r.text


def _post(client: TestClient, interactions: list[JSON], unknown: str = "reject", name: str = "shop") -> Any:
    return client.post(f"/collections/{name}/interactions", json={"interactions": interactions, "unknown_items": unknown})


def _ev(user: str, item: str, ts: Any, **kw: Any) -> JSON:
    return {"user": user, "item": item, "timestamp": ts, **kw}


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    yield database
    database.dispose()


def _cid(db: Database, name: str = "shop") -> int:
    with db.session() as s:
        return get_collection(s, name).id


# ----------------------------------------------------------------------------- collections of kind items


def test_kind_on_collections(client: TestClient) -> None:
    assert client.post("/collections", json={"name": "notes"}).json()["kind"] == "documents"
    assert client.post("/collections", json={"name": "shop", "kind": "items"}).json()["kind"] == "items"
    assert client.get("/collections/shop").json()["kind"] == "items"
    assert {c["name"]: c["kind"] for c in client.get("/collections").json()} == {"notes": "documents", "shop": "items"}
    _error(client.post("/collections", json={"name": "x", "kind": "users"}), 422, "invalid_request", "kind")


def test_text_is_optional_only_for_items(client: TestClient) -> None:
    client.post("/collections", json={"name": "notes"})
    post = lambda name, docs: client.post(f"/collections/{name}/documents", json={"documents": docs})  # noqa: E731
    for doc in ({"external_id": "n1"}, {"external_id": "n1", "text": ""}, {"external_id": "n1", "text": None}):
        err = _error(post("notes", [{"external_id": "ok", "text": "fine"}, doc]), 422, "invalid_request", "documents[1].text")
        assert "text is empty" in err["message"]
    assert client.get("/collections/notes").json()["document_count"] == 0

    client.post("/collections", json={"name": "shop", "kind": "items"})
    r = post("shop", [
        {"external_id": "i1", "metadata": {"category": "shoes", "price": 59.9, "in_stock": True}},
        {"external_id": "i2", "text": "", "metadata": {"category": "hats"}},
        {"external_id": "i3", "text": None},
        {"external_id": "i4", "text": "Red running shoe"},
    ])
    assert r.json() == {"created": 4, "updated": 0, "unchanged": 0}, r.text
    i1 = client.get("/collections/shop/documents/i1").json()
    assert i1["text"] == "" and i1["metadata"] == {"category": "shoes", "price": 59.9, "in_stock": True}
    assert client.get("/collections/shop/documents/i4").json()["text"] == "Red running shoe"
    # The other checks still apply to items.
    _error(post("shop", [{"external_id": " "}]), 422, "invalid_request", "documents[0].external_id")


def test_text_space_on_items_skips_empty_texts(client: TestClient, jobs: Callable[[], int]) -> None:
    """A word2vec space over an items collection where some items have no text: built, searched, kept in sync."""
    client.post("/collections", json={"name": "shop", "kind": "items"})
    docs = [{"external_id": d["external_id"], "text": d["text"]} for d in topical_documents()]
    docs += [{"external_id": f"bare-{i}", "metadata": {"category": "x"}} for i in range(3)]
    assert client.post("/collections/shop/documents", json={"documents": docs}).status_code == 200
    r = client.post("/collections/shop/spaces", json={"name": "w2v", "embedder": FAST_W2V})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    job = client.get(f"/jobs/{r.json()['job']['id']}").json()
    assert job["status"] == "succeeded", job
    hits = client.post("/collections/shop/search", json={"query": "striker scored a goal", "k": 20}).json()["hits"]
    ids = [h["external_id"] for h in hits]
    assert len(ids) == 20 and not any(i.startswith("bare-") for i in ids)
    assert ids[0].startswith("sport-")
    # An empty item created afterwards (directly or by an interaction) reaches the space as "nothing to index".
    r = _post(client, [_ev("u1", "bare-new", E0)], unknown="create")
    assert r.json() == {"inserted": 1, "created_items": 1}, r.text
    hits = client.post("/collections/shop/search", json={"query": "striker scored a goal", "k": 30}).json()["hits"]
    assert len(hits) == 20


# ----------------------------------------------------------------------------- HTTP ingest


def test_ingest_and_history(client: TestClient, db: Database) -> None:
    _items(client)
    r = _post(client, [
        _ev("u1", "a", "2024-03-01T12:00:00Z", event="view"),
        _ev("u1", "b", "2024-03-01T14:00:30+02:00", event="cart", weight=2),  # 12:00:30 UTC
        _ev("u1", "c", E0 + 60),  # epoch seconds
        _ev("u1", "d", "2024-03-01T12:02:00"),  # naive = UTC
        _ev(42, "a", str(int(E0))),  # integer user id, numeric-string timestamp
    ])
    assert r.status_code == 200, r.text
    assert r.json() == {"inserted": 5, "created_items": 0}
    history = client.get("/collections/shop/users/u1/history").json()
    assert [h["item"] for h in history] == ["a", "b", "c", "d"]
    assert [datetime.fromisoformat(h["timestamp"].replace("Z", "+00:00")).timestamp() - E0 for h in history] == [
        0, 30, 60, 120
    ]
    assert history[1] == {"item": "b", "timestamp": history[1]["timestamp"], "event": "cart", "weight": 2.0}
    assert history[2]["event"] is None and history[2]["weight"] == 1.0
    assert [h["item"] for h in client.get("/collections/shop/users/42/history").json()] == ["a"]

    events = load_interactions(db, _cid(db))
    assert [(e.user, e.ts - E0) for e in events] == [("42", 0), ("u1", 0), ("u1", 30), ("u1", 60), ("u1", 120)]
    assert all(isinstance(e, Interaction) and isinstance(e.item, int) for e in events)


def test_history_order_limit_and_unknown_user(client: TestClient, db: Database) -> None:
    _items(client)
    # Sent out of time order; two events share a timestamp (then the later insert is the more recent).
    r = _post(client, [_ev("u", "c", E0 + 20), _ev("u", "a", E0), _ev("u", "b", E0 + 10), _ev("u", "d", E0 + 20)])
    assert r.status_code == 200, r.text
    assert [h["item"] for h in client.get("/collections/shop/users/u/history").json()] == ["a", "b", "c", "d"]
    assert [h["item"] for h in client.get("/collections/shop/users/u/history?limit=2").json()] == ["c", "d"]
    assert [h["item"] for h in client.get("/collections/shop/users/u/history?limit=1").json()] == ["d"]
    _error(client.get("/collections/shop/users/nobody/history"), 404, "user_not_found", "user")
    _error(client.get("/collections/shop/users/u/history?limit=0"), 422, "invalid_request", "limit")
    _error(client.get("/collections/nope/users/u/history"), 404, "collection_not_found")
    with db.session() as s:
        recent = user_history(s, _cid(db), "u", 3)
    assert [e.ts - E0 for e in recent] == [10, 20, 20]


def test_unknown_items_reject_or_create(client: TestClient, db: Database) -> None:
    _items(client)
    batch = [_ev("u1", "a", E0), _ev("u1", "new-1", E0 + 1), _ev("u2", "new-2", E0 + 2), _ev("u2", "new-1", E0 + 3)]
    err = _error(_post(client, batch), 422, "unknown_item", "interactions[1].item")
    assert "new-1" in err["message"]
    with db.session() as s:
        assert count_interactions(s, _cid(db)) == 0
    _error(client.get("/collections/shop/documents/new-1"), 404, "document_not_found")
    assert client.get("/collections/shop").json()["document_count"] == 4

    r = _post(client, batch, unknown="create")
    assert r.json() == {"inserted": 4, "created_items": 2}, r.text
    new = client.get("/collections/shop/documents/new-1").json()
    assert new["text"] == "" and new["metadata"] == {}
    assert client.get("/collections/shop").json()["document_count"] == 6
    assert [h["item"] for h in client.get("/collections/shop/users/u2/history").json()] == ["new-2", "new-1"]
    _error(_post(client, batch, unknown="maybe"), 422, "invalid_request", "unknown_items")


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"timestamp": "yesterday"}, "interactions[1].timestamp"),
        ({"timestamp": "2024-13-01T00:00:00Z"}, "interactions[1].timestamp"),
        ({"timestamp": float("nan")}, "interactions[1].timestamp"),
        ({"timestamp": float("inf")}, "interactions[1].timestamp"),
        ({"timestamp": "1969-12-31T23:59:59Z"}, "interactions[1].timestamp"),
        ({"timestamp": -1}, "interactions[1].timestamp"),
        ({"timestamp": "2201-01-01T00:00:00Z"}, "interactions[1].timestamp"),
        ({"timestamp": 1e12}, "interactions[1].timestamp"),  # ms by mistake: year 33658, refused (not read as ms)
        ({"timestamp": True}, "interactions[1].timestamp"),
        ({"timestamp": None}, "interactions[1].timestamp"),
        ({"user": "   "}, "interactions[1].user"),
        ({"user": ""}, "interactions[1].user"),
        ({"user": "u" * 257}, "interactions[1].user"),
        ({"item": " "}, "interactions[1].item"),
        ({"weight": float("inf")}, "interactions[1].weight"),
        ({"weight": float("nan")}, "interactions[1].weight"),
        ({"weight": "heavy"}, "interactions[1].weight"),
        ({"event": "e" * 65}, "interactions[1].event"),
        ({"extra": 1}, "interactions[1].extra"),
    ],
)
def test_bad_interaction_names_the_field_and_writes_nothing(
    client: TestClient, db: Database, event: JSON, field: str
) -> None:
    _items(client)
    bad = {**_ev("u2", "b", E0), **event}
    body = json.dumps({"interactions": [_ev("u1", "a", E0), bad]})  # NaN / Infinity as Python's json writes them
    resp = client.post("/collections/shop/interactions", content=body, headers={"content-type": "application/json"})
    _error(resp, 422, "invalid_request", field)
    with db.session() as s:
        assert count_interactions(s, _cid(db)) == 0


def test_interaction_boundaries_accepted(client: TestClient, db: Database) -> None:
    _items(client)
    r = _post(client, [
        _ev("u", "a", 0),  # 1970-01-01T00:00:00Z
        _ev("u", "b", "2200-12-31T23:59:59Z"),
        _ev("u", "c", E0, weight=-1, event=""),  # negative weight is allowed (left out of training); blank event = none
    ])
    assert r.status_code == 200, r.text
    a, c, b = load_interactions(db, _cid(db))
    assert (a.ts, c.ts, b.ts) == (0.0, E0, datetime(2200, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp())
    assert c.weight == -1 and c.event is None


def test_request_shape_errors(client: TestClient, tmp_path: Path, database_url: str) -> None:
    _items(client)
    _error(client.post("/collections/shop/interactions", json={"interactions": []}), 422, "invalid_request", "interactions")
    _error(client.post("/collections/shop/interactions", json={}), 422, "invalid_request", "interactions")
    _error(_post(client, [_ev("u", "a", E0)], name="nope"), 404, "collection_not_found")
    small = make_settings(tmp_path / "small", database_url, max_batch=2)
    with TestClient(create_app(small, run_worker=False)) as c:
        err = _error(_post(c, [_ev("u", "a", E0)] * 3), 422, "batch_too_large", "interactions")
        assert "VECDEX_MAX_BATCH" in err["message"]
        assert _post(c, [_ev("u", "a", E0)] * 2).json() == {"inserted": 2, "created_items": 0}


def test_documents_collection_refuses_interactions(client: TestClient) -> None:
    client.post("/collections", json={"name": "notes"})
    client.post("/collections/notes/documents", json={"documents": [{"external_id": "a", "text": "t"}]})
    _error(_post(client, [_ev("u", "a", E0)], name="notes"), 409, "not_an_items_collection", "collection")
    _error(_post(client, [_ev("u", "zz", E0)], unknown="create", name="notes"), 409, "not_an_items_collection")
    _error(client.get("/collections/notes/users/u/history"), 409, "not_an_items_collection")
    assert client.get("/collections/notes").json()["document_count"] == 1


def test_deleting_an_item_deletes_its_interactions(client: TestClient, db: Database) -> None:
    _items(client)
    _post(client, [_ev("u1", "a", E0), _ev("u1", "b", E0 + 1), _ev("u2", "b", E0 + 2), _ev("u2", "c", E0 + 3)])
    assert client.delete("/collections/shop/documents/b").status_code == 204
    cid = _cid(db)
    b_gone = [(e.user, e.ts - E0) for e in load_interactions(db, cid)]
    assert b_gone == [("u1", 0), ("u2", 3)]
    assert [h["item"] for h in client.get("/collections/shop/users/u2/history").json()] == ["c"]
    assert client.delete("/collections/shop").status_code == 204
    with db.session() as s:
        assert count_interactions(s, cid) == 0


# ----------------------------------------------------------------------------- repository and sequences


def test_ingest_is_all_or_nothing_in_the_repository(client: TestClient, db: Database) -> None:
    _items(client)
    records = [InteractionIn(user="u", item="a", timestamp=T0), InteractionIn(user="u", item="zz", timestamp=T0)]
    with pytest.raises(Exception) as exc_info:
        with db.session() as s:
            ingest_interactions(s, "shop", records, "reject")
    assert getattr(exc_info.value, "code", None) == "unknown_item"
    with db.session() as s:
        assert count_interactions(s, _cid(db)) == 0
        result = ingest_interactions(s, "shop", records, "create")
    assert (result.inserted, result.created_items) == (2, 1)


def test_interaction_sequences_split_by_gap(client: TestClient, db: Database) -> None:
    """A hand-built log with known gaps: sessions break where a user was idle for more than 30 minutes."""
    _items(client, ids=tuple("abcdefgh"))
    m = 60.0
    log = [
        # u1: a b c | (45 min) d e | (31 min) f   -> [a,b,c], [d,e,f]: the lone f joins its nearer session
        ("u1", "a", 0), ("u1", "b", 5 * m), ("u1", "c", 10 * m),
        ("u1", "d", 55 * m), ("u1", "e", 60 * m),
        ("u1", "f", 91 * m),
        # u2: g g h with a repeated click (collapsed); a dislike (weight <= 0) left out before sessions are cut;
        # g -> h is exactly 30 min: no break
        ("u2", "g", 0), ("u2", "g", 1 * m), ("u2", "x-dislike", 2 * m), ("u2", "h", 31 * m),
        # u3: one lone item only
        ("u3", "a", 0),
    ]
    body = [
        _ev(u, "a" if i == "x-dislike" else i, E0 + t, **({"weight": -1, "event": "dislike"} if i == "x-dislike" else {}))
        for u, i, t in log
    ]
    assert _post(client, list(reversed(body))).status_code == 200  # arrival order does not matter
    with db.session() as s:
        ids = {d.external_id: d.id for d in s.query(Document)}
    cid = _cid(db)
    sequences = InteractionSequences(db, cid, gap_seconds=30 * m)
    expected = [[ids[x] for x in seq] for seq in (["a", "b", "c"], ["d", "e", "f"], ["g", "h"])]
    assert list(sequences) == expected
    assert list(sequences) == expected  # re-iterable
    assert len(sequences) == 3
    assert list(InteractionSequences(db, cid, gap_seconds=None)) == [
        [ids[x] for x in "abcdef"], [ids["g"], ids["h"]]
    ]
    # min_length 3: [d, e] and [f] are each too short and join each other ([d, e, f]); u2's whole history is
    # shorter than 3, so u2 is not trained on
    assert len(InteractionSequences(db, cid, gap_seconds=30 * m, min_length=3)) == 2
    # before: only the past, strictly earlier events (h at exactly 31 min is out, leaving u2 a lone g)
    past = InteractionSequences(db, cid, gap_seconds=30 * m, before=datetime.fromtimestamp(E0 + 31 * m, tz=timezone.utc))
    assert list(past) == [[ids["a"], ids["b"], ids["c"]]]
    with db.session() as s:  # a session works as well as a Database
        assert len(load_interactions(s, cid)) == len(log)
        assert len(load_interactions(s, cid, before=datetime.fromtimestamp(E0 + 1, tz=timezone.utc).replace(tzinfo=None))) == 3
    users = [e.user for e in load_interactions(db, cid)]
    assert users == sorted(users)
    u1 = [e for e in load_interactions(db, cid) if e.user == "u1"]
    assert [e.ts - E0 for e in u1] == [0, 5 * m, 10 * m, 55 * m, 60 * m, 91 * m]
    assert all(math.isfinite(e.ts) for e in u1)


# ----------------------------------------------------------------------------- command line

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from service.settings import get_settings

    monkeypatch.setenv("VECDEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VECDEX_DATABASE_URL", database_url)
    get_settings.cache_clear()
    migrate(database_url)
    yield tmp_path
    get_settings.cache_clear()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli_app, list(args))
    return result.exit_code, result.output


def _cli_items(env: Path, ids: str = "abcd") -> None:
    assert cli("collection", "create", "shop", "--kind", "items")[0] == 0
    src = env / "items.csv"
    src.write_text("id,text,category\n" + "".join(f"{i},,cat-{i}\n" for i in ids))
    code, out = cli("ingest", str(src), "--collection", "shop")
    assert code == 0, out
    assert f"{len(ids)} created" in out


def _history(database_url: str, user: str) -> list[str]:
    db = Database(database_url)
    try:
        with db.session() as s:
            events = user_history(s, _cid(db), user, 100)
            docs = {d.id: d.external_id for d in s.query(Document)}
        return [docs[e.item] for e in events]
    finally:
        db.dispose()


def test_cli_csv_reports_bad_lines_and_ingests_the_rest(cli_env: Path, database_url: str) -> None:
    _cli_items(cli_env)
    src = cli_env / "events.csv"
    src.write_text(
        "user,item,timestamp,event,weight\n"  # 1
        "u1,a,2024-03-01T12:00:00Z,view,\n"  # 2
        "u1,b,2024-03-01 12:01:00,cart,2\n"  # 3 (space separator, naive = UTC)
        "u1,zz,2024-03-01T12:02:00Z,view,\n"  # 4 unknown item
        "u1,c,yesterday,view,\n"  # 5 bad timestamp
        "\n"  # 6 blank
        " ,c,1709294400,view,\n"  # 7 blank user
        "u2,c,1709294400,,nan\n"  # 8 non-finite weight
        "u2,d,1709294460\n"  # 9 too few cells
        "u2,a,1709294520,,\n"  # 10
    )
    code, out = cli("ingest-interactions", "shop", str(src), "--batch-size", "3")
    assert code == 1, out
    for line, words in [(4, "'zz'"), (5, "'timestamp'"), (7, "'user'"), (8, "'weight'"), (9, "expected 5 fields")]:
        assert f"events.csv:{line}: " in out and words in out.split(f"events.csv:{line}: ")[1].splitlines()[0], out
    for line in (2, 3, 6, 10):
        assert f"events.csv:{line}:" not in out
    assert "inserted 3 interactions, created 0 items, rejected 5 lines" in out
    assert _history(database_url, "u1") == ["a", "b"]
    assert _history(database_url, "u2") == ["a"]

    code, out = cli("ingest-interactions", "shop", str(src), "--unknown-items", "create")
    assert code == 1
    assert "inserted 4 interactions, created 1 items, rejected 4 lines" in out
    assert _history(database_url, "u1") == ["a", "a", "b", "b", "zz"]


def test_cli_jsonl_create_and_exit_codes(cli_env: Path, database_url: str) -> None:
    _cli_items(cli_env, "ab")
    good = cli_env / "events.jsonl"
    good.write_text(
        json.dumps({"user": "u1", "item": "a", "timestamp": "2024-03-01T12:00:00Z", "event": "view"}) + "\n"
        + json.dumps({"user": 7, "item": 99, "timestamp": E0 + 5, "weight": 0.5}) + "\n"
    )
    code, out = cli("ingest-interactions", "shop", str(good), "--unknown-items", "create")
    assert code == 0, out
    assert "inserted 2 interactions, created 1 items, rejected 0 lines" in out
    assert _history(database_url, "7") == ["99"]

    bad = cli_env / "events.ndjson"
    bad.write_text(
        json.dumps({"user": "u1", "item": "b", "timestamp": E0 + 10}) + "\n"  # 1
        + '{"user": "u1", "item": "b", \n'  # 2 malformed
        + '{"user": "u1", "item": "b", "timestamp": NaN}\n'  # 3
        + "[1, 2]\n"  # 4
        + json.dumps({"user": "u1", "item": "b", "timestamp": E0, "colour": "red"}) + "\n"  # 5 unknown key
        + json.dumps({"user": "u1", "item": "nope", "timestamp": E0 + 20}) + "\n"  # 6 unknown item (reject)
        + json.dumps({"user": "u1", "item": "a", "timestamp": E0 + 30}) + "\n"  # 7
    )
    code, out = cli("ingest-interactions", "shop", str(bad))
    assert code == 1, out
    for line in (2, 3, 4, 5, 6):
        assert f"events.ndjson:{line}: " in out
    assert "'colour'" in out and "'nope'" in out
    assert "inserted 2 interactions, created 0 items, rejected 5 lines" in out
    assert _history(database_url, "u1") == ["a", "b", "a"]


def test_cli_ingest_items_without_text(cli_env: Path) -> None:
    """`vecdex ingest` into an items collection: the text key or column may be absent or empty."""
    assert cli("collection", "create", "shop", "--kind", "items")[0] == 0
    assert cli("collection", "create", "notes")[0] == 0
    items = cli_env / "items.jsonl"
    items.write_text('{"id": "x", "category": "c"}\n{"id": "y", "text": "Blue hat", "category": "c"}\n')
    code, out = cli("ingest", str(items), "--collection", "shop")
    assert code == 0 and "2 created" in out, out
    code, out = cli("ingest", str(items), "--collection", "notes")
    assert code == 1 and "items.jsonl:1: line 1: missing field 'text'" in out and "1 created" in out, out
    csv_items = cli_env / "items.csv"
    csv_items.write_text("id,category\nz,c\n")
    code, out = cli("ingest", str(csv_items), "--collection", "shop")
    assert code == 0 and "1 created" in out, out
    code, out = cli("collection", "list")
    assert "shop\titems\t3 documents" in out


def test_cli_refusals(cli_env: Path) -> None:
    assert cli("collection", "create", "notes")[0] == 0
    src = cli_env / "events.csv"
    src.write_text("user,item,timestamp\nu,a,2024-03-01T12:00:00Z\n")
    code, out = cli("ingest-interactions", "notes", str(src))
    assert code == 2 and "not_an_items_collection" in out
    code, out = cli("ingest-interactions", "nope", str(src))
    assert code == 2 and "collection_not_found" in out
    assert cli("collection", "create", "shop", "--kind", "items")[0] == 0
    code, out = cli("ingest-interactions", "shop", str(src), "--unknown-items", "maybe")
    assert code == 2 and "--unknown-items" in out
    code, out = cli("ingest-interactions", "shop", str(src), "--format", "xml")
    assert code == 2 and "format" in out
    src.write_text("user,item,ts,wieght\nu,a,2024-03-01T12:00:00Z,1\n")
    code, out = cli("ingest-interactions", "shop", str(src))
    assert code == 1 and "events.csv:1: header: missing column 'timestamp'" in out
    src.write_text("user,item,timestamp,wieght\nu,a,2024-03-01T12:00:00Z,1\n")
    code, out = cli("ingest-interactions", "shop", str(src))
    assert code == 1 and "events.csv:1: header: unknown column 'wieght'" in out
    assert "rejected 1 lines" in out
    # --format overrides the extension; auto sniffs an unknown one.
    log = cli_env / "events.log"
    log.write_text(json.dumps({"user": "u", "item": "a", "timestamp": E0}) + "\n")
    code, out = cli("ingest-interactions", "shop", str(log), "--unknown-items", "create")
    assert code == 0 and "inserted 1 interactions, created 1 items" in out, out
    code, out = cli("ingest-interactions", "shop", str(log), "--format", "csv")
    assert code == 1 and "events.log:1: header" in out
