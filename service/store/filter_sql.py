"""A parsed metadata filter (:mod:`.filter_tree`) as one SQLAlchemy boolean expression, per dialect.

SQLite reads metadata with JSON1 (``json_extract``, ``json_type``,
``json_each``); PostgreSQL with JSONB operators (``->``, ``->>``, ``?``,
``@>``), which are type-exact and never raise: equality, ``in`` and number
ranges compare JSONB values (numbers numerically, exactly; ranges also ask
``jsonb_typeof`` for a number, as JSONB orders null below every number), string ranges
compare ``->>`` text under ``COLLATE "C"`` (code point order, as SQLite and
Python compare), and ``contains`` is ``meta @> {"field": [value]}``, which a
GIN index on the column can serve. Comparisons rely on the collection schema's
guarantee that every non-null value of a field has the field's type.

A test on a missing field is NULL, not false, in SQL; WHERE treats NULL as
false and AND / OR keep that right, but NOT would not, so every negation is
``NOT coalesce(test, false)``: ``ne`` and ``not`` match documents that lack
the field, on both dialects alike.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import and_, bindparam, exists, false, func, not_, or_, select, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from .filter_tree import All, AnyOf, Condition, Node, Not
from .models import Document

_SQL_OPERATORS = {"eq": "__eq__", "gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}
_SQLITE_TYPES = {"string": ("text",), "number": ("integer", "real")}


def _compare(left: Any, op: str, right: Any) -> ColumnElement[bool]:
    return getattr(left, _SQL_OPERATORS[op])(right)  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- SQLite


def _literal_key(key: str) -> bool:
    """A key SQLite's JSON path syntax cannot quote: ``$."p"."q"`` would read a nested field for ``p"."q``."""
    return '"' in key or "\\" in key


def _sqlite_value_and_type(key: str) -> tuple[Any, Any]:
    """The field's SQL value (booleans are 1 / 0) and JSON type name, or NULL for both when it is missing.

    For a key the path syntax cannot quote, ``json_each`` finds the top-level
    key literally, as PostgreSQL's ``->`` does (slower per row, so only for these keys).
    """
    if not _literal_key(key):
        path = f'$."{key}"'
        return func.json_extract(Document.meta, path), func.json_type(Document.meta, path)
    each = func.json_each(Document.meta).table_valued("key", "value", "type").alias("each")
    value = select(each.c.value).where(each.c.key == key).scalar_subquery()
    kind = select(each.c.type).where(each.c.key == key).scalar_subquery()
    return value, kind


_INT64 = 2**63 - 1


def _sqlite_number(value: Any) -> Any:
    """An integer SQLite cannot bind (beyond 64 bits) as the REAL its JSON1 reads such a number as."""
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) <= _INT64:
        return value
    try:
        return float(value)
    except OverflowError:  # beyond every double: JSON1 reads such a literal as +-Inf too
        return math.inf if value > 0 else -math.inf


def _sqlite_boolean_types(values: tuple[Any, ...]) -> list[str]:
    return ["true" if v else "false" for v in values]


def _sqlite_condition(c: Condition) -> ColumnElement[bool]:
    value, kind = _sqlite_value_and_type(c.field)
    if c.op == "exists":
        return func.coalesce(kind, "null") != "null"
    if c.op == "contains":
        return _sqlite_contains(c.field, c.value)
    if c.kind == "boolean":  # json_extract reads true and false as 1 and 0; json_type tells them apart
        return kind.in_(_sqlite_boolean_types(c.value if c.op == "in" else (c.value,)))
    if c.op == "in":
        return value.in_([_sqlite_number(v) for v in c.value])
    return _compare(value, c.op, _sqlite_number(c.value))


def _sqlite_contains(key: str, element: Any) -> ColumnElement[bool]:
    """The field is an array with an element of the value's JSON type equal to it."""
    if isinstance(element, bool):
        test = lambda each: each.c.type == ("true" if element else "false")  # noqa: E731
    else:
        types = _SQLITE_TYPES["string" if isinstance(element, str) else "number"]
        element = _sqlite_number(element)
        test = lambda each: and_(each.c.type.in_(types), each.c.value == element)  # noqa: E731
    if not _literal_key(key):
        path = f'$."{key}"'
        each = func.json_each(Document.meta, path).table_valued("key", "value", "type").alias("elem")
        return and_(func.json_type(Document.meta, path) == "array", exists(select(1).select_from(each).where(test(each))))
    outer = func.json_each(Document.meta).table_valued("key", "value", "type").alias("each")
    array = select(outer.c.value).where(outer.c.key == key, outer.c.type == "array").scalar_subquery()
    each = func.json_each(array).table_valued("key", "value", "type").alias("elem")
    return exists(select(1).select_from(each).where(test(each)))


# ----------------------------------------------------------------------------- PostgreSQL


def _jsonb(value: Any) -> Any:
    return bindparam(None, value, type_=JSONB)


def _pg_condition(c: Condition) -> ColumnElement[bool]:
    meta = type_coerce(Document.meta, JSONB)
    field = meta[c.field]
    if c.op == "exists":
        return and_(meta.has_key(c.field), func.jsonb_typeof(field) != "null")
    if c.op == "contains":
        return meta.contains(_jsonb({c.field: [c.value]}))
    if c.op == "in":
        return field.in_([_jsonb(v) for v in c.value])
    if c.kind == "string" and c.op != "eq":
        return _compare(field.astext.collate("C"), c.op, c.value)
    if c.op != "eq":  # JSONB orders across types (null < number): a null must not pass "lte"
        return and_(func.jsonb_typeof(field) == "number", _compare(field, c.op, _jsonb(c.value)))
    return _compare(field, c.op, _jsonb(c.value))


# ----------------------------------------------------------------------------- the tree


def compile_filter(node: Node, dialect: str) -> ColumnElement[bool]:
    """One boolean expression over ``Document.meta`` for ``node`` on ``dialect`` ("sqlite" or "postgresql")."""
    if isinstance(node, Condition):
        return _sqlite_condition(node) if dialect == "sqlite" else _pg_condition(node)
    if isinstance(node, All):
        return and_(*(compile_filter(p, dialect) for p in node.parts)) if node.parts else true()
    if isinstance(node, AnyOf):
        return or_(*(compile_filter(p, dialect) for p in node.parts))
    if isinstance(node, Not):
        return not_(func.coalesce(compile_filter(node.part, dialect), false()))
    raise TypeError(f"not a filter node: {node!r}")
