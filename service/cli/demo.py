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

    with cli_errors():
        if serve_api_:  # refuse an open bind beyond loopback before minutes of building, not after
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
