"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..errors import SchemaOutOfDate
from .deps import VecdexDep
from .errors import error_body
from .openapi import errors

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", response_model=dict[str, str], responses=errors(503))
def readyz(vx: VecdexDep) -> JSONResponse:
    """The database answers and its schema is the one this code expects."""
    try:
        vx.check_schema()
    except SchemaOutOfDate as exc:
        return JSONResponse(error_body(exc.code, exc.message, None), status_code=503)
    except Exception as exc:  # database unreachable
        return JSONResponse(error_body("database_unavailable", f"database unavailable: {exc}", None), status_code=503)
    return JSONResponse({"status": "ready"})
