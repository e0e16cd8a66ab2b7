"""Metrics, structured logs and request ids.

``metrics`` (the process's Prometheus metrics, recorded by the query path, the
vector pipeline and the worker), ``logs`` (logging from settings, request ids
on every record), ``request_ids`` (the ASGI middleware), ``state``
(scrape-time gauges over SQL and the data directory) and ``wiring`` (all of it
put on an app).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..facade import Vecdex


def install_observability(app: FastAPI, vx: Vecdex) -> None:
    """Request ids, logs and /metrics around every response.

    ``wiring`` is imported here, not at the top: the query path, the vector pipeline and the worker import
    ``service.observability.metrics``, which runs this package's ``__init__`` first, and they must not pull
    in FastAPI, the facade or the SQL collector (which imports them back).
    """
    from .wiring import install

    install(app, vx)
