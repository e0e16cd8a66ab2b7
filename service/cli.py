"""The ``vecdex`` command line (typer).

Commands import what they need inside their bodies so ``vecdex --help``
answers without loading gensim or FAISS. Every known error ends as one line
``error [code] field: message`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

app = typer.Typer(help="vecdex: embedding and vector search over one SQL source of truth.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
collection_app = typer.Typer(help="Create, list and delete collections.", no_args_is_help=True)
space_app = typer.Typer(help="Create, rebuild, list and delete spaces (embedder + index).", no_args_is_help=True)
jobs_app = typer.Typer(help="List, show and cancel jobs.", no_args_is_help=True)
item2vec_app = typer.Typer(help="Evaluate and tune item2vec on a collection's interactions.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(collection_app, name="collection")
app.add_typer(space_app, name="space")
app.add_typer(jobs_app, name="jobs")
app.add_typer(item2vec_app, name="item2vec")


def _register_eval() -> None:
    from .eval_cli import eval_app

    app.add_typer(eval_app, name="eval")


def fail(code: str, message: str, field: str | None = None) -> None:
    typer.secho(f"error [{code}] {field + ': ' if field else ''}{message}", err=True, fg="red")
    raise typer.Exit(2)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn any vecdex error (one tree) and pydantic validation errors into a one-line CLI error."""
    from pydantic import ValidationError

    from .errors import VecdexError

    try:
        yield
    except VecdexError as exc:
        fail(exc.code, exc.message, exc.field)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        fail("invalid_input", first["msg"], field)


def _state():  # type: ignore[no-untyped-def]
    from .db import Database
    from .migrate import check_schema
    from .settings import get_settings

    settings = get_settings()
    db = Database(settings.resolved_database_url)
    with cli_errors():
        check_schema(db.engine, db.url)
    return settings, db


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


