"""Shared fixtures: a database per test on SQLite, and on PostgreSQL when VECDEX_TEST_DATABASE_URL is set.

PostgreSQL cases get a fresh schema each (search_path set per connection), so
they are isolated like the SQLite ones and leave nothing behind. Where no
PostgreSQL is configured they skip with the reason; with
VECDEX_REQUIRE_POSTGRES=1 (CI) an unreachable server is a failure instead.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("VECDEX_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("VECDEX_REQUIRE_POSTGRES") == "1"


def _pg_schema_url(base: str, schema: str) -> str:
    url = make_url(base)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated-nothing-yet database URL on each dialect."""
    yield from _database(request.param, tmp_path)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same, shared by a module's tests: for modules whose tests only read one loaded collection (or
    assert that what they send changes nothing), so it is loaded once per dialect instead of per test."""
    yield from _database(request.param, tmp_path_factory.mktemp("module-db"))


def _database(dialect: str, directory: Path) -> Iterator[str]:
    if dialect == "sqlite":
        yield f"sqlite:///{directory / 'vecdex.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL cases need VECDEX_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required but unreachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc}")
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


_TEMPLATE_LOCK = threading.Lock()


def migrate(url: str) -> None:
    """Bring a *fresh* test database to the head revision, as ``service.store.migrate.upgrade`` would, in a
    fraction of its time: most of the suite's tests start from an empty database, and running Alembic
    online for each cost ~60 ms on SQLite and ~150 ms on PostgreSQL (minutes over the suite).

    SQLite: a copy of one database file migrated by Alembic once per process. PostgreSQL: Alembic's own
    offline script (``upgrade --sql``, generated once) run in one round trip. A database that already has
    tables goes through Alembic itself. ``tests/test_fast_migrate.py`` checks both give Alembic's schema."""
    from service.store.migrate import upgrade

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = Path(parsed.database or "")
        if not parsed.database or target.exists():
            upgrade(url)
            return
        shutil.copyfile(_sqlite_template(), target)
        return
    engine = create_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            raw.driver_connection.autocommit = True  # the script holds its own BEGIN / COMMIT
            cur = raw.cursor()
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")
            if cur.fetchone()[0]:
                upgrade(url)
                return
            cur.execute(_offline_sql("postgresql"))
        finally:
            raw.close()
    finally:
        engine.dispose()


def _sqlite_template() -> Path:
    with _TEMPLATE_LOCK:
        return _sqlite_template_once()


@cache
def _sqlite_template_once() -> Path:
    from service.store.migrate import upgrade

    folder = tempfile.mkdtemp(prefix="vecdex-template-")
    atexit.register(shutil.rmtree, folder, True)  # one per test process, gone when it ends
    path = Path(folder) / "template.db"
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:  # everything in the main file: only that file is copied
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    return path


@cache
def _offline_sql(dialect: str) -> str:
    from alembic import command

    from service.store.migrate import alembic_config

    config = alembic_config(f"{dialect}+psycopg://" if dialect == "postgresql" else f"{dialect}://")
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    return config.output_buffer.getvalue()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'vecdex.db'}"
