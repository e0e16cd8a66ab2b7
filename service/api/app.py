"""Application factory: settings -> app, with the schema check and the embedded worker in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..jobs import Worker
from ..migrate import check_schema
from ..settings import Settings, get_settings
from . import (
    routes_collections,
    routes_evaluations,
    routes_health,
    routes_interactions,
    routes_recommend,
    routes_search,
    routes_spaces,
)
from .errors import BodySizeLimit, install_error_handlers
from .state import AppState

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, run_worker: bool | None = None) -> FastAPI:
    """Build the app. The schema must already be at head (`vecdex db upgrade`): the app refuses to start otherwise."""
    settings = settings or get_settings()
    state = AppState.build(settings)
    with_worker = settings.embedded_worker if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        check_schema(state.db.engine, state.db.url)
        worker = None
        if with_worker:
            worker = Worker(state.db, settings.spaces_dir, settings.worker_poll_seconds, settings.job_heartbeat_timeout)
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            state.runtimes.save_all()
            state.db.dispose()

    app = FastAPI(
        title="vecdex",
        version="0.1.0",
        summary="Train word2vec, doc2vec, bilstm and item2vec on your data, serve them beside BERT with FAISS, over one SQL source of truth.",
        lifespan=lifespan,
    )
    app.state.vecdex = state
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    for module in (
        routes_health,
        routes_collections,
        routes_interactions,
        routes_spaces,
        routes_search,
        routes_recommend,
        routes_evaluations,
    ):
        app.include_router(module.router)
    return app
