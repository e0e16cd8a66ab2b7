"""Field types the public schemas share, and what they say in the JSON schema (hence in /openapi.json).

Each checks what the service refuses and states it in the schema where JSON
Schema can (a non-blank ``pattern``, bounds that follow a setting, date-times
in UTC), so the OpenAPI document and the behaviour agree.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

NOT_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""JSON-schema ``pattern`` of a string with a character that is not white space (exactly Python's ``str.isspace``,
which is what the check uses; ECMA's ``\\S`` differs on U+001C..U+001F, U+0085 and U+FEFF)."""


class _NonBlank:
    """Refuses strings of only white space with ``message``, and says so in the JSON schema (``pattern``)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def _check(self, value: str) -> str:
        if not value.strip():
            raise ValueError(self.message)
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = handler(schema)
        out.setdefault("pattern", NOT_BLANK)
        return out


def non_blank(message: str) -> _NonBlank:
    """An annotation refusing strings of only white space, with the message the API and ingest report."""
    return _NonBlank(message)


LIMIT_KEY = "x-vecdex-limit"
"""Marks a documented bound that follows a setting, e.g. ``{"maximum": 1000, "x-vecdex-limit": "max_k:maximum"}``;
the API writes the server's own value in when it serves /openapi.json (service.api.openapi)."""


def setting_bound(setting: str, keyword: str, default: int) -> dict[str, Any]:
    """JSON-schema keywords documenting a bound the service enforces from ``setting`` (its default shown).

    Documented rather than validated by pydantic: the service refuses with
    its own code (``invalid_k``, ``batch_too_large``) and the bound is the
    deployment's setting, not a constant.
    """
    return {keyword: default, LIMIT_KEY: f"{setting}:{keyword}"}


K_BOUNDS: dict[str, Any] = {"minimum": 1, **setting_bound("max_k", "maximum", 1000)}
"""What every ``k`` (and ``candidates``) accepts: 1..VECDEX_MAX_K (``invalid_k`` otherwise)."""


def k_field(description: str = "Number of results, 1..VECDEX_MAX_K.", default: int = 10) -> Any:
    return Field(default, description=description, json_schema_extra=K_BOUNDS)


def _utc(value: datetime) -> datetime:
    """SQLite hands naive date-times back; every one vecdex stores is UTC, so it says so (``...Z``)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


FLOAT32_MAX = 3.4028234663852886e38
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
"""A vector component: finite, and finite still as the float32 that FAISS and the stored vectors use."""

UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
"""A date-time in a response: ISO 8601 in UTC with its zone (``2025-01-02T03:04:05.123456Z``) on every dialect."""


EXACTLY_ONE_QUERY: list[dict[str, Any]] = [
    {"required": ["query"], "properties": {"query": {"type": "string"}}},
    {"required": ["vector"], "properties": {"vector": {"type": "array"}}},
]
"""JSON-schema ``oneOf`` stating what :meth:`QueryInput._exactly_one` checks: one of the two, not null, not both."""

TIMESTAMP_SCHEMA: dict[str, Any] = {
    "anyOf": [
        # Years 1971..2199 only: a date-time in 1970 or 2200 may fall outside the range once moved to UTC.
        {"type": "string", "format": "date-time", "pattern": "^(197[1-9]|19[89][0-9]|2[01][0-9][0-9])-"},
        {"type": "number", "minimum": 0, "maximum": 7_289_654_399, "description": "Epoch seconds."},
    ]
}
"""What the schema promises of a timestamp: an RFC 3339 date-time or epoch seconds, inside the years 1970..2200.

The service also takes naive ISO forms (UTC), numeric strings (CSV) and the
edges of the range; the schema shows the part it can state exactly."""
