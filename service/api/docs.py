"""Swagger UI and ReDoc from files installed with the package (issue 12, part 4; being written)."""

from __future__ import annotations

from fastapi import FastAPI


def install_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc without a CDN."""
