"""``vecdex collection``: create, list and delete collections."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import JsonOption, cli_errors, print_json, print_rows, vecdex

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
def collection_list(as_json: JsonOption = False) -> None:
    """List collections with their document counts and default spaces."""
    views = vecdex().collections.list()
    if as_json:
        print_json([v.model_dump(mode="json") for v in views])
        return
    print_rows(
        "collections", ["name", "kind", "documents", "default space"],
        [[v.name, v.kind, str(v.document_count), v.default_space or "-"] for v in views],
        [f"{v.name}\t{v.kind}\t{v.document_count} documents\tdefault space: {v.default_space or '-'}" for v in views],
    )


@collection_app.command("delete")
def collection_delete(name: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Delete a collection with its documents, spaces and files."""
    vx = vecdex()
    if not yes:
        typer.confirm(f"delete collection {name} and everything in it?", abort=True)
    with cli_errors():
        vx.collections.delete(name=name)
    typer.echo(f"deleted collection {name}")
