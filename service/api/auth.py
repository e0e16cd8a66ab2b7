"""API keys and scopes on every route: one dependency of the app's router, looked up in ``scopes.ROUTES``.

``install_auth`` runs before the routers are included, so FastAPI copies the
dependency into every route included afterwards (also routes added later with
``@app.get``); OpenAPI shows it as the ``HTTPBearer`` security scheme. Per
request it costs at most one indexed SELECT: the key by its secret's hash, or,
until the first key exists, whether one does (once seen, that answer is kept:
keys are never deleted, only revoked).

Routes that are not FastAPI ``APIRoute`` s (a plain Starlette ``Route`` or a
``Mount``) never run dependencies; the route test in ``tests/service/test_keys.py``
holds every such route to being public in the table.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import Unauthorized, error_payload
from ..facade import Vecdex
from ..key_schemas import KeyPublic
from .scopes import Rule, is_public_request_path, rule_for

_CHECKED = "vecdex_key_checked"
"""Where :class:`KeyFirst` leaves the key it identified in the ASGI scope's state (for the dependency)."""

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer <secret>` from `vecdex keys create`; needed once any key exists "
    "(not for /healthz, /readyz and the docs).",
)


def route_template(request: Request) -> str | None:
    """The matched route's path template as the app serves it (``/collections/{name}/search``).

    FastAPI 0.165 includes routers lazily: ``scope["route"]`` is the route as its own
    router declared it (without prefixes added by ``include_router``); the effective
    context, when there is one, has the path as served. Either is exact for this app,
    which includes its routers without a prefix.
    """
    effective = (request.scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(effective, "path_format", None)
    if path is None:
        path = getattr(request.scope.get("route"), "path_format", None)
    return path


class KeyGate:
    """The per-request check, with the one thing worth remembering between requests: keys exist."""

    def __init__(self, vx: Vecdex) -> None:
        self._vx = vx
        self._enforced = False

    @property
    def off(self) -> bool:
        """``VECDEX_AUTH=off``: no key is ever asked for."""
        return self._vx.settings.auth == "off"

    def enforced(self) -> bool:
        """Whether keys are required; True is kept (keys are only revoked, never deleted)."""
        if not self._enforced:
            self._enforced = self._vx.keys.enforced()
        return self._enforced

    def identify(self, secret: str | None) -> KeyPublic | None:
        """The valid key a secret names; None when no key is needed yet; 401 for a missing, unknown or revoked one."""
        key = self._vx.keys.identify(secret=secret) if secret else None
        if key is None or key.revoked_at is not None:
            if not self.enforced():
                return None
            if key is not None:
                raise Unauthorized(f"API key {key.name!r} has been revoked")
            if secret:
                raise Unauthorized("unknown API key")
            raise Unauthorized("this API needs a key: send `Authorization: Bearer <secret>`")
        self._enforced = True
        return key

    def check(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> KeyPublic | None:
        """The request's key (None when the route is public or keys are not enforced); 401 / 403 otherwise."""
        if self._vx.settings.auth == "off":
            return None
        rule = rule_for(request.method, route_template(request))
        if rule.scope is None:
            return None
        state = request.scope.get("state") or {}
        if _CHECKED in state:  # KeyFirst identified it already, before the body was read
            key = state[_CHECKED]
        else:
            key = self.identify(credentials.credentials if credentials is not None else None)
        if key is None:
            return None
        # Only a collection-limited key needs the collection (for a job route, that costs a SELECT).
        collection = self._collection(request, rule) if key.collections is not None else None
        self._vx.keys.authorize(
            key=key, needs=rule.scope, collection=collection, per_collection=rule.collection is not None
        )
        return key

    def _collection(self, request: Request, rule: Rule) -> str | None:
        """The one collection the request is about, as the route's rule says where to find it."""
        if rule.collection == "path":
            return request.path_params.get("name")
        if rule.collection == "query":
            return request.query_params.get("collection")
        if rule.collection == "job":
            job_id = request.path_params.get("job_id", "")
            if not str(job_id).isdigit():
                return None
            return self._vx.jobs.get(job_id=int(job_id)).collection
        return None


def _bearer_secret(scope: Scope) -> str | None:
    """The secret of an ``Authorization: Bearer <secret>`` header, as HTTPBearer would read it."""
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            return secret.strip() or None
    return None


def unauthorized_response(exc: Unauthorized) -> JSONResponse:
    """401 with the usual error body and the ``WWW-Authenticate: Bearer`` header RFC 6750 asks for."""
    return JSONResponse({"error": error_payload(exc)}, status_code=exc.status, headers={"WWW-Authenticate": "Bearer"})


class KeyFirst:
    """Refuse a request without a valid key before anything reads its body.

    FastAPI parses a route's body before it runs the route's dependencies, so
    without this an anonymous client would get 400 ``malformed_json`` or 422
    instead of 401, and could make the server read bodies up to the size limit.
    Routing has not happened here, so only who the key is gets checked (by the
    request's raw path, public ones skipped); the scope the route needs is the
    dependency's part, which reuses the key found here.
    """

    def __init__(self, app: ASGIApp, gate: KeyGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.gate.off or is_public_request_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        secret = _bearer_secret(scope)
        try:
            # Without a secret the only question is whether keys are enforced: a remembered True, or one
            # prepared probe, asked here on the loop (a thread hop costs more than the probe, and on a
            # busy machine a hop waits milliseconds for a thread). A secret's lookup may write its
            # last use, so it runs in the thread pool.
            key = self.gate.identify(None) if secret is None else await run_in_threadpool(self.gate.identify, secret)
        except Unauthorized as exc:
            await unauthorized_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})[_CHECKED] = key
        await self.app(scope, receive, send)


def install_auth(app: FastAPI, vx: Vecdex) -> KeyGate:
    """Make the key check a dependency of every route included after this call.

    The key found is left on ``request.state.api_key`` (None when none was needed) for
    logs. A 401 carries ``WWW-Authenticate: Bearer`` beside the usual JSON error body.
    Returns the gate, for :class:`KeyFirst` (which ``create_app`` adds outside the body limit).
    """
    gate = KeyGate(vx)

    async def require_key(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> None:
        # ``async``: KeyFirst has identified the key already, so what is left is a table lookup (and, for a
        # key limited to collections on a job route, one indexed read): cheaper here than a thread hop.
        request.state.api_key = gate.check(request, credentials)

    app.router.dependencies.append(Depends(require_key))

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        return unauthorized_response(exc)

    return gate
