"""Schema migrations as an explicit step (`vecdex db upgrade`), and the start-up check.

The app never migrates on its own: with several API processes against one
PostgreSQL, racing upgrades would be worse than refusing to start.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import migrations

from ..errors import SchemaOutOfDate


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the migrations package, wherever it is installed."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema(engine: Engine, url: str) -> None:
    """Raise SchemaOutOfDate (naming the command to run) unless the database is at head."""
    current = current_revision(engine)
    head = head_revision(url)
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at revision {current or 'none (empty database)'}, code expects {head}: "
            "run `vecdex db upgrade` first"
        )
