"""Every error becomes JSON ``{"error": {"code", "message", "field"}}`` with a 4xx status.

Embedder, index and service errors share the root :class:`VecdexError`, whose
subclasses carry their own ``code`` and ``status``, so one handler maps them
all; anything unexpected is logged and returned as a 500 with a stable code,
never a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import VecdexError, error_payload

log = logging.getLogger(__name__)


def error_body(code: str, message: str, field: str | None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def _field(loc: tuple[Any, ...]) -> str | None:
    # The first element says where the value came from (body, query, path); the rest is the field.
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or None


def allowed_methods(request: Request) -> str:
    """Every method some route answers at this path, for a 405's ``Allow`` header (RFC 9110).

    Starlette's router stops at the first route whose path matches and lists
    only that route's methods; FastAPI declares one route per method, so
    ``DELETE /collections/x`` would be said to allow only ``GET, HEAD``.
    """
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        if not route.methods:
            continue
        as_if_allowed = {**request.scope, "method": next(iter(route.methods))}
        if route.matches(as_if_allowed)[0] == Match.FULL:
            methods |= route.methods
    order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    return ", ".join(sorted(methods, key=lambda m: order.index(m) if m in order else len(order)))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VecdexError)
    async def _vecdex(_: Request, exc: VecdexError) -> JSONResponse:
        return JSONResponse({"error": error_payload(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"msg": "invalid request", "loc": (), "type": ""}
        if first.get("type") == "json_invalid":
            ctx = first.get("ctx") or {}
            return JSONResponse(
                error_body("malformed_json", f"request body is not valid JSON: {ctx.get('error', first['msg'])}", None),
                status_code=400,
            )
        field = _field(tuple(first.get("loc", ())))
        msg = str(first["msg"]).removeprefix("Value error, ")
        message = f"{field}: {msg}" if field else msg
        body = error_body("invalid_request", message, field)
        body["error"]["details"] = [
            {"field": _field(tuple(e.get("loc", ()))), "message": e["msg"], "type": e.get("type")} for e in errors[:20]
        ]
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        return JSONResponse(error_body(code, str(exc.detail), None), status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("internal_error", "internal error; see the server log", None), status_code=500)


class BodySizeLimit:
    """Reject bodies over the limit: by Content-Length up front, or by counting a chunked stream."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_large = error_body(
            "body_too_large", f"request body exceeds the limit of {self.max_bytes} bytes (VECDEX_MAX_BODY_BYTES)", None
        )
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await JSONResponse(too_large, status_code=413)(scope, receive, send)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): buffer up to the limit, then replay it to the app. Raising from
        # inside receive would reach FastAPI's body parser, which turns any error into a generic 400.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                await JSONResponse(too_large, status_code=413)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
