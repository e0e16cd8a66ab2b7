"""The ``vecdex`` command line (typer): one module per command group, all over :class:`service.facade.Vecdex`.

Commands import what they need inside their bodies so ``vecdex --help``
answers without loading gensim or FAISS. Every known error ends as one line
``error [code] field: message`` on stderr and exit status 2, never a traceback
(the mapping is :func:`service.cli.common.cli_errors`, the only one).

Where things go: shared helpers in ``common``; a command in its group's module,
a few lines that build the request schema, call one ``vx.<group>.<use case>``
and print. Group modules import ``common`` and never each other.
"""

from __future__ import annotations

import typer

from . import demo, ingest, recommend, search, serve, similar, transfer
from .collections import collection_app
from .db import db_app
from .eval import eval_app
from .jobs import jobs_app
from .keys import keys_app
from .recommend import item2vec_app
from .spaces import space_app

app = typer.Typer(help="vecdex: embedding and vector search over one SQL source of truth.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(collection_app, name="collection")
app.add_typer(space_app, name="space")
app.add_typer(jobs_app, name="jobs")
app.add_typer(item2vec_app, name="item2vec")
app.add_typer(eval_app, name="eval")
app.add_typer(keys_app, name="keys")
for group in (serve, ingest, search, similar, recommend, demo):
    group.register(app)
transfer.register(collection_app)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - console entry point
    app(argv)


__all__ = ["app", "main"]
