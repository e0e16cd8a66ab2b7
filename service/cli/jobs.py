"""``vecdex jobs``: list, show and cancel build jobs."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import JsonOption, cli_errors, print_json, print_rows, vecdex

jobs_app = typer.Typer(help="List, show and cancel jobs.", no_args_is_help=True)


@jobs_app.command("list")
def jobs_list(
    status: Optional[str] = None,
    collection: Annotated[Optional[str], typer.Option(help="Only this collection's jobs.")] = None,
    limit: int = 20,
    as_json: JsonOption = False,
) -> None:
    """The most recent jobs, newest first."""
    with cli_errors():
        views = vecdex().jobs.list(status=status, collection=collection, limit=limit)
    if as_json:
        print_json([v.model_dump(mode="json") for v in views])
        return

    def progress(v: object) -> str:
        total = f"/{v.total}" if v.total is not None else ""  # type: ignore[attr-defined]
        return f"{v.phase or '-'} {v.done}{total}"  # type: ignore[attr-defined]

    print_rows(
        "jobs", ["id", "kind", "status", "space", "progress"],
        [[str(v.id), v.kind, v.status, f"{v.collection}/{v.space}", progress(v)] for v in views],
        [f"{v.id}\t{v.kind}\t{v.status}\t{v.collection}/{v.space}\t{progress(v)}" for v in views],
    )


@jobs_app.command("show")
def jobs_show(job_id: int) -> None:
    """One job in full (JSON)."""
    with cli_errors():
        job = vecdex().jobs.get(job_id=job_id)
    # mode="json": timestamps as the API writes them (2025-01-02T03:04:05.123456Z), not str(datetime)'s space form.
    print_json(job.model_dump(mode="json"))


@jobs_app.command("cancel")
def jobs_cancel(job_id: int) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    with cli_errors():
        job = vecdex().jobs.cancel(job_id=job_id)
    typer.echo(f"job {job_id}: {'cancelled' if job.status == 'cancelled' else 'cancel requested'}")
