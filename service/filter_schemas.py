"""The request type of a metadata filter and its (recursive) JSON Schema.

A filter is a JSON object: every key but ``and`` / ``or`` / ``not`` names a
metadata field, whose value is either a scalar (equality, the short form) or an
object of operators (``{"gte": 2020, "lt": 2024}``); ``and`` / ``or`` take a
non-empty list of filters and ``not`` one filter; the clauses of an object are
ANDed. Pydantic only keeps hostile input out here (:func:`json_value`): the
structure is parsed and checked against the collection's schema by
:mod:`service.store.filter_tree`, which can name the exact path of a mistake
(``filter.or[1].year.gte``) with a filter error code, which a pydantic error
could not. The JSON Schema below describes the same grammar, so that a client
(or a fuzzer) reading the OpenAPI document sends what the parser accepts.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from .input_checks import json_value

LOGICAL = ("and", "or", "not")
"""Keys that combine filters; a metadata field with one of these names cannot be filtered on."""
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")
LIST_OPERATORS = ("in", "nin")
OPERATORS = (*COMPARISONS, *LIST_OPERATORS, "exists", "contains")
MAX_FILTER_LIST = 1000
"""Most values an ``in`` / ``nin`` list may hold (one SQL IN list; SQLite caps bound parameters)."""
MAX_FILTER_DEPTH = 8
"""Most nested ``and`` / ``or`` / ``not`` levels (the top-level object is level 0)."""
MAX_FILTER_CONDITIONS = 256
"""Most conditions (field operators and logical nodes) in one filter: SQLite refuses an expression tree
deeper than 1000, and a long AND chain is that deep."""

MAX_FILTER_VALUES = 5000
"""Most values (scalars, ``in`` / ``nin`` items included) in one filter: each is a bound parameter, and
SQLite takes at most 32,766 in one statement."""

_REF = "MetadataFilter"
_SCALAR: JsonSchemaValue = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}


def _filter_schema(_: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
    """The grammar above as JSON Schema; ``handler`` turns the self-reference into a ``$ref``."""
    me = handler(core_schema.definition_reference_schema(_REF))
    values = {"type": "array", "items": _SCALAR, "minItems": 1, "maxItems": MAX_FILTER_LIST}
    operators: JsonSchemaValue = {
        "type": "object",
        "description": "Operators on one field, ANDed. Range operators on number and string fields; contains on "
        "array fields (an element equal to the value); exists: the field has a non-null value.",
        "properties": {
            **{op: _SCALAR for op in COMPARISONS},
            "in": values,
            "nin": values,
            "exists": {"type": "boolean"},
            "contains": _SCALAR,
        },
        "additionalProperties": False,
        "minProperties": 1,
    }
    branches = {"type": "array", "items": me, "minItems": 1, "maxItems": MAX_FILTER_CONDITIONS}
    return {
        "type": "object",
        "description": "Metadata field -> value (equality) or {operator: value}; and / or: lists of filters; "
        "not: a filter. Clauses are ANDed; {} matches every document.",
        "properties": {"and": branches, "or": branches, "not": me},
        "additionalProperties": {"anyOf": [_SCALAR, operators]},
        "examples": [
            {"topic": "sport"},
            {"year": {"gte": 2020, "lt": 2024}, "tags": {"contains": "goal"}},
            {"or": [{"topic": {"in": ["sport", "news"]}}, {"not": {"draft": True}}]},
        ],
    }


class _FilterJsonSchema:
    """Marker that gives :data:`Filter` its recursive JSON Schema, registered once as a named definition."""

    @classmethod
    def __get_pydantic_json_schema__(cls, _: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        named = core_schema.any_schema(ref=_REF, metadata={"pydantic_js_functions": [_filter_schema]})
        return handler(core_schema.definitions_schema(core_schema.definition_reference_schema(_REF), [named]))


Filter = Annotated[dict[str, Any], AfterValidator(json_value), _FilterJsonSchema]
"""A metadata filter as sent; keys and values must be storable text / finite numbers (see input_checks)."""
