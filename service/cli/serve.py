"""``vecdex serve`` and ``vecdex worker``: the long-running processes."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import serve_api, vecdex


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    worker: Annotated[bool, typer.Option(help="Run a job worker thread in this process.")] = True,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    serve_api(vecdex(), host, port, worker)


def worker() -> None:
    """Run queued jobs until interrupted (the docker-compose worker)."""
    from ..observability.logs import configure_logging

    vx = vecdex()
    configure_logging(vx.settings)  # `vecdex serve` does this in create_app; a lone worker needs it here
    w = vx.worker()
    typer.echo("worker polling for jobs; Ctrl-C to stop")
    w.start()
    try:
        while w.is_alive():
            w.join(1.0)
    except KeyboardInterrupt:
        w.stop()


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command("worker")(worker)
