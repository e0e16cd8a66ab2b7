"""What the OpenAPI document says about errors, operation ids and deployment limits, kept true in one place.

Every error the API answers has one body, :class:`ErrorBody`
(``{"error": {"code", "message", "field", "details?"}}``, see ``errors.py``).
Routes list the statuses particular to them (``responses=errors(404, 409)``);
:func:`document_common_errors` adds those every route shares — 422 (a query
parameter or the body fails validation; any NUL in the query string), 401/403
(API keys, on every route but the health probes), 400 and 413 (routes with a
body) — so a new route cannot forget them. :func:`install_openapi` then writes
the server's own limits (``VECDEX_MAX_K``, ``VECDEX_MAX_BATCH``) into the
document, so a deployment that changes them publishes the bounds it enforces.

``tests/service/test_openapi.py`` holds the document to the running server
with schemathesis (every check) and to these rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from embedders import registry

from ..quotas import SPEC_QUOTAS
from ..schema_types import LIMIT_KEY
from ..settings import Settings


class ErrorDetail(BaseModel):
    """One schema-validation problem (only ``invalid_request`` from request validation carries them)."""

    field: str | None = Field(description="Where, as the client wrote it: `documents[3].metadata`, `k`.")
    message: str
    type: str | None = Field(description="pydantic's error type, e.g. `missing`, `string_too_long`.")


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `collection_not_found`, `invalid_k`.")
    message: str = Field(description="For people; may change between versions.")
    field: str | None = Field(description="The offending field or parameter, when one is to blame.")
    details: list[ErrorDetail] | None = Field(
        None, description="Every validation problem (first 20), for `invalid_request` from request validation."
    )


class ErrorBody(BaseModel):
    """The body of every error response of the API, whatever its status."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"error": {"code": "filter_type_mismatch", "message": "...", "field": "filter.year"}},
            ]
        }
    }

    error: ErrorInfo


STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "`malformed_json`: the body is not valid JSON.",
    401: "`unauthorized`: no API key, or an unknown or revoked one, while keys are enforced "
    "(with `WWW-Authenticate: Bearer`).",
    403: "`forbidden`: the API key's scope or collections do not cover this route.",
    404: "The named resource does not exist: `collection_not_found`, `document_not_found`, "
    "`space_not_found`, `job_not_found`, `user_not_found`, `item_not_found`, `out_of_vocabulary`; "
    "`not_found` for a path nothing answers.",
    409: "The resource is not in a state that allows this: `already_exists`, `space_exists`, "
    "`space_not_ready`, `space_busy`, `space_unavailable`, `job_finished`, `not_an_items_collection`.",
    413: "`body_too_large`: the body exceeds `VECDEX_MAX_BODY_BYTES`.",
    422: "The request is well-formed but cannot be served: `invalid_request` (schema validation; `details` "
    "lists each problem) or a code naming the rule, e.g. `invalid_k`, `invalid_cursor`, `batch_too_large`, "
    "`filter_type_mismatch`, `empty_text`, `not_supported`, `quota_exceeded`.",
    429: "`too_many_jobs`: the collection already has `VECDEX_MAX_QUEUED_JOBS` jobs queued or running; "
    "retry later.",
    503: "Not ready: `schema_out_of_date` (run `vecdex db upgrade`) or `database_unavailable`.",
}

def _digits_at_most(bound: int) -> str:
    """A regular expression for the strings of ASCII digits (leading zeros allowed) whose value is <= ``bound``."""
    top = str(bound)
    branches = [f"[0-9]{{1,{len(top) - 1}}}"] if len(top) > 1 else []
    for i, digit in enumerate(top):
        if digit != "0":
            below = "0" if digit == "1" else f"[0-{int(digit) - 1}]"
            rest = len(top) - i - 1
            branches.append(top[:i] + below + (f"[0-9]{{{rest}}}" if rest else ""))
    branches.append(top)
    return "^(" + "|".join(branches) + ")$"


CURSOR_PATTERN = _digits_at_most(2**63 - 1)
"""A page cursor is a document id: ASCII digits, at most a signed 64-bit integer (``invalid_cursor`` otherwise)."""

