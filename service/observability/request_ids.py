"""Around every HTTP request: a request id (taken or made, echoed back), one access log line, the HTTP metrics.

A pure ASGI middleware, not Starlette's ``BaseHTTPMiddleware``: it adds no
task or body buffering to each request, and the context variable it sets is
seen by everything below it (routes, exception handlers, the log lines they
write). The app wraps its whole middleware stack in it (see :mod:`.wiring`),
so it is outside Starlette's error middleware too: a 500 from an unexpected
exception carries the header, and the "unhandled error" log line the id.
"""

from __future__ import annotations

import logging
import re
import time
import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics
from .logs import REQUEST_ID

HEADER = "X-Request-ID"
MAX_LENGTH = 128
# Printable ASCII without spaces: safe to echo in a header and to print in a log line as one token.
_SANE = re.compile(rb"[\x21-\x7e]{1,%d}" % MAX_LENGTH)
UNMATCHED = "unmatched"
# Probes and scrapes are logged at DEBUG (a load balancer's health check every few seconds would drown the
# log), server errors at WARNING, the rest at INFO.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})

access_log = logging.getLogger("vecdex.http")


def request_id_from(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is sane (1-128 printable ASCII characters, no spaces), else a
    new one: ids flow through a proxy or a client's trace unchanged, but nobody can inject a log line or
    a huge header."""
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            if _SANE.fullmatch(value):
                return value.decode("ascii")
            break
    return secrets.token_hex(16)  # uuid4().hex's format, without building a UUID


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/collections/{name}``), never the raw path, so label values stay
    few. A response sent before routing (a 413 from the body limit, a NUL refused in the URL), or for a path
    no route knows, has none: ``unmatched``.

    The router records what it picked in the scope. FastAPI 0.165 includes routers lazily: its effective
    route context has the path as served (prefixes of ``include_router`` included), ``scope["route"]`` the
    path as the route's own router declared it; the first is taken when present (as the key check does,
    ``service.api.auth.route_template``), and either is exact for this app.
    """
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(effective, "path_format", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestObservability:
    """Sets the request id, echoes it in the response, then records the request (metrics + one log line)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        token = REQUEST_ID.set(request_id)
        start = time.perf_counter()
        status = 500  # what the client gets if the app fails before starting a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            self._record(scope, status, seconds)
            REQUEST_ID.reset(token)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method, path = scope.get("method", ""), scope.get("path", "")
        route = route_template(scope)
        metrics.observe_request(method, route, status, seconds)
        level = logging.WARNING if status >= 500 else logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        if access_log.isEnabledFor(level):
            duration_ms = round(seconds * 1000, 2)
            extra = {"method": method, "route": route, "path": path, "status": status, "duration_ms": duration_ms}
            access_log.log(level, "%s %s %s", method, path, status, extra=extra)
