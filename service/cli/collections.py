"""``vecdex collection``: create, list and delete collections."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import cli_errors, vecdex

collection_app = typer.Typer(help="Create, list and delete collections.", no_args_is_help=True)


@collection_app.command("create")
def collection_create(
    name: str,
    kind: Annotated[str, typer.Option(help="documents or items")] = "documents",
    description: Optional[str] = None,
) -> None:
    """Create an empty collection."""
    from ..schemas import CollectionCreate

    vx = vecdex()
    with cli_errors():
        vx.collections.create(body=CollectionCreate(name=name, kind=kind, description=description))  # type: ignore[arg-type]
    typer.echo(f"created collection {name}")


@collection_app.command("list")
def collection_list() -> None:
    """List collections with their document counts and default spaces."""
    for v in vecdex().collections.list():
        typer.echo(f"{v.name}\t{v.kind}\t{v.document_count} documents\tdefault space: {v.default_space or '-'}")


@collection_app.command("delete")
def collection_delete(name: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Delete a collection with its documents, spaces and files."""
    vx = vecdex()
    if not yes:
        typer.confirm(f"delete collection {name} and everything in it?", abort=True)
    with cli_errors():
        vx.collections.delete(name=name)
    typer.echo(f"deleted collection {name}")
