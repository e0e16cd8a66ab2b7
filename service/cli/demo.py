"""``vecdex demo``: build the demo collection (``service.demo``), then serve it."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import cli_errors, run_in_foreground, serve_api, vecdex


def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    serve_api_: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API when the demo is built.")] = True,
) -> None:
    """Build the demo collection (Lee news corpus shipped with gensim) with word2vec, doc2vec and BERT spaces, then serve."""
    from ..demo import build_demo

    from ..facade.keys import is_loopback
    from ..settings import get_settings
    from ..store.migrate import upgrade

    with cli_errors():
        if serve_api_ and not is_loopback(host):
            # Refuse an open bind before minutes of building, not after. The demo migrates its database
            # anyway; doing it first lets a fresh one answer (no key yet) instead of "schema out of date".
            upgrade(get_settings().resolved_database_url)
            vecdex().keys.check_bind(host=host)
        build_demo(on_job=run_in_foreground)
    typer.echo(
        "\nTry:\n"
        f"  curl -s http://{host}:{port}/collections/news/search -H 'content-type: application/json' "
        "-d '{\"query\": \"bushfires threaten homes in New South Wales\", \"k\": 5}'\n"
        f"  curl -s http://{host}:{port}/collections/news/search -H 'content-type: application/json' "
        "-d '{\"query\": \"wildfires endanger houses\", \"k\": 5, \"space\": \"bert\"}'\n"
        f"  curl -s 'http://{host}:{port}/collections/news/spaces/w2v/words/fire/neighbors?k=5'\n"
        f"OpenAPI docs: http://{host}:{port}/docs\n"
    )
    if serve_api_:
        serve_api(vecdex(), host, port, worker=True)


def register(app: typer.Typer) -> None:
    app.command()(demo)
