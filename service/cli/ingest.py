"""``vecdex ingest`` and ``vecdex ingest-interactions``: stream a file into a collection in batches.

Both share :func:`batch_then_lines`: a batch goes in one transaction, and a
refused batch is retried line by line so only the culprit lines are rejected
(reported as FILE:LINE) and the rest goes in.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import cli_errors, fail, vecdex

if TYPE_CHECKING:
    from ..facade import Vecdex

Reject = Callable[[int, str], None]


def batch_then_lines(batch: list[tuple[int, Any]], write: Callable[[list[Any], bool], None], reject: Reject) -> None:
    """Write a batch in one transaction; should it be refused (e.g. a metadata type clash), write its
    lines one by one, so only the culprits are rejected (by file line) and the rest goes in.

    ``write(records, single)`` does one transaction; ``single`` says a record is retried alone
    (its errors then name the record's own field rather than a batch position).
    """
    from ..errors import InvalidInput

    if not batch:
        return
    try:
        write([r for _, r in batch], False)
        return
    except InvalidInput:
        pass  # refused whole: find the offending line(s) below, write the rest
    for line, record in batch:
        try:
            write([record], True)
        except InvalidInput as exc:
            reject(line, exc.message)


def _rejecter(file: Path, stats: dict[str, int]) -> Reject:
    from tqdm import tqdm

    def reject(line: int, message: str) -> None:
        stats["rejected"] += 1
        tqdm.write(f"{file}:{line}: {message}", file=sys.stderr)

    return reject


def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Target collection.")],
    fmt: Annotated[str, typer.Option("--format", help="auto, jsonl, csv or text")] = "auto",
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500,
    create: Annotated[bool, typer.Option(help="Create the collection if it does not exist.")] = False,
) -> None:
    """Upsert documents from a JSONL, CSV or plain-text file (one document per line), by external id.

    Streams the file in batches; a bad line is reported with its line number and
    the rest goes in. Exit status 1 when any line was rejected.
    """
    from ..errors import NotFound
    from ..files.ingest_files import read_documents
    from ..schemas import CollectionCreate

    vx = vecdex()
    if fmt not in ("auto", "jsonl", "csv", "text"):
        fail("invalid_input", f"unknown format {fmt!r}; use auto, jsonl, csv or text", "--format")
    with cli_errors():
        try:
            kind = vx.collections.get(name=collection).kind
        except NotFound:
            if not create:
                raise
            kind = vx.collections.create(body=CollectionCreate(name=collection)).kind
    stats = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    reject = _rejecter(file, stats)
    # An items collection takes items without text (only an id and metadata).
    records = read_documents(file, fmt, require_text=kind != "items")  # type: ignore[arg-type]
    _stream(file, records, lambda r: r.document, lambda batch: _flush_documents(vx, collection, batch, stats, reject),
            reject, batch_size)
    typer.echo(
        f"{collection}: {stats['created']} created, {stats['updated']} updated, "
        f"{stats['unchanged']} unchanged, {stats['rejected']} rejected"
    )
    if stats["rejected"]:
        raise typer.Exit(1)


def _stream(
    file: Path, records: Any, value: Callable[[Any], Any], flush: Callable[[list[tuple[int, Any]]], None],
    reject: Reject, batch_size: int,
) -> None:
    """Read ``records`` (each with ``line`` and ``error``), reject the bad ones, write the rest in batches of
    ``batch_size`` through ``flush``; progress counts lines (blank lines and multi-line CSV records too), as a
    bar on a terminal and periodic lines in a pipe or a log."""
    from ..files.ingest_files import count_lines
    from ..runtime.progress import TqdmProgress

    total = count_lines(file)
    bar = TqdmProgress(f"ingest {file.name}")
    bar.start("lines", total)
    batch: list[tuple[int, Any]] = []
    done = 0
    try:
        for record in records:
            if record.error is not None:
                reject(record.line, record.error)
            else:
                batch.append((record.line, value(record)))
            if len(batch) >= batch_size:
                flush(batch)
                batch = []
            bar.advance(record.line - done)
            done = record.line
        flush(batch)
        bar.advance(total - done)
    finally:
        bar.close()


def _flush_documents(
    vx: Vecdex, collection: str, batch: list[tuple[int, Any]], stats: dict[str, int], reject: Reject
) -> None:
    """Write one batch of documents; a record retried alone names its own fields (``document.metadata.x``)."""

    def write(docs: list[Any], single: bool) -> None:
        r = vx.documents.write(collection=collection, documents=docs, field_prefix="document" if single else None)
        stats["created"] += r.created
        stats["updated"] += r.updated
        stats["unchanged"] += r.unchanged

    batch_then_lines(batch, write, reject)


def ingest_interactions(
    collection: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[str, typer.Option("--format", help="auto, csv or jsonl")] = "auto",
    unknown_items: Annotated[
        str, typer.Option("--unknown-items", help="reject (report the line) or create (add an empty item)")
    ] = "reject",
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
) -> None:
    """Record user interactions (user, item, timestamp[, event][, weight]) from a CSV or JSONL file.

    The collection must be of kind items. Streams the file in batches; a bad
    line (or, with --unknown-items reject, a line naming an item the collection
    lacks) is reported as FILE:LINE and the rest goes in. Exit status 1 when
    any line was rejected.
    """
    from ..files.interaction_files import read_interactions

    vx = vecdex()
    if unknown_items not in ("reject", "create"):
        fail("invalid_input", f"unknown value {unknown_items!r}; use reject or create", "--unknown-items")
    with cli_errors():
        records = read_interactions(file, fmt)
        vx.interactions.require_items(collection=collection)
    stats = {"inserted": 0, "created_items": 0, "rejected": 0}
    reject = _rejecter(file, stats)
    _stream(file, records, lambda r: r.interaction,
            lambda batch: _flush_interactions(vx, collection, batch, unknown_items, stats, reject), reject, batch_size)
    typer.echo(
        f"{collection}: inserted {stats['inserted']} interactions, created {stats['created_items']} items, "
        f"rejected {stats['rejected']} lines"
    )
    if stats["rejected"]:
        raise typer.Exit(1)


def _flush_interactions(
    vx: Vecdex, collection: str, batch: list[tuple[int, Any]], unknown_items: str, stats: dict[str, int], reject: Reject
) -> None:
    """Write one batch (one transaction).

    With ``reject``, unknown items are resolved per line first, so only their
    lines are refused and the rest of the batch goes in. Should the batch still
    be refused (an item deleted meanwhile), it is retried line by line.
    """
    if not batch:
        return
    good = batch
    if unknown_items == "reject":
        known = vx.interactions.known_items(collection=collection, external_ids=(r.item for _, r in batch))
        good = [(line, r) for line, r in batch if r.item in known]
        for line, r in batch:
            if r.item not in known:
                reject(line, f"item {r.item!r} is not in collection {collection!r} (--unknown-items create adds it)")

    def write(records: list[Any], single: bool) -> None:
        result = vx.interactions.write(collection=collection, records=records, unknown_items=unknown_items)  # type: ignore[arg-type]
        stats["inserted"] += result.inserted
        stats["created_items"] += result.created_items

    batch_then_lines(good, write, reject)


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command("ingest-interactions")(ingest_interactions)
