"""``vecdex db``: schema migrations (no ``Vecdex`` here: the schema check is what they fix)."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the latest schema (run before the first `serve` and after upgrades)."""
    from ..store.migrate import upgrade
    from ..settings import get_settings

    url = get_settings().resolved_database_url
    upgrade(url, revision)
    typer.echo(f"database at {revision}: {_redact(url)}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and of the code."""
    from ..store.db import Database
    from ..store.migrate import current_revision, head_revision
    from ..settings import get_settings

    url = get_settings().resolved_database_url
    db = Database(url)
    try:
        typer.echo(f"database: {current_revision(db.engine) or 'empty'}  code: {head_revision(url)}")
    finally:
        db.dispose()


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
