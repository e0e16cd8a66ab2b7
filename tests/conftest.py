"""Shared fixtures: a database per test on SQLite, and on PostgreSQL when VECDEX_TEST_DATABASE_URL is set.

PostgreSQL cases get a fresh schema each (search_path set per connection), so
they are isolated like the SQLite ones and leave nothing behind. Where no
PostgreSQL is configured they skip with the reason; with
VECDEX_REQUIRE_POSTGRES=1 (CI) an unreachable server is a failure instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
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
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vecdex.db'}"
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


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'vecdex.db'}"
