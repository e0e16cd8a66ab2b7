"""Checks that keep hostile input out of SQL: what a database would refuse (a 500) or store and then choke on.

PostgreSQL refuses a NUL character in any text and a lone surrogate in any
string; SQLite stores NaN in JSON and then fails every query that parses it;
a JSON value nested hundreds deep is stored but cannot be serialised back.
Each check raises ``ValueError`` (pydantic turns it into a 422 naming the
field), so a request carrying such a value is refused whole, on every dialect
alike, before anything is written.
"""

from __future__ import annotations

import math
from typing import Any

from .schema_types import _NonBlank

MAX_METADATA_DEPTH = 64
"""Hard ceiling on the nesting of objects/arrays in metadata or a filter (a top-level scalar is depth 1).

Parsing safety only: past it a value is refused inside pydantic, before it reaches any code that
recurses over it. The deployment's own limit, ``VECDEX_MAX_METADATA_DEPTH`` (default 16, at most
this ceiling), needs settings, which validators lack, so the facade checks it (``service.quotas``)."""


def sql_text(value: str) -> str:
    """``value`` if SQL can store it as text: no NUL character, no lone surrogate."""
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000), which SQL text cannot hold")
    if value.isascii():  # the common case, checked in C without encoding (ASCII holds no surrogate)
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate (not valid Unicode text)") from None
    return value


def sql_text_or_none(value: str | None) -> str | None:
    return None if value is None else sql_text(value)


def _check(value: Any, path: str, depth: int) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path or 'value'} is {value}: only finite numbers are stored")
        return
    if isinstance(value, str):
        try:
            sql_text(value)
        except ValueError as exc:
            raise ValueError(f"{path or 'value'} {exc}") from None
        return
    if isinstance(value, (dict, list)):
        _check_items(value, path, depth)


_PLAIN = (int, bool, type(None))
"""Types that are always stored as sent (exact types: pydantic gives plain JSON values)."""


def _check_items(value: dict[str, Any] | list[Any], path: str, depth: int) -> None:
    """:func:`_check` of a container's members, with the plain members checked inline.

    Metadata is checked for every document of every batch, so this is the ingest hot path:
    a flat object of strings and numbers costs one loop, no call per member, and a member's
    path string is built only for a nested container or an error. Same checks, same order
    and same messages as :func:`_check`.
    """
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"{path} is nested deeper than {MAX_METADATA_DEPTH} levels")
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str) and ("\x00" in key or not key.isascii()):
            try:
                sql_text(key)
            except ValueError as exc:
                raise ValueError(f"key {key!r} {exc}") from None
        kind = type(item)
        if kind in _PLAIN:
            continue
        if kind is str:
            if "\x00" not in item and item.isascii():
                continue
        elif kind is float:
            if math.isfinite(item):
                continue
        sub = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
        _check(item, sub.lstrip("."), depth + 1)


def json_value(value: dict[str, Any]) -> dict[str, Any]:
    """Metadata (or a filter) that every dialect stores and reads back as it was sent."""
    if type(value) is dict:
        _check_items(value, "", 1)
    else:
        _check(value, "", 1)
    return value


def addressable(value: str) -> str:
    """An external id is a URL path segment (``/collections/{c}/documents/{id}``): a '/' would make it unreachable."""
    if "/" in value:
        raise ValueError("external_id must not contain '/' (it could not be fetched or deleted by URL)")
    return value


class ExternalIdChecks(_NonBlank):
    """An external id's checks in one validator call (it runs for every document of every batch): not blank
    (the JSON schema's ``pattern`` says so), :func:`sql_text`, then :func:`addressable`; the same checks,
    order and messages as the three separate validators they replace."""

    def _check(self, value: str) -> str:
        if not value.strip():
            raise ValueError(self.message)
        return addressable(sql_text(value))
