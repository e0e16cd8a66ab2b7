"""API keys and scopes on every route (issue 12, part 1; being written)."""

from __future__ import annotations

from fastapi import FastAPI

from ..facade import Vecdex


def install_auth(app: FastAPI, vx: Vecdex) -> None:
    """Make the key check a dependency of every route included after this call."""
