"""A metadata filter parsed into a typed tree and checked against the collection's schema.

The grammar is in :mod:`service.filter_schemas`. Parsing is separate from SQL so
that every mistake is found, with the exact path of the offending value
(``filter.or[1].year.gte``), before any query is built, and so that the tree
the SQL compiler sees is small: ``ne``, ``nin`` and ``exists: false`` become
``Not`` of ``eq``, ``in`` and ``exists: true``, so negation (which matches
documents that lack the field) is defined in one place.

Semantics: a field whose value is ``null`` counts as missing. A comparison
(``eq``, ranges, ``in``, ``contains``) never matches a document lacking the
field; its negation (``ne``, ``nin``, ``not``) does, as in MongoDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from ..errors import FilterTypeMismatch, InvalidFilter, UnknownFilterField
from ..filter_schemas import (
    COMPARISONS,
    MAX_FILTER_CONDITIONS,
    MAX_FILTER_DEPTH,
    MAX_FILTER_LIST,
    MAX_FILTER_VALUES,
    OPERATORS,
)

RANGES = ("gt", "gte", "lt", "lte")
_SCALAR_KINDS = ("string", "number", "boolean")


@dataclass(frozen=True)
class Condition:
    """One positive test on one field: ``op`` is eq, gt, gte, lt, lte, in, exists (true) or contains.

    ``kind`` is the field's schema type; ``value`` is a scalar, a tuple (``in``) or None (``exists``).
    """

    field: str
    kind: str
    op: str
    value: Any


@dataclass(frozen=True)
class All:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Union[Condition, All, AnyOf, Not]


def value_kind(value: Any) -> str | None:
    """The schema type of a filter scalar; None for anything else (null, a list, an object)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


class _Parser:
    """One parse: the schema, the collection's name for messages, and the running condition count."""

    def __init__(self, schema: dict[str, str], collection: str) -> None:
        self.schema = schema
        self.collection = collection
        self.conditions = 0
        self.values = 0

    def _count(self, path: str, values: int = 0) -> None:
        self.conditions += 1
        self.values += values
        if self.conditions > MAX_FILTER_CONDITIONS:
            raise InvalidFilter(f"the filter has more than {MAX_FILTER_CONDITIONS} conditions", field=path)
        if self.values > MAX_FILTER_VALUES:
            raise InvalidFilter(f"the filter has more than {MAX_FILTER_VALUES} values", field=path)

    def filter(self, value: Any, path: str, depth: int) -> Node:
        """An object of clauses, ANDed (``{}`` is an empty AND: every document)."""
        if not isinstance(value, dict):
            raise InvalidFilter(f"a filter is a JSON object, not {_describe(value)}", field=path)
        if depth > MAX_FILTER_DEPTH:
            raise InvalidFilter(f"filters are nested at most {MAX_FILTER_DEPTH} levels deep", field=path)
        parts: list[Node] = []
        for key, item in value.items():
            sub = f"{path}.{key}"
            if key in ("and", "or"):
                parts.append(self._branches(key, item, sub, depth))
            elif key == "not":
                self._count(sub)
                parts.append(Not(self.filter(item, sub, depth + 1)))
            else:
                parts.extend(self._field(key, item, sub))
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def _branches(self, key: str, items: Any, path: str, depth: int) -> Node:
        if not isinstance(items, list) or not items:
            raise InvalidFilter(f"{key!r} takes a non-empty list of filters, not {_describe(items)}", field=path)
        self._count(path)
        parts = tuple(self.filter(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(items))
        return All(parts) if key == "and" else AnyOf(parts)

    def _kind(self, key: str, path: str) -> str:
        kind = self.schema.get(key)
        if kind is None:
            known = f"; known fields: {', '.join(sorted(self.schema))}" if self.schema else ""
            raise UnknownFilterField(
                f"no document in collection {self.collection!r} has metadata field {key!r}{known}", field=path
            )
        return kind

    def _field(self, key: str, spec: Any, path: str) -> list[Node]:
        """``field: scalar`` (equality) or ``field: {op: value, ...}`` (each op one node, ANDed)."""
        if isinstance(spec, dict):
            if not spec:
                raise InvalidFilter(f"the operators on {key!r} are empty; use one of {', '.join(OPERATORS)}", field=path)
            kind = self._kind(key, path)
            return [self._operator(key, kind, op, value, f"{path}.{op}") for op, value in spec.items()]
        if value_kind(spec) is None:
            raise InvalidFilter(
                f"filter on {key!r} must be a string, number, boolean or an object of operators, not {_describe(spec)}",
                field=path,
            )
        return [self._operator(key, self._kind(key, path), "eq", spec, path)]

    def _operator(self, key: str, kind: str, op: str, value: Any, path: str) -> Node:
        self._count(path, len(value) if isinstance(value, list) else 1)
        if op in COMPARISONS:
            self._applies(key, kind, op, _SCALAR_KINDS if op in ("eq", "ne") else ("string", "number"), path)
            self._typed(key, kind, value, path)
            node: Node = Condition(key, kind, "eq" if op == "ne" else op, value)
            return Not(node) if op == "ne" else node
        if op in ("in", "nin"):
            self._applies(key, kind, op, _SCALAR_KINDS, path)
            if not isinstance(value, list) or not value or len(value) > MAX_FILTER_LIST:
                raise InvalidFilter(
                    f"{op!r} takes a list of 1 to {MAX_FILTER_LIST} values, not "
                    + (f"{len(value)} values" if isinstance(value, list) else _describe(value)),
                    field=path,
                )
            for i, item in enumerate(value):
                self._typed(key, kind, item, f"{path}[{i}]")
            node = Condition(key, kind, "in", tuple(dict.fromkeys(value)))
            return Not(node) if op == "nin" else node
        if op == "exists":
            if not isinstance(value, bool):
                raise InvalidFilter(f"'exists' takes true or false, not {_describe(value)}", field=path)
            node = Condition(key, kind, "exists", None)
            return node if value else Not(node)
        if op == "contains":
            self._applies(key, kind, op, ("array",), path)
            if value_kind(value) is None:
                raise InvalidFilter(
                    f"'contains' takes a string, number or boolean (an element of {key!r}), not {_describe(value)}",
                    field=path,
                )
            return Condition(key, kind, "contains", value)
        raise InvalidFilter(f"unknown filter operator {op!r} on {key!r}; use one of {', '.join(OPERATORS)}", field=path)

    @staticmethod
    def _applies(key: str, kind: str, op: str, kinds: tuple[str, ...], path: str) -> None:
        if kind not in kinds:
            hint = "; use 'contains' for an element of an array" if kind == "array" else ""
            raise FilterTypeMismatch(
                f"{op!r} does not apply to {key!r}, which holds {kind} values (only {', '.join(kinds)}){hint}",
                field=path,
            )

    @staticmethod
    def _typed(key: str, kind: str, value: Any, path: str) -> None:
        got = value_kind(value)
        if got is None:
            raise InvalidFilter(f"filter on {key!r} compares with {_describe(value)}; use a {kind}", field=path)
        if got != kind:
            raise FilterTypeMismatch(f"filter on {key!r} is a {got} but the field holds {kind} values", field=path)


def parse_filter(where: dict[str, Any], schema: dict[str, str], collection: str) -> Node:
    """The tree of a request's ``filter``, every field and value checked against ``schema``.

    Raises InvalidFilter (malformed), UnknownFilterField or FilterTypeMismatch,
    each with ``field`` the path of the offending key or value.
    """
    return _Parser(schema, collection).filter(where, "filter", 0)


