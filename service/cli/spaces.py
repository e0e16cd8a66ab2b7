"""``vecdex space``: create, rebuild, list and delete spaces (embedder + index)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from .common import JsonOption, cli_errors, coerce, fail, print_json, print_rows, run_in_foreground, vecdex

space_app = typer.Typer(help="Create, rebuild, list and delete spaces (embedder + index).", no_args_is_help=True)


@space_app.command("create")
def space_create(
    collection: str,
    name: str,
    embedder: Annotated[str, typer.Option("--embedder", "-e", help="Family: word2vec, doc2vec, ...")],
    param: Annotated[
        Optional[list[str]], typer.Option("--param", "-p", help="Embedder parameter key=value (repeatable).")
    ] = None,
    index_kind: Annotated[str, typer.Option(help="auto, flat, hnsw or ivf")] = "auto",
    chunk: Annotated[
        Optional[str],
        typer.Option(help="Index passages: BY[:SIZE[:OVERLAP]], BY tokens or paragraphs (e.g. tokens:200:40)."),
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Make it the collection's default space.")] = False,
    wait: Annotated[bool, typer.Option(help="Train and index here with a progress bar (else leave it to a worker).")] = True,
) -> None:
    """Create a space and build it (train the embedder, embed every document, build the index)."""
    from ..space_schemas import SpaceCreate

    vx = vecdex()
    spec: dict[str, Any] = {"type": embedder}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail("invalid_input", f"expected key=value, got {item!r}", "--param")
        spec[key.strip()] = coerce(value)
    index: dict[str, Any] = {"kind": index_kind}
    if chunk:
        parts = chunk.split(":")
        if len(parts) > 3 or not all(p.strip() for p in parts):
            fail("invalid_input", f"expected BY[:SIZE[:OVERLAP]], got {chunk!r}", "--chunk")
        index["chunking"] = dict(zip(("by", "size", "overlap"), [parts[0], *(coerce(p) for p in parts[1:])]))
    with cli_errors():
        body = SpaceCreate.model_validate({"name": name, "embedder": spec, "index": index, "make_default": default})
        created = vx.spaces.create(collection=collection, body=body)
        space_id = vx.spaces.row_id(collection=collection, space=name)
    typer.echo(f"space {name} (id {space_id}) queued as job {created.job.id}")
    if wait:
        run_in_foreground(vx, created.job.id, label=name)


@space_app.command("rebuild")
def space_rebuild(
    collection: str,
    name: str,
    wait: Annotated[bool, typer.Option(help="Rebuild here with a progress bar (else leave it to a worker).")] = True,
) -> None:
    """Re-index a space with its own spec (retrain, re-embed, new index) as its next generation.

    The space stays ready and serving its current generation until the new one
    replaces it; a fixed (not trainable) embedder re-embeds only changed texts.
    """
    vx = vecdex()
    with cli_errors():
        created = vx.spaces.rebuild(collection=collection, space=name)
        space_id = vx.spaces.row_id(collection=collection, space=name)
    typer.echo(f"space {name} (id {space_id}) rebuild queued as job {created.job.id}")
    if wait:
        run_in_foreground(vx, created.job.id, label=name)


@space_app.command("list")
def space_list(collection: str, as_json: JsonOption = False) -> None:
    """List a collection's spaces and their status (* marks the default)."""
    with cli_errors():
        spaces = vecdex().spaces.list(collection=collection)
    if as_json:
        print_json([v.model_dump(mode="json") for v in spaces])
        return
    print_rows(
        f"spaces of {collection}", ["", "name", "family", "status", "dim", "index", "generation"],
        [["*" if v.is_default else "", v.name, v.embedder["type"], v.status, str(v.dim), str(v.index_kind),
          str(v.generation)] for v in spaces],
        [f"{'*' if v.is_default else ' '} {v.name}\t{v.embedder['type']}\t{v.status}\tdim={v.dim}"
         f"\tindex={v.index_kind}\tgeneration={v.generation}" for v in spaces],
    )


@space_app.command("delete")
def space_delete(collection: str, name: str) -> None:
    """Delete a space, its stored vectors and its files."""
    with cli_errors():
        vecdex().spaces.delete(collection=collection, space=name)
    typer.echo(f"deleted space {name}")
