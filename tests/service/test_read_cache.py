"""The query path's reads remembered on SQLite while nothing is committed, and never served stale.

Every write here is made the way another writer would make it — a pool
connection of this process, a connection of its own, another process — and
the next read must see it, on both dialects (PostgreSQL reads every time).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from service.errors import NotFound
from service.facade import Vecdex
from service.schemas import CollectionCreate, DocumentIn
from service.settings import Settings
from service.space_schemas import SpaceCreate
from service.store.hot_reads import HotReads
from service.store.read_cache import VersionedCache
from tests.service.conftest import FAST_W2V
from tests.conftest import migrate


def _filled(settings: Settings) -> Any:
    vx = Vecdex(settings)
    vx.collections.create(body=CollectionCreate(name="c"))
    vx.documents.write(
        collection="c",
        documents=[DocumentIn(external_id=f"d{i}", text=f"text number {i} " * 20, metadata={"n": i}) for i in range(5)],
    )
    return vx


@pytest.fixture
def vx(settings: Settings) -> Any:
    vx = _filled(settings)
    yield vx
    vx.close()


@pytest.fixture
def sqlite_vx(tmp_path: Path, sqlite_url: str) -> Any:
    """The same on SQLite only: what only SQLite's data version does."""

    migrate(sqlite_url)
    vx = _filled(Settings(data_dir=tmp_path / "data", database_url=sqlite_url, embedded_worker=False))  # type: ignore[arg-type]
    yield vx
    vx.close()


def _ids(vx: Any) -> list[int]:
    with vx.core.db.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT id FROM documents ORDER BY id"))]


