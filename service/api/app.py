"""Application factory: settings -> app over one :class:`~service.facade.Vecdex`, with the schema check and
the embedded worker in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..settings import Settings, get_settings
from ..facade import Vecdex
from ..observability import install_observability
from .auth import KeyFirst, install_auth
from .docs import install_docs
from .errors import BodySizeLimit, install_error_handlers
from .nul_guard import RejectNul
from .routers import include_routes

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, run_worker: bool | None = None) -> FastAPI:
    """Build the app. The schema must already be at head (`vecdex db upgrade`): the app refuses to start otherwise."""
    settings = settings or get_settings()
    vx = Vecdex(settings)
    # A server answers a collection's filters from SQL while its metadata columns load in the background
    # (seconds at a million documents): the first filtered query does not wait for that load.
    vx.core.searcher.path.filters.background_load = True
    with_worker = settings.embedded_worker if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        vx.check_schema()
        worker = vx.worker() if with_worker else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            vx.close()

    app = FastAPI(
        title="vecdex",
        version="0.1.0",
        summary="Train word2vec, doc2vec, bilstm and item2vec on your data, serve them beside BERT with FAISS, over one SQL source of truth.",
        lifespan=lifespan,
        # Served by install_docs from files installed with the package (no CDN: works offline).
        docs_url=None,
        redoc_url=None,
    )
    app.state.vecdex = vx
    install_error_handlers(app)
    install_docs(app)
    # Before the routers are included: the key check becomes a dependency of every route.
    gate = install_auth(app, vx)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RejectNul)
    # Outside the body limit: a request without a valid key is refused before its body is read.
    app.add_middleware(KeyFirst, gate=gate)
    # Added last, so outermost: request ids, logs and metrics see every response, 401 and 413 included.
    install_observability(app, vx)
    include_routes(app)
    return app
