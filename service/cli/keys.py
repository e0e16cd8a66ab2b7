"""``vecdex keys``: create (the secret printed once), list and revoke API keys.

The secret goes alone to stdout and everything else to stderr, so
``SECRET=$(vecdex keys create ci --scope read)`` captures just the secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import typer

from .common import JsonOption, cli_errors, print_json, print_rows, vecdex

keys_app = typer.Typer(help="Create, list and revoke API keys (Authorization: Bearer <secret>).", no_args_is_help=True)


def _when(value: datetime | None, none: str) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else none


@keys_app.command("create")
def keys_create(
    name: str,
    scope: Annotated[
        str, typer.Option("--scope", "-s", help="read (queries, GETs); write (+ upserts, deletes); admin (+ the rest)")
    ],
    collection: Annotated[
        Optional[list[str]], typer.Option("--collection", "-c", help="Limit the key to this collection (repeatable).")
    ] = None,
) -> None:
    """Create a key and print its secret: the only time it is shown (only its hash is stored)."""
    from ..key_schemas import KeyCreate

    vx = vecdex()
    with cli_errors():
        body = KeyCreate(name=name, scope=scope, collections=collection or None)  # type: ignore[arg-type]
        created = vx.keys.create(body=body)
    where = ", ".join(created.key.collections) if created.key.collections else "all collections"
    typer.echo(f"created key {name} (scope {created.key.scope}, {where}); its secret, shown this once:", err=True)
    typer.echo(created.secret)
    typer.echo("send it as `Authorization: Bearer <secret>`; it is not shown again (if lost: revoke, create)", err=True)


@keys_app.command("list")
def keys_list(json_: JsonOption = False) -> None:
    """Every key with its scope, secret prefix, collections, when created, last used and revoked; never a secret."""
    keys = vecdex().keys.list()
    if json_:
        print_json([k.model_dump(mode="json") for k in keys])
        return
    cells = [
        [k.name, k.scope, f"{k.prefix}...", ",".join(k.collections) if k.collections else "*",
         _when(k.created_at, "-"), _when(k.last_used_at, "never"),
         f"revoked {_when(k.revoked_at, '')}" if k.revoked_at else "active"]
        for k in keys
    ]
    print_rows(
        "API keys", ["name", "scope", "prefix", "collections", "created", "last used", "state"], cells,
        [f"{c[0]}\t{c[1]}\t{c[2]}\t{c[3]}\tcreated {c[4]}\tlast used {c[5]}\t{c[6]}" for c in cells],
    )


@keys_app.command("revoke")
def keys_revoke(name: str) -> None:
    """Revoke a key at once; its name stays taken. Revoking the last key locks the API, it does not reopen it."""
    with cli_errors():
        key = vecdex().keys.revoke(name=name)
    typer.echo(f"revoked key {name} ({_when(key.revoked_at, '-')})")