# ----------------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the latest schema (run before the first `serve` and after upgrades)."""
    from .migrate import upgrade
    from .settings import get_settings

    url = get_settings().resolved_database_url
    upgrade(url, revision)
    typer.echo(f"database at {revision}: {_redact(url)}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and of the code."""
    from .db import Database
    from .migrate import current_revision, head_revision
    from .settings import get_settings

    url = get_settings().resolved_database_url
    typer.echo(f"database: {current_revision(Database(url).engine) or 'empty'}  code: {head_revision(url)}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ----------------------------------------------------------------------------- serve / worker


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    worker: Annotated[bool, typer.Option(help="Run a job worker thread in this process.")] = True,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from .api import create_app

    settings, _ = _state()
    uvicorn.run(create_app(settings, run_worker=worker), host=host, port=port, log_level="info")


@app.command("worker")
def worker_cmd() -> None:
    """Run queued jobs until interrupted (the docker-compose worker)."""
    from .jobs import Worker

    settings, db = _state()
    w = Worker(db, settings.spaces_dir, settings.worker_poll_seconds, settings.job_heartbeat_timeout)
    typer.echo("worker polling for jobs; Ctrl-C to stop")
    w.start()
    try:
        while w.is_alive():
            w.join(1.0)
    except KeyboardInterrupt:
        w.stop()


# ----------------------------------------------------------------------------- collections


@collection_app.command("create")
def collection_create(
    name: str,
    kind: Annotated[str, typer.Option(help="documents or items")] = "documents",
    description: Optional[str] = None,
) -> None:
    """Create an empty collection."""
    from .repository import create_collection
    from .schemas import CollectionCreate

    _, db = _state()
    with cli_errors():
        body = CollectionCreate(name=name, kind=kind, description=description)  # type: ignore[arg-type]
        with db.session() as session:
            create_collection(session, body.name, body.kind, body.description)
    typer.echo(f"created collection {name}")


@collection_app.command("list")
def collection_list() -> None:
    """List collections with their document counts and default spaces."""
    from .repository import list_collections
    from .views import collection_view

    _, db = _state()
    with db.session() as session:
        for c in list_collections(session):
            v = collection_view(session, c)
            typer.echo(f"{v.name}\t{v.kind}\t{v.document_count} documents\tdefault space: {v.default_space or '-'}")


@collection_app.command("delete")
def collection_delete(name: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Delete a collection with its documents, spaces and files."""
    from .repository import delete_collection_rows, get_collection
    from .spaces import SpaceRuntimes

    settings, db = _state()
    if not yes:
        typer.confirm(f"delete collection {name} and everything in it?", abort=True)
    with cli_errors():
        with db.session() as session:
            space_ids = delete_collection_rows(session, get_collection(session, name))
    runtimes = SpaceRuntimes(db, settings.spaces_dir, settings.snapshot_every)
    for space_id in space_ids:
        runtimes.forget(space_id, delete_files=True)
    typer.echo(f"deleted collection {name}")


# ----------------------------------------------------------------------------- ingest


@app.command()
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
    from tqdm import tqdm

    from .errors import NotFound
    from .ingest_files import count_lines, read_documents
    from .repository import create_collection, get_collection

    _, db = _state()
    if fmt not in ("auto", "jsonl", "csv", "text"):
        fail("invalid_input", f"unknown format {fmt!r}; use auto, jsonl, csv or text", "--format")
    with cli_errors():
        with db.session() as session:
            try:
                kind = get_collection(session, collection).kind
            except NotFound:
                if not create:
                    raise
                kind = create_collection(session, collection).kind
    stats = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    batch: list[tuple[int, Any]] = []
    with tqdm(total=count_lines(file), unit=" lines", desc=f"ingest {file.name}", dynamic_ncols=True) as bar:
        # An items collection takes items without text (only an id and metadata).
        for record in read_documents(file, fmt, require_text=kind != "items"):  # type: ignore[arg-type]
            if record.error is not None:
                stats["rejected"] += 1
                tqdm.write(f"{file}:{record.line}: {record.error}", file=sys.stderr)
            else:
                batch.append((record.line, record.document))
            if len(batch) >= batch_size:
                _flush(db, collection, batch, stats, file)
                batch = []
            bar.update(record.line - bar.n)  # lines, not records: blank lines and multi-line CSV count too
        _flush(db, collection, batch, stats, file)
        bar.update(bar.total - bar.n)
    typer.echo(
        f"{collection}: {stats['created']} created, {stats['updated']} updated, "
        f"{stats['unchanged']} unchanged, {stats['rejected']} rejected"
    )
    if stats["rejected"]:
        raise typer.Exit(1)


def _batch_then_lines(
    batch: list[tuple[int, Any]], write: Callable[[list[Any], bool], None], reject: Callable[[int, str], None]
) -> None:
    """Write a batch in one transaction; should it be refused (e.g. a metadata type clash), write its
    lines one by one, so only the culprits are rejected (by file line) and the rest goes in.

    ``write(records, single)`` does one transaction; ``single`` says a record is retried alone
    (its errors then name the record's own field rather than a batch position).
    """
    from .errors import InvalidInput

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


def _flush(db, collection: str, batch: list[tuple[int, Any]], stats: dict[str, int], file: Path) -> None:  # type: ignore[no-untyped-def]
    """Write one batch of documents, naming rejected lines as FILE:LINE."""
    from tqdm import tqdm

    from .repository import upsert_documents

    def write(docs: list[Any], single: bool) -> None:
        with db.session() as session:
            r = upsert_documents(session, collection, docs, **({"field_prefix": "document"} if single else {}))
        stats["created"] += r.created
        stats["updated"] += r.updated
        stats["unchanged"] += r.unchanged

    def reject(line: int, message: str) -> None:
        stats["rejected"] += 1
        tqdm.write(f"{file}:{line}: {message}", file=sys.stderr)

    _batch_then_lines(batch, write, reject)


@app.command("ingest-interactions")
def ingest_interactions_cmd(
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
    from tqdm import tqdm

    from .interaction_files import read_interactions
    from .ingest_files import count_lines
    from .interactions import require_items
    from .repository import get_collection

    _, db = _state()
    if unknown_items not in ("reject", "create"):
        fail("invalid_input", f"unknown value {unknown_items!r}; use reject or create", "--unknown-items")
    with cli_errors():
        records = read_interactions(file, fmt)
        with db.session() as session:
            require_items(get_collection(session, collection))
    stats = {"inserted": 0, "created_items": 0, "rejected": 0}
    batch: list[tuple[int, Any]] = []

    def reject(line: int, message: str) -> None:
        stats["rejected"] += 1
        tqdm.write(f"{file}:{line}: {message}", file=sys.stderr)

    with tqdm(total=count_lines(file), unit=" lines", desc=f"ingest {file.name}", dynamic_ncols=True) as bar:
        for record in records:
            if record.error is not None:
                reject(record.line, record.error)
            else:
                batch.append((record.line, record.interaction))
            if len(batch) >= batch_size:
                _flush_interactions(db, collection, batch, unknown_items, stats, reject)
                batch = []
            bar.update(record.line - bar.n)
        _flush_interactions(db, collection, batch, unknown_items, stats, reject)
        bar.update(bar.total - bar.n)
    typer.echo(
        f"{collection}: inserted {stats['inserted']} interactions, created {stats['created_items']} items, "
        f"rejected {stats['rejected']} lines"
    )
    if stats["rejected"]:
        raise typer.Exit(1)


def _flush_interactions(  # type: ignore[no-untyped-def]
    db, collection: str, batch: list[tuple[int, Any]], unknown_items: str, stats: dict[str, int], reject
) -> None:
    """Write one batch (one transaction).

    With ``reject``, unknown items are resolved per line first, so only their
    lines are refused and the rest of the batch goes in. Should the batch still
    be refused (an item deleted meanwhile), it is retried line by line.
    """
    from .interactions import ingest_interactions, known_items
    from .repository import get_collection

    if not batch:
        return
    good = batch
    if unknown_items == "reject":
        with db.session() as session:
            known = known_items(session, get_collection(session, collection).id, (r.item for _, r in batch))
        good = [(line, r) for line, r in batch if r.item in known]
        for line, r in batch:
            if r.item not in known:
                reject(line, f"item {r.item!r} is not in collection {collection!r} (--unknown-items create adds it)")

    def write(records: list[Any], single: bool) -> None:
        with db.session() as session:
            result = ingest_interactions(session, collection, records, unknown_items)  # type: ignore[arg-type]
        stats["inserted"] += result.inserted
        stats["created_items"] += result.created_items

    _batch_then_lines(good, write, reject)


# ----------------------------------------------------------------------------- spaces


def _coerce(value: str) -> Any:
    """CLI parameter values: JSON when it parses (numbers, booleans, lists), else the plain string."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


@space_app.command("create")
def space_create(
    collection: str,
    name: str,
    embedder: Annotated[str, typer.Option("--embedder", "-e", help="Family: word2vec, doc2vec, ...")],
    param: Annotated[
        Optional[list[str]], typer.Option("--param", "-p", help="Embedder parameter key=value (repeatable).")
    ] = None,
    index_kind: Annotated[str, typer.Option(help="auto, flat, hnsw or ivf")] = "auto",
    default: Annotated[bool, typer.Option("--default", help="Make it the collection's default space.")] = False,
    wait: Annotated[bool, typer.Option(help="Train and index here with a progress bar (else leave it to a worker).")] = True,
) -> None:
    """Create a space and build it (train the embedder, embed every document, build the index)."""
    from .space_schemas import SpaceCreate

    settings, db = _state()
    spec: dict[str, Any] = {"type": embedder}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail("invalid_input", f"expected key=value, got {item!r}", "--param")
        spec[key.strip()] = _coerce(value)
    with cli_errors():
        body = SpaceCreate.model_validate(
            {"name": name, "embedder": spec, "index": {"kind": index_kind}, "make_default": default}
        )
        from .space_admin import create_space

        space_id, job_id = create_space(db, collection, body)
    typer.echo(f"space {name} (id {space_id}) queued as job {job_id}")
    if wait:
        _run_in_foreground(db, settings.spaces_dir, job_id, label=name)


def _run_in_foreground(db, spaces_root: Path, job_id: int, label: str) -> None:  # type: ignore[no-untyped-def]
    from .jobs import claim, run_job, worker_name
    from .progress import TqdmProgress

    if not claim(db, job_id, worker_name() + ":cli"):
        typer.echo(f"job {job_id} was taken by a worker; follow it with `vecdex jobs show {job_id}`")
        return
    bar = TqdmProgress(label)
    job = run_job(db, spaces_root, job_id, echo=bar)
    bar.close()
    if job.status != "succeeded":
        err = job.error or {}
        fail(err.get("code", job.status), err.get("message", f"job {job.status}"), err.get("field"))
    typer.echo(f"space {label} ready{_job_result(db, job)}")


def _job_result(db, job) -> str:  # type: ignore[no-untyped-def]
    """' (generation 1; embedded 20, reused 0)': the generation now served and how its vectors were obtained."""
    from .models import Space

    with db.sessions() as session:
        space = session.get(Space, job.space_id) if job.space_id is not None else None
    parts = [f"generation {space.generation}"] if space is not None else []
    figures = {k: job.metrics[k] for k in ("embedded", "reused", "from_training") if k in (job.metrics or {})}
    if figures:
        parts.append(", ".join(f"{k} {v}" for k, v in figures.items()))
    return f" ({'; '.join(parts)})" if parts else ""


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
    from .space_admin import rebuild_space

    settings, db = _state()
    with cli_errors():
        space_id, job_id = rebuild_space(db, collection, name)
    typer.echo(f"space {name} (id {space_id}) rebuild queued as job {job_id}")
    if wait:
        _run_in_foreground(db, settings.spaces_dir, job_id, label=name)


@space_app.command("list")
def space_list(collection: str) -> None:
    """List a collection's spaces and their status."""
    from .repository import get_collection, list_spaces
    from .views import space_view

    _, db = _state()
    with cli_errors(), db.session() as session:
        c = get_collection(session, collection)
        for s in list_spaces(session, c):
            v = space_view(c, s)
            mark = "*" if v.is_default else " "
            typer.echo(
                f"{mark} {v.name}\t{v.embedder['type']}\t{v.status}\tdim={v.dim}\tindex={v.index_kind}"
                f"\tgeneration={v.generation}"
            )


@space_app.command("delete")
def space_delete(collection: str, name: str) -> None:
    """Delete a space, its stored vectors and its files."""
    from .space_admin import delete_space
    from .spaces import SpaceRuntimes

    settings, db = _state()
    with cli_errors(), db.session() as session:
        space_id = delete_space(session, collection, name)
    SpaceRuntimes(db, settings.spaces_dir, settings.snapshot_every).forget(space_id, delete_files=True)
    typer.echo(f"deleted space {name}")


# ----------------------------------------------------------------------------- search


@app.command()
def search(
    collection: str,
    query: str,
    k: Annotated[int, typer.Option("--k", "-k")] = 10,
    space: Annotated[Optional[str], typer.Option(help="Space name (default: the collection's default).")] = None,
    filter_: Annotated[
        Optional[list[str]], typer.Option("--filter", "-f", help="Metadata equality key=value (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as JSON.")] = False,
    ef_search: Annotated[
        Optional[int], typer.Option("--ef-search", help="HNSW efSearch for this query (default: the space's).")
    ] = None,
    nprobe: Annotated[Optional[int], typer.Option(help="IVF lists probed for this query (default: the space's).")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Exhaustive search (ground truth for recall).")] = False,
) -> None:
    """Search a collection's space for the documents nearest to QUERY."""
    from indexers.base import SearchParams

    from .search import Searcher
    from .spaces import SpaceRuntimes

    settings, db = _state()
    where: dict[str, Any] = {}
    for item in filter_ or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail("invalid_input", f"expected key=value, got {item!r}", "--filter")
        where[key.strip()] = _coerce(value)
    with cli_errors():
        params = SearchParams(ef_search=ef_search, nprobe=nprobe, exact=exact)
    searcher = Searcher(db, SpaceRuntimes(db, settings.spaces_dir, settings.snapshot_every), settings.max_k)
    with cli_errors():
        space_name, hits = searcher.search(collection, query, k, where, space, 160, params)
    if as_json:
        _print_json({"space": space_name, "hits": [h.model_dump() for h in hits]})
        return
    typer.echo(f"space {space_name}:")
    for rank, h in enumerate(hits, 1):
        snippet = " ".join(h.text.split())[:100]
        typer.echo(f"{rank:>3}. {h.score:.4f}  {h.external_id}  {snippet}")


@app.command()
def compare(
    collection: str,
    query: str,
    space: Annotated[
        Optional[list[str]], typer.Option("--space", "-s", help="Space to compare (repeatable; default: all ready).")
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k")] = 5,
    filter_: Annotated[
        Optional[list[str]], typer.Option("--filter", "-f", help="Metadata equality key=value (repeatable).")
    ] = None,
    width: Annotated[int, typer.Option(help="Column width per space.")] = 28,
    as_json: Annotated[bool, typer.Option("--json", help="Print results and overlaps as JSON.")] = False,
) -> None:
    """Run QUERY in several spaces and print their top-k side by side, with pairwise overlaps (Jaccard)."""
    from .search import Searcher
    from .spaces import SpaceRuntimes

    settings, db = _state()
    where = _key_values(filter_, "--filter")
    searcher = Searcher(db, SpaceRuntimes(db, settings.spaces_dir, settings.snapshot_every), settings.max_k)
    with cli_errors():
        results, overlap = searcher.compare(collection, query, k, where, space or None, 160)
    if as_json:
        _print_json({"results": {n: [h.model_dump() for h in hits] for n, hits in results.items()}, "overlap": overlap})
        return
    typer.echo(_side_by_side(results, k, width))
    for pair, value in overlap.items():
        typer.echo(f"overlap {pair.replace('|', ' / ')}: {value:.2f}")


@app.command()
def hybrid(
    collection: str,
    query: str,
    space: Annotated[
        Optional[list[str]], typer.Option("--space", "-s", help="Space to fuse (repeatable; default: all ready).")
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k")] = 10,
    fusion: Annotated[str, typer.Option(help="rrf (reciprocal rank fusion) or weighted (min-max scores).")] = "rrf",
    weight: Annotated[
        Optional[list[str]], typer.Option("--weight", "-w", help="space=weight (repeatable; default 1 each).")
    ] = None,
    rrf_k: Annotated[float, typer.Option("--rrf-k", help="RRF's rank constant.")] = 60.0,
    candidates: Annotated[
        Optional[int], typer.Option(help="Hits taken from each space before fusing (default max(k, 50)).")
    ] = None,
    filter_: Annotated[
        Optional[list[str]], typer.Option("--filter", "-f", help="Metadata equality key=value (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fused hits as JSON.")] = False,
) -> None:
    """One ranking fused from several spaces' rankings of QUERY (e.g. bm25 + bert), as POST .../hybrid does."""
    from .schemas import HybridRequest
    from .search import Searcher
    from .spaces import SpaceRuntimes

    settings, db = _state()
    where = _key_values(filter_, "--filter")
    weights = _key_values(weight, "--weight")
    with cli_errors():
        body = HybridRequest.model_validate(
            {
                "query": query,
                "k": k,
                "spaces": space or None,
                "fusion": fusion,
                "weights": weights,
                "rrf_k": rrf_k,
                "candidates": candidates,
                "filter": where,
            }
        )
        searcher = Searcher(db, SpaceRuntimes(db, settings.spaces_dir, settings.snapshot_every), settings.max_k)
        names, hits = searcher.hybrid(
            collection, body.query, body.k, body.filter, body.spaces, body.fusion, body.weights, body.rrf_k,
            body.candidates, 160,
        )
    if as_json:
        _print_json({"fusion": body.fusion, "spaces": names, "hits": [h.model_dump() for h in hits]})
        return
    typer.echo(f"{body.fusion} over {', '.join(names)}:")
    for rank, h in enumerate(hits, 1):
        where_ranked = "  ".join(f"{n}#{r.rank}" for n, r in h.spaces.items())
        snippet = " ".join(h.text.split())[:60]
        typer.echo(f"{rank:>3}. {h.score:.4f}  {h.external_id}  [{where_ranked}]  {snippet}")


def _side_by_side(results: dict[str, list[Any]], k: int, width: int) -> str:
    """Columns of ``external_id (score)``, one per space, one row per rank."""

    def cell(text: str) -> str:
        return (text if len(text) <= width else text[: width - 1] + "…").ljust(width)

    lines = ["     " + "  ".join(cell(name) for name in results)]
    rows = max((len(h) for h in results.values()), default=0)
    for rank in range(min(rows, k)):
        cells = [
            cell(f"{hits[rank].external_id} ({hits[rank].score:.3f})") if rank < len(hits) else cell("")
            for hits in results.values()
        ]
        lines.append(f"{rank + 1:>3}. " + "  ".join(cells))
    return "\n".join(line.rstrip() for line in lines)


# ----------------------------------------------------------------------------- recommend


def _key_values(items: Optional[list[str]], option: str) -> dict[str, Any]:
    """``key=value`` options (``--filter``, ``--param``) as a dict, values parsed like `search` parses filters."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail("invalid_input", f"expected key=value, got {item!r}", option)
        out[key.strip()] = _coerce(value)
    return out


def _short(metadata: dict[str, Any], width: int = 60) -> str:
    text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), default=str) if metadata else "-"
    return text if len(text) <= width else text[: width - 3] + "..."


@app.command()
def recommend(
    collection: str,
    positive: Annotated[
        Optional[list[str]], typer.Option("--positive", help="An item to recommend from (repeatable).")
    ] = None,
    negative: Annotated[
        Optional[list[str]], typer.Option("--negative", help="An item to steer away from (repeatable).")
    ] = None,
    user: Annotated[
        Optional[str], typer.Option("--user", help="Recommend from this user's recent history instead.")
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k")] = 10,
    strategy: Annotated[str, typer.Option(help="average or best_score")] = "average",
    filter_: Annotated[
        Optional[list[str]], typer.Option("--filter", "-f", help="Metadata equality key=value (repeatable).")
    ] = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="An item never to return (repeatable).")] = None,
    space: Annotated[Optional[str], typer.Option(help="An item2vec space (default: the collection's default).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the response as JSON.")] = False,
) -> None:
    """Recommend items of an items collection from example items (--positive/--negative) or a --user's history."""
    from .recommend import Recommender
    from .recommend_schemas import RecommendRequest, UserRecommendRequest
    from .spaces import SpaceRuntimes

    settings, db = _state()
    where = _key_values(filter_, "--filter")
    if strategy not in ("average", "best_score"):
        fail("invalid_input", f"unknown strategy {strategy!r}; use average or best_score", "--strategy")
    if user is not None and (positive or negative or exclude):
        fail(
            "invalid_input",
            "--user recommends from the user's history (seen items left out); "
            "--positive, --negative and --exclude go without it",
            "--user",
        )
    if user is None and not positive:
        fail("invalid_input", "give at least one --positive ITEM, or --user USER", "--positive")
    recommender = Recommender(db, SpaceRuntimes(db, settings.spaces_dir, settings.snapshot_every), settings.max_k)
    with cli_errors():
        if user is not None:
            body = UserRecommendRequest(k=k, strategy=strategy, filter=where, space=space, snippet_chars=160)  # type: ignore[arg-type]
            response = recommender.for_user(collection, user, body)
        else:
            request = RecommendRequest(
                positive=list(positive or []),  # type: ignore[arg-type]
                negative=list(negative or []),
                exclude=list(exclude or []),
                k=k,
                strategy=strategy,  # type: ignore[arg-type]
                filter=where,
                space=space,
                snippet_chars=160,
            )
            response = recommender.recommend(collection, request)
    if as_json:
        _print_json(response.model_dump(mode="json"))
        return
    typer.echo(f"space {response.space} ({response.strategy}):")
    if response.cold_examples:
        typer.echo(f"  served from text space {response.cold_start_space}: {', '.join(response.cold_examples)}")
    if not response.hits:
        typer.echo("  no recommendation (every candidate filtered out or excluded)")
    width = max((len(h.external_id) for h in response.hits), default=0)
    for rank, h in enumerate(response.hits, 1):
        typer.echo(f"{rank:>3}. {h.score:.4f}  {h.external_id:<{width}}  {h.source:<8}  {_short(h.metadata)}")


# ----------------------------------------------------------------------------- item2vec evaluate / tune


SpaceOption = Annotated[
    Optional[str], typer.Option("--space", help="Train with this item2vec space's spec (else item2vec defaults).")
]
ParamOption = Annotated[
    Optional[list[str]], typer.Option("--param", "-p", help="Spec parameter key=value over the base spec (repeatable).")
]


def _metrics_table(methods: dict[str, Any], k: int) -> list[str]:
    lines = [f"{'method':<15}{'HR@' + str(k):>9}{'MRR@' + str(k):>9}{'nDCG@' + str(k):>9}{'coverage':>10}{'cases':>7}"]
    for name, m in methods.items():
        lines.append(f"{name:<15}{m.hit_rate:>9.3f}{m.mrr:>9.3f}{m.ndcg:>9.3f}{m.coverage:>10.3f}{m.cases:>7}")
    return lines


@item2vec_app.command("evaluate")
def item2vec_evaluate(
    collection: str,
    space: SpaceOption = None,
    param: ParamOption = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1)] = 10,
    test_fraction: Annotated[
        float, typer.Option(help="Share of the latest interactions held out (the time cutoff is this quantile).")
    ] = 0.1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Next-item HR@k, MRR@k, nDCG@k and coverage of item2vec vs popularity and co-occurrence.

    Splits the collection's interactions by time, trains a fresh item2vec model on
    the events before the cutoff (never a space's own model: it saw the test
    events) and asks each method for every test user's last item from their history.
    """
    from .item2vec_reports import evaluate_source, iso, load_source
    from .progress import TqdmProgress

    _, db = _state()
    overrides = _key_values(param, "--param")
    with cli_errors():
        source = load_source(db, collection, space, overrides)
        bar = TqdmProgress("item2vec")
        try:
            report = evaluate_source(source, k, test_fraction, bar)
        finally:
            bar.close()
    if as_json:
        _print_json(report.as_dict())
        return
    base = f"space {report.space}" if report.space else "item2vec defaults"
    changes = f" with {', '.join(f'{k_}={v}' for k_, v in overrides.items())}" if overrides else ""
    typer.echo(f"{collection}: next-item prediction at k={k} ({base}{changes})")
    typer.echo(
        f"interactions {report.interactions:,}, trained on {report.train_interactions:,} before "
        f"{iso(report.cutoff)}; {report.cases:,} test cases; item2vec trained in {report.train_seconds:.2f} s"
    )
    for line in _metrics_table(report.methods, k):
        typer.echo(line)
    if report.few_cases:
        typer.secho(
            f"only {report.cases} test cases: one hit moves HR@{k} by {1 / report.cases:.1%}; read the figures as rough",
            err=True,
            fg="yellow",
        )


@item2vec_app.command("tune")
def item2vec_tune(
    collection: str,
    space: SpaceOption = None,
    param: ParamOption = None,
    budget: Annotated[float, typer.Option(help="Seconds to search for (a running trial finishes).", min=0)] = 60.0,
    k: Annotated[int, typer.Option("--k", "-k", min=1)] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the random search.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Random search of item2vec's training parameters within a time budget, scored by nDCG@k.

    Trials train on the interactions before a validation cutoff and are scored on
    the users after it; the latest test fraction is never looked at, so
    `vecdex item2vec evaluate` can judge the chosen spec honestly afterwards.
    """
    import shlex

    from .item2vec_reports import create_command, load_source, param_args, tune_source
    from .progress import TqdmProgress

    _, db = _state()
    overrides = _key_values(param, "--param")
    with cli_errors():
        source = load_source(db, collection, space, overrides)
        bar = TqdmProgress(collection)  # phase "tune", in seconds of the budget; trial and best nDCG as postfix
        try:
            report = tune_source(source, budget, k, bar, seed=seed)
        finally:
            bar.close()
    if as_json:
        _print_json(report.as_dict())
        return
    trials = sorted(report.trials, key=lambda t: (-t["ndcg"], -t["hit_rate"], t["trial"]))
    typer.echo(
        f"{collection}: {len(report.trials)} trials in {report.seconds:.1f} s "
        f"(validation split inside the training part; top {min(10, len(trials))} by nDCG@{k})"
    )
    typer.echo(f"{'#':>4}{'nDCG@' + str(k):>9}{'HR@' + str(k):>8}{'MRR@' + str(k):>9}{'cover':>7}{'s':>7}  changes")
    for t in trials[:10]:
        changes = ", ".join(f"{k_}={v}" for k_, v in t["changes"].items()) or "(base spec)"
        typer.echo(
            f"{t['trial']:>4}{t['ndcg']:>9.3f}{t['hit_rate']:>8.3f}{t['mrr']:>9.3f}{t['coverage']:>7.3f}"
            f"{t['seconds']:>7.1f}  {changes}"
        )
    typer.echo("best spec:")
    _print_json(report.best_spec.model_dump(mode="json"))
    if not report.best_changes():
        typer.echo("no trial beat the base spec on the validation split")
    typer.echo(
        f"check it on the held-out test split:  vecdex item2vec evaluate {shlex.quote(collection)} "
        f"{param_args(report.best_spec)}".rstrip()
    )
    typer.echo(f"build a space with it:  {create_command(collection, report.best_spec, 'NAME')}")


# ----------------------------------------------------------------------------- jobs


@jobs_app.command("list")
def jobs_list(status: Optional[str] = None, limit: int = 20) -> None:
    """The most recent jobs."""
    from sqlalchemy import select

    from .models import Job
    from .views import job_view

    _, db = _state()
    with db.session() as session:
        stmt = select(Job).order_by(Job.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(Job.status == status)
        for job in session.scalars(stmt):
            v = job_view(session, job)
            total = f"/{v.total}" if v.total is not None else ""
            typer.echo(f"{v.id}\t{v.kind}\t{v.status}\t{v.collection}/{v.space}\t{v.phase or '-'} {v.done}{total}")


@jobs_app.command("show")
def jobs_show(job_id: int) -> None:
    """One job in full (JSON)."""
    from .jobs import get_job
    from .views import job_view

    _, db = _state()
    with cli_errors(), db.session() as session:
        _print_json(job_view(session, get_job(session, job_id)).model_dump())


@jobs_app.command("cancel")
def jobs_cancel(job_id: int) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    from .jobs import cancel_job

    _, db = _state()
    with cli_errors(), db.session() as session:
        job = cancel_job(session, job_id)
        typer.echo(f"job {job_id}: {'cancelled' if job.status == 'cancelled' else 'cancel requested'}")


# ----------------------------------------------------------------------------- demo


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API when the demo is built.")] = True,
) -> None:
    """Build the demo collection (Lee news corpus shipped with gensim) with word2vec, doc2vec and BERT spaces, then serve."""
    from .demo import build_demo

    with cli_errors():
        build_demo(on_job=_run_in_foreground)
    typer.echo(
        "\nTry:\n"
        f"  curl -s http://{host}:{port}/collections/news/search -H 'content-type: application/json' "
        "-d '{\"query\": \"bushfires threaten homes in New South Wales\", \"k\": 5}'\n"
        f"  curl -s http://{host}:{port}/collections/news/search -H 'content-type: application/json' "
        "-d '{\"query\": \"wildfires endanger houses\", \"k\": 5, \"space\": \"bert\"}'\n"
        f"  curl -s 'http://{host}:{port}/collections/news/spaces/w2v/words/fire/neighbors?k=5'\n"
        f"OpenAPI docs: http://{host}:{port}/docs\n"
    )
    if serve_api:
        serve(host=host, port=port, worker=True)


_register_eval()


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - console entry point
    app(argv)


Command = Callable[..., None]


if __name__ == "__main__":  # `python -m service.cli`, used by tests that start a real server
    app()
