"""The suite's fast path to a migrated test database (``tests.conftest.migrate``) gives exactly the schema
that Alembic's own upgrade gives, on each dialect: tables, columns with their types, nullability and
defaults, indexes, and the revision stamp. Without this, a test could pass against a schema no user has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from service.store.migrate import upgrade
from tests.conftest import migrate


def _schema(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        out: dict[str, Any] = {}
        for table in sorted(insp.get_table_names()):
            out[table] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in insp.get_columns(table)],
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)),
                "pk": insp.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted((f["referred_table"], tuple(f["constrained_columns"])) for f in insp.get_foreign_keys(table)),
            }
        with engine.connect() as conn:
            out["revision"] = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        return out
    finally:
        engine.dispose()


def _twin(url: str, tmp_path: Path) -> str:
    """A second fresh database beside ``url`` (another file; on PostgreSQL another schema of the fixture's)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'alembic.db'}"
    options = parsed.query["options"]
    schema = options.split("search_path=")[1]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}_a"'))
    engine.dispose()
    return parsed.update_query_dict({"options": f"-csearch_path={schema}_a"}).render_as_string(hide_password=False)


def test_the_fast_path_gives_alembics_schema(database_url: str, tmp_path: Path) -> None:
    migrate(database_url)
    other = _twin(database_url, tmp_path)
    try:
        upgrade(other)
        fast, slow = _schema(database_url), _schema(other)
        assert fast["revision"] == slow["revision"] and len(fast) > 5
        assert fast == slow
        # a database that already has tables is upgraded by Alembic, not overwritten
        migrate(database_url)
        assert _schema(database_url) == slow
    finally:
        if not other.startswith("sqlite"):
            engine = create_engine(database_url)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{make_url(other).query["options"].split("search_path=")[1]}" CASCADE'))
            engine.dispose()


def test_the_fast_path_database_takes_writes(database_url: str, tmp_path: Path) -> None:
    from service.facade import Vecdex
    from service.schemas import CollectionCreate
    from service.settings import Settings

    migrate(database_url)
    vx = Vecdex(Settings(data_dir=tmp_path / "data", database_url=database_url, embedded_worker=False))  # type: ignore[call-arg]
    try:
        vx.collections.create(body=CollectionCreate(name="a"))
        assert [c.name for c in vx.collections.list()] == ["a"]
    finally:
        vx.close()
