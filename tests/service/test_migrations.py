"""Migrations are an explicit step; the schema they build is the one the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from service.api import create_app
from service.store.db import Database
from service.store.migrate import alembic_config, current_revision, head_revision, upgrade
from service.store.models import Base
from tests.service.conftest import make_settings


def test_upgrade_matches_models_and_downgrades(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url)
    try:
        assert current_revision(db.engine) == head_revision(database_url)
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        command.downgrade(alembic_config(database_url), "base")
        assert current_revision(db.engine) is None
        upgrade(database_url)
        assert current_revision(db.engine) == head_revision(database_url)
    finally:
        db.dispose()


def test_readyz_reports_out_of_date_schema(tmp_path: Path, sqlite_url: str) -> None:
    upgrade(sqlite_url)
    app = create_app(make_settings(tmp_path, sqlite_url), run_worker=False)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        command.downgrade(alembic_config(sqlite_url), "base")
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "schema_out_of_date" and "vecdex db upgrade" in r.json()["error"]["message"]


def test_api_keys_migration_goes_down_and_up(database_url: str) -> None:
    """0006 adds api_keys alone: down to 0005 drops it (and nothing else), up brings it back."""
    from sqlalchemy import inspect

    upgrade(database_url)
    db = Database(database_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
        assert "api_keys" in tables
        uniques = {tuple(u["column_names"]) for u in inspect(db.engine).get_unique_constraints("api_keys")}
        assert {("name",), ("secret_hash",)} <= uniques
        command.downgrade(alembic_config(database_url), "0005")
        assert current_revision(db.engine) == "0005"
        assert set(inspect(db.engine).get_table_names()) == tables - {"api_keys"}
        upgrade(database_url)
        assert current_revision(db.engine) == head_revision(database_url) == "0007"
        assert "api_keys" in inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def test_similarity_weights_migration_goes_down_and_up(database_url: str) -> None:
    """0007 adds collections.similarity_weights alone; down to 0006 drops that column and keeps the rows."""
    from sqlalchemy import inspect, text

    upgrade(database_url)
    db = Database(database_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO collections (name, kind, metadata_schema, created_at) "
                              "VALUES ('mig7', 'documents', '{}', CURRENT_TIMESTAMP)"))
        columns = {c["name"] for c in inspect(db.engine).get_columns("collections")}
        assert "similarity_weights" in columns
        command.downgrade(alembic_config(database_url), "0006")
        after = {c["name"] for c in inspect(db.engine).get_columns("collections")}
        assert after == columns - {"similarity_weights"}
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM collections WHERE name = 'mig7'")).scalar() == 1
        upgrade(database_url)
        assert "similarity_weights" in {c["name"] for c in inspect(db.engine).get_columns("collections")}
    finally:
        db.dispose()
