"""The HTTP API (FastAPI). ``create_app`` is the only entry point."""

from .app import create_app

__all__ = ["create_app"]
