"""Refuse NUL characters in the URL before any route sees them.

A NUL can reach a route only through the path or the query string (bodies are
checked by the schemas, see service.input_checks): PostgreSQL refuses it in
any text parameter, so ``GET /collections/%00`` would otherwise be a 500. No
name, id or parameter of this API can contain one, so the answer is known
without a lookup: 404 for a path, 422 for a query parameter.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_body


class RejectNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if "\x00" in scope.get("path", ""):
                body = error_body("not_found", "the path contains a NUL character; no resource is named so", None)
                await JSONResponse(body, status_code=404)(scope, receive, send)
                return
            if b"%00" in (scope.get("query_string") or b""):
                body = error_body("invalid_request", "a query parameter contains a NUL character", None)
                await JSONResponse(body, status_code=422)(scope, receive, send)
                return
        await self.app(scope, receive, send)
