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

from ..errors import Unauthorized, error_payload
from ..facade import Vecdex
from ..key_schemas import KeyPublic
from .scopes import Rule, rule_for

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

    def enforced(self) -> bool:
        """Whether keys are required; True is kept (keys are only revoked, never deleted)."""
        if not self._enforced:
            self._enforced = self._vx.keys.enforced()
        return self._enforced

    def check(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> KeyPublic | None:
        """The request's key (None when the route is public or keys are not enforced); 401 / 403 otherwise."""
        if self._vx.settings.auth == "off":
            return None
        rule = rule_for(request.method, route_template(request))
        if rule.scope is None:
            return None
        secret = credentials.credentials if credentials is not None else None
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


def install_auth(app: FastAPI, vx: Vecdex) -> None:
    """Make the key check a dependency of every route included after this call.

    The key found is left on ``request.state.api_key`` (None when none was needed) for
    logs. A 401 carries ``WWW-Authenticate: Bearer`` beside the usual JSON error body.
    """
    gate = KeyGate(vx)

    def require_key(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> None:
        request.state.api_key = gate.check(request, credentials)

    app.router.dependencies.append(Depends(require_key))

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"}
        return JSONResponse({"error": error_payload(exc)}, status_code=exc.status, headers=headers)
