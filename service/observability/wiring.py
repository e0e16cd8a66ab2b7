"""Puts observability on an app: logging from settings, the request middleware around everything, /metrics."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp

from ..facade import Vecdex
from . import metrics
from .logs import configure_logging
from .request_ids import RequestObservability
from .state import StoredStateCollector


def install(app: FastAPI, vx: Vecdex) -> None:
    """Configure logging, wrap the middleware stack, and serve /metrics when ``VECDEX_METRICS`` is on.

    The middleware wraps the stack Starlette builds (``build_middleware_stack``) instead of being added
    with ``add_middleware``: added middleware sits inside Starlette's error middleware, so a 500 from an
    unexpected exception would go out without the request id and the "unhandled error" line would be
    logged after the id was cleared. Outermost, it sees every response: 401, 413, 404 and 500 alike.
    """
    configure_logging(vx.settings)
    build_stack: Callable[[], ASGIApp] = app.build_middleware_stack

    def build_observed_stack() -> ASGIApp:
        return RequestObservability(build_stack())

    app.build_middleware_stack = build_observed_stack  # type: ignore[method-assign]
    if vx.settings.metrics:
        app.include_router(metrics_router(vx))


def metrics_router(vx: Vecdex) -> APIRouter:
    """``GET /metrics``: this process's metrics and the app's stored-state gauges, in the text format.

    A FastAPI route included like the others (not a bare Starlette route), so whatever the app makes a
    dependency of every route (the API key check) guards it too. It is a plain ``def``: FastAPI runs it
    in the thread pool, since the stored-state gauges query SQL.
    """
    registry = metrics.app_registry(StoredStateCollector(vx.db, vx.settings.spaces_dir))
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(metrics.scrape(registry), media_type=CONTENT_TYPE_LATEST)

    return router