def _counting(hot: HotReads, monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(hot, name)

    def counted(*args: Any) -> Any:
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(hot, name, counted)
    return calls


def test_rows_follow_every_commit_on_both_dialects(vx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    hot = HotReads(vx.core.db)
    ids = _ids(vx)
    reads = _counting(hot, monkeypatch, "_read_rows")
    first = hot.hit_rows(ids, 30)
    assert [first[i].external_id for i in ids] == [f"d{i}" for i in range(5)]
    assert hot.hit_rows(ids, 30) == first
    sqlite = vx.core.db.dialect == "sqlite"
    assert len(reads) == (1 if sqlite else 2)  # unchanged database: SQLite answers from memory

    with vx.core.db.engine.begin() as conn:  # another connection commits
        conn.execute(text("UPDATE documents SET text = 'changed' WHERE id = :i"), {"i": ids[2]})
        conn.execute(text("DELETE FROM documents WHERE id = :i"), {"i": ids[4]})
    after = hot.hit_rows(ids, 30)
    assert after[ids[2]].text == "changed" and ids[4] not in after
    assert after[ids[0]] == first[ids[0]]
    hot.close()


def test_a_commit_by_another_process_is_seen(tmp_path: Path, sqlite_url: str) -> None:

    migrate(sqlite_url)
    vx = Vecdex(Settings(data_dir=tmp_path / "data", database_url=sqlite_url, embedded_worker=False))  # type: ignore[arg-type]
    try:
        vx.collections.create(body=CollectionCreate(name="c"))
        vx.documents.write(collection="c", documents=[DocumentIn(external_id="a", text="before", metadata={})])
        hot = HotReads(vx.core.db)
        (doc_id,) = _ids(vx)
        assert hot.hit_rows([doc_id], 0)[doc_id].text == "before"
        assert hot.hit_rows([doc_id], 0)[doc_id].text == "before"  # remembered
        path = sqlite_url.removeprefix("sqlite:///")
        script = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute(\"UPDATE documents SET text = 'after' WHERE id = ?\", (int(sys.argv[2]),)); c.commit()"
        )
        subprocess.run([sys.executable, "-c", script, path, str(doc_id)], check=True)
        assert hot.hit_rows([doc_id], 0)[doc_id].text == "after"
        hot.close()
    finally:
        vx.close()


def test_a_remembered_row_serves_shorter_snippets_only(sqlite_vx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    vx = sqlite_vx
    hot = HotReads(vx.core.db)
    ids = _ids(vx)[:1]
    reads = _counting(hot, monkeypatch, "_read_rows")
    short = hot.hit_rows(ids, 10)[ids[0]].text
    assert short == "text numbe"
    longer = hot.hit_rows(ids, 40)[ids[0]].text  # cannot come from a 10-character snippet
    assert len(longer) == 40 and longer.startswith(short) and len(reads) == 2
    assert hot.hit_rows(ids, 5)[ids[0]].text == "text "  # cut from the 40-character one
    whole = hot.hit_rows(ids, 0)[ids[0]].text
    assert whole == "text number 0 " * 20 and len(reads) == 3
    assert hot.hit_rows(ids, 7)[ids[0]].text == "text nu" and len(reads) == 3
    hot.close()


def test_space_state_follows_a_status_change_and_a_delete(vx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    vx.spaces.create(collection="c", body=SpaceCreate.model_validate({"name": "w", "embedder": FAST_W2V}))
    hot = HotReads(vx.core.db)
    reads = _counting(hot, monkeypatch, "_read_state")
    state = hot.space_state("c", "w")
    assert state.ref.status != "failed" and hot.space_state("c", "w") == state
    assert len(reads) == (1 if vx.core.db.dialect == "sqlite" else 2)
    with vx.core.db.engine.begin() as conn:
        conn.execute(text("UPDATE spaces SET status = 'failed' WHERE name = 'w'"))
    assert hot.space_state("c", "w").ref.status == "failed"
    vx.spaces.delete(collection="c", space="w")
    with pytest.raises(NotFound) as err:
        hot.space_state("c", "w")
    assert err.value.code == "space_not_found"
    hot.close()


def test_a_replaced_watching_connection_never_meets_old_versions(sqlite_vx: Any) -> None:
    vx = sqlite_vx
    hot = HotReads(vx.core.db)
    before = hot.data_version()
    hot.close()  # as after a failed probe: the next one is a new connection counting from 1 again
    after = hot.data_version()
    assert before is not None and after is not None and after > before
    hot.close()


def test_versioned_cache_keeps_only_the_newest_version() -> None:
    cache: VersionedCache[str, int] = VersionedCache(capacity=2)
    cache.put(5, "a", 1)
    assert cache.get(5, "a") == 1 and cache.get(6, "a") is None and cache.get(4, "a") is None
    cache.put(4, "b", 2)  # read before a commit already seen: dropped
    assert cache.get(4, "b") is None and cache.get(5, "a") == 1
    cache.put(6, "b", 3)  # a newer version starts afresh
    assert cache.get(6, "a") is None and cache.get(6, "b") == 3
    cache.put(6, "c", 4)
    cache.put(6, "d", 5)  # over capacity: the oldest entry goes
    assert cache.get(6, "b") is None and cache.get(6, "c") == 4 and cache.get(6, "d") == 5


def test_a_search_asks_the_data_version_once(vx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The state's version goes on to the hits' read; a commit after it still reaches SQL's rows."""
    vx.spaces.create(collection="c", body=SpaceCreate.model_validate({"name": "w", "embedder": FAST_W2V}))
    hot = HotReads(vx.core.db)
    ids = _ids(vx)
    state = hot.space_state("c", "w")
    pragmas = _counting(hot, monkeypatch, "data_version")
    rows = hot.hit_rows(ids, 20, state.version)
    assert [rows[i].external_id for i in ids] == [f"d{i}" for i in range(5)] and pragmas == []
    with vx.core.db.engine.begin() as conn:
        conn.execute(text("UPDATE documents SET text = 'later' WHERE id = :i"), {"i": ids[0]})
    assert hot.hit_rows(ids, 20)[ids[0]].text == "later"  # a new search: a new version
    hot.close()


def test_threads_asking_the_version_at_once_all_see_a_commit(sqlite_vx: Any) -> None:
    """The pragma runs outside the probe's lock (SQLite is serialized): concurrent askers get one right answer."""
    import threading

    vx = sqlite_vx
    hot = HotReads(vx.core.db)
    before = hot.data_version()
    with vx.core.db.engine.begin() as conn:
        conn.execute(text("UPDATE documents SET text = 'moved' WHERE id = :i"), {"i": _ids(vx)[0]})
    answers: list[int | None] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            answers.extend(hot.data_version() for _ in range(200))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(answers) == 1600
    assert before is not None and len(set(answers)) == 1 and answers[0] is not None and answers[0] > before
    hot.close()
