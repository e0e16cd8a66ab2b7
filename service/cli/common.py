"""What every command group shares: the one ``Vecdex`` of a command, error mapping, output helpers.

Group modules import this module and never each other (nor the package
``__init__``), so the command line has no import cycle. Heavy imports (the
facade pulls in FAISS and SQLAlchemy) stay inside the helpers: ``vecdex
--help`` must answer without loading them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional

import click
import typer

if TYPE_CHECKING:
    from ..facade import Vecdex
    from ..space_schemas import JobPublic

_VECDEX_KEY = "vecdex.facade"

FilterOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--filter",
        "-f",
        help="Metadata filter key=value, ANDed (repeatable); a JSON value takes the API's filter language: "
        "-f 'year={\"gte\": 2020}' -f 'or=[{\"topic\": \"a\"}, {\"topic\": \"b\"}]'.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def fail(code: str, message: str, field: str | None = None) -> NoReturn:
    """The CLI's one error shape: ``error [code] field: message`` on stderr, exit status 2."""
    typer.secho(f"error [{code}] {field + ': ' if field else ''}{message}", err=True, fg="red")
    raise typer.Exit(2)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn any vecdex error (one tree, root ``VecdexError``) and pydantic validation errors into
    a one-line CLI error. This is the only place the CLI maps exceptions."""
    from pydantic import ValidationError

    from embedders.errors import VecdexError

    try:
        yield
    except VecdexError as exc:
        fail(exc.code, exc.message, exc.field)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        fail("invalid_input", first["msg"], field)


def vecdex() -> Vecdex:
    """The command's ``Vecdex``: built on first use, schema checked, closed when the command ends.

    Cached on the root click context rather than the process, so every command
    (also each ``CliRunner.invoke`` of a test, with its own settings) gets a fresh
    one over the current ``VECDEX_*`` settings, and its loaded spaces are saved and
    its connections released on the way out.
    """
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    if root is not None and _VECDEX_KEY in root.meta:
        return root.meta[_VECDEX_KEY]  # type: ignore[no-any-return]
    from ..facade import Vecdex

    vx = Vecdex.from_settings()
    try:
        with cli_errors():
            vx.check_schema()
    except BaseException:
        vx.db.dispose()
        raise
    if root is not None:
        root.meta[_VECDEX_KEY] = vx
        root.call_on_close(vx.close)
    return vx


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def print_rows(
    title: str, headers: list[str], rows: list[list[Any]], plain: list[str], *, right: Sequence[str] = ()
) -> None:
    """A listing: a rich table on a terminal; off one (a pipe, a file) the ``plain`` lines, tab-separated and
    stable, which scripts parse (``--json`` is the structured form). Cells are strings or rich renderables
    (a ``Text`` with highlighted spans); columns named in ``right`` are right-aligned (numbers)."""
    if not _stdout_is_terminal():
        for line in plain:
            typer.echo(line)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None, title_justify="left", header_style="bold")
    for header in headers:
        table.add_column(header, justify="right" if header in right else "left")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def highlighted(text: str, spans: Sequence[Any]) -> Any:
    """A hit's snippet for a terminal: one line, the query's terms (``highlights``) in bold."""
    from rich.text import Text

    out = Text(text.replace("\n", " ").replace("\r", " "))
    for span in spans:
        out.stylize("bold yellow", span.start, span.end)
    return out


def _stdout_is_terminal() -> bool:
    import sys

    try:
        return sys.stdout.isatty()  # typer's CliRunner swaps sys.stdout: a test sees its capture, not a TTY
    except (AttributeError, ValueError):
        return False


def coerce(value: str) -> Any:
    """CLI parameter values: JSON when it parses (numbers, booleans, lists), else the plain string."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def key_values(items: Optional[list[str]], option: str) -> dict[str, Any]:
    """``key=value`` options (``--filter``, ``--param``, ``--weight``) as a dict, values parsed by :func:`coerce`."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail("invalid_input", f"expected key=value, got {item!r}", option)
        out[key.strip()] = coerce(value)
    return out


def run_in_foreground(vx: Vecdex, job_id: int, label: str) -> None:
    """Run a queued build job here with a progress bar (``--wait``, the demo); exit 2 if it fails."""
    from ..runtime.progress import TqdmProgress

    bar = TqdmProgress(label)
    try:
        job = vx.jobs.run_here(job_id=job_id, progress=bar, label="cli")
    finally:
        bar.close()
    if job is None:
        typer.echo(f"job {job_id} was taken by a worker; follow it with `vecdex jobs show {job_id}`")
        return
    if job.status != "succeeded":
        err = job.error or {}
        fail(err.get("code", job.status), err.get("message", f"job {job.status}"), err.get("field"))
    typer.echo(f"space {label} ready{job_result(vx, job)}")


def job_result(vx: Vecdex, job: JobPublic) -> str:
    """' (generation 1; embedded 20, reused 0)': the generation now served and how its vectors were obtained."""
    from ..errors import NotFound

    parts: list[str] = []
    if job.collection is not None and job.space is not None:
        try:
            parts.append(f"generation {vx.spaces.get(collection=job.collection, space=job.space).generation}")
        except NotFound:  # deleted meanwhile
            pass
    figures = {k: job.metrics[k] for k in ("embedded", "reused", "from_training") if k in (job.metrics or {})}
    if figures:
        parts.append(", ".join(f"{k} {v}" for k, v in figures.items()))
    phases = (job.metrics or {}).get("phases") or []
    if phases:
        parts.append(" ".join(f"{p['phase']} {p['seconds']:.1f}s" for p in phases))
    return f" ({'; '.join(parts)})" if parts else ""


def serve_api(vx: Vecdex, host: str, port: int, worker: bool) -> None:
    """Serve the HTTP API in the foreground (``serve``, and ``demo`` once its spaces are built).

    Refuses first (one line, exit 2) to bind beyond loopback while the API would be open
    (no key yet, auth on): see ``Keys.check_bind``.
    """
    import uvicorn

    from ..api import create_app

    with cli_errors():
        warning = vx.keys.check_bind(host=host)
    if warning:
        typer.secho(warning, err=True, fg="yellow")
    # vecdex logs one access line per request itself (with the request id, route template and duration).
    app = create_app(vx.settings, run_worker=worker)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