PUBLIC_TAGS = frozenset({"health"})
"""Routes that answer without an API key (the probes), hence without 401/403."""


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status documented with :class:`ErrorBody` and what it means."""
    return {status: {"model": ErrorBody, "description": STATUS_DESCRIPTIONS[status]} for status in statuses}


def operation_id(route: APIRoute) -> str:
    """A fallback id for a route declared without ``operation_id=``: ``<tag>_<function name>``.

    Every route of the API names its id explicitly (stable across refactors);
    this only keeps a forgotten one readable instead of FastAPI's
    ``get_one_jobs__job_id__get``. The spec test refuses duplicates.
    """
    tag = str(route.tags[0]) if route.tags else "vecdex"
    return f"{tag}_{route.name}"


def document_common_errors(router: APIRouter) -> None:
    """Add the statuses every route shares to the ``responses`` of each route of ``router``.

    Call it on a resource's router before it is included: FastAPI builds the
    routes it serves (and documents) from the included router's routes
    lazily, on first use, so the ErrorBody models reach the OpenAPI components.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        common = [422]
        if not PUBLIC_TAGS.intersection(str(t) for t in route.tags):
            common += [401, 403]
        if route.body_field is not None:
            common += [400, 413]
        for status, response in errors(*common).items():
            route.responses.setdefault(status, response)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _apply_limits(schema: dict[str, Any], settings: Settings) -> None:
    for node in _walk(schema):
        marker = node.get(LIMIT_KEY)
        if isinstance(marker, str):
            setting, _, keyword = marker.partition(":")
            node[keyword] = int(getattr(settings, setting))


def _cap(prop: dict[str, Any], limit: int) -> None:
    """Lower an integer property's ``maximum`` to ``limit``; a nullable one loses ``null`` (the quota refuses it)."""
    branches = prop.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b.get("type") != "null"]
        if len(kept) != len(branches):
            prop["anyOf"] = kept
            if "default" in prop and prop["default"] is None:
                del prop["default"]
        for branch in kept:
            _cap(branch, limit)
        return
    if prop.get("type") == "integer":
        prop["maximum"] = min(int(prop.get("maximum", limit)), limit)


def _apply_quotas(schema: dict[str, Any], settings: Settings) -> None:
    """Write the spec quotas (``VECDEX_MAX_DIM``, ``_EPOCHS``, ...) into every embedder spec variant.

    The same table :func:`service.quotas.check_spec` enforces, applied to the fields it
    measures as they are (a derived measure, such as bilstm's summed filter widths, stays
    prose in the 422); a family exempt by capability (the ``dim`` of given vectors) is left as is.
    """
    components = schema.get("components", {}).get("schemas", {})
    for node in list(_walk(schema)):
        discriminator = node.get("discriminator")
        if not isinstance(discriminator, dict) or discriminator.get("propertyName") != "type":
            continue
        for family, ref in discriminator.get("mapping", {}).items():
            variant = components.get(str(ref).rsplit("/", 1)[-1])
            if variant is None or family not in registry.families():
                continue
            for quota in SPEC_QUOTAS:
                prop = variant.get("properties", {}).get(quota.field)
                if prop is None or quota.what or (quota.exempt is not None and registry.has(family, quota.exempt)):
                    continue
                _cap(prop, int(getattr(settings, quota.setting)))


def _public_needs_no_key(schema: dict[str, Any]) -> None:
    """The probes answer without a key: ``security: []`` overrides the app-wide bearer requirement for them."""
    for item in schema.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict) and PUBLIC_TAGS.intersection(op.get("tags", ())) and "security" in op:
                op["security"] = []


def _without_keys(schema: dict[str, Any]) -> None:
    """``VECDEX_AUTH=off``: no route asks for a key, so none declares security, 401 or 403."""
    for item in schema.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict):
                op.pop("security", None)
                for status in ("401", "403"):
                    op.get("responses", {}).pop(status, None)
    schema.get("components", {}).pop("securitySchemes", None)


def _tags_are_required(schema: dict[str, Any]) -> None:
    """A discriminated union needs its tag: each variant lists it as required, even where the model defaults it.

    Embedder specs declare ``type: Literal["bm25"] = "bm25"`` (a spec read on its
    own needs no tag), but inside ``SpaceCreate.embedder`` the tag picks the
    variant and a body without it is refused.
    """
    components = schema.get("components", {}).get("schemas", {})
    for node in list(_walk(schema)):
        discriminator = node.get("discriminator")
        if not isinstance(discriminator, dict) or "propertyName" not in discriminator:
            continue
        tag = discriminator["propertyName"]
        for ref in discriminator.get("mapping", {}).values():
            variant = components.get(str(ref).rsplit("/", 1)[-1])
            if variant is not None and tag not in variant.setdefault("required", []):
                variant["required"].append(tag)


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve the document with this server's limits written in (cached: routes do not change at run time)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            _apply_limits(schema, settings)
            _apply_quotas(schema, settings)
            _public_needs_no_key(schema)
            if settings.auth == "off":
                _without_keys(schema)
            _tags_are_required(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

