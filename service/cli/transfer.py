"""``vecdex collection export NAME FILE`` and ``vecdex collection import FILE``: a collection moved as one file.

Registered on the ``collection`` group by :func:`register` (called from the package), so this module
imports ``common`` only and no other group module.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from .common import JsonOption, cli_errors, print_json, vecdex

PROGRESS_EVERY_S = 2.0
"""Seconds between progress lines on a non-terminal stderr (logs stay short; a terminal updates in place)."""


def progress_printer(verb: str) -> Callable[[int, int], None]:
    """``progress(done, total)`` writing ``<verb>: done/total records`` to stderr: in place on a terminal,
    else a plain line at most every :data:`PROGRESS_EVERY_S` seconds (and the last one)."""
    terminal = sys.stderr.isatty()
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        final = total and done >= total
        if not final and now - last[0] < (0.2 if terminal else PROGRESS_EVERY_S):
            return
        last[0] = now
        line = f"{verb}: {done}/{total} records" if total else f"{verb}: {done} records"
        if terminal:
            sys.stderr.write("\r" + line + ("\n" if final else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    return report


def collection_export(
    name: str,
    file: Annotated[Path, typer.Argument(help="Where to write; gzip-compressed when the name ends in .gz.")],
) -> None:
    """Export a collection (documents, interactions, spaces with their models and stored vectors) to FILE."""
    vx = vecdex()
    with cli_errors():
        done = vx.transfer.export_to(collection=name, path=file, progress=progress_printer("export"))
    typer.echo(f"exported collection {name} to {done.path} ({done.bytes} bytes{', gzip' if done.gzip else ''})")


def collection_import(
    file: Annotated[Path, typer.Argument(help="A file written by `vecdex collection export` (plain or .gz).")],
    name: Annotated[Optional[str], typer.Option("--name", help="Import under this name (default: the file's).")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted import of this file (skips what is done).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import a collection file as a new collection; spaces whose models travelled are ready without re-embedding."""
    from .common import fail

    if not file.is_file():
        fail("invalid_file", f"{file} is not a readable file", "file")
    vx = vecdex()
    with cli_errors():
        result = vx.transfer.import_file(path=file, name=name, resume=resume, progress=progress_printer("import"))
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    skipped = ""
    if result.resumed:
        skipped = (
            f" (resumed: {result.documents_skipped} documents, {result.interactions_skipped} interactions skipped)"
        )
    typer.echo(
        f"imported collection {result.collection}: {result.documents} documents, {result.vectors} vectors, "
        f"{result.interactions} interactions{skipped}"
    )
    for space in result.spaces:
        how = f"ready ({space.reused} vectors reused, {space.embedded} embedded)" if space.carries == "model" else (
            f"build queued as job {space.job_id}" if space.job_id else "pending (build job queued earlier)"
        )
        typer.echo(f"space {space.name}: {how}")


def register(collection_app: typer.Typer) -> None:
    """Add ``export`` and ``import`` to the ``collection`` group."""
    collection_app.command("export")(collection_export)
    collection_app.command("import")(collection_import)
