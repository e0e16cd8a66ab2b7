"""Metrics, structured logs and request ids (issue 12, part 5; being written)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from ..facade import Vecdex


def install_observability(app: FastAPI, vx: Vecdex) -> None:
    """Request ids, logs and /metrics around every response."""
