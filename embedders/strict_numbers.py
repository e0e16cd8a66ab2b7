"""Booleans are not numbers in a spec: ``"seed": false`` or ``"dim": true`` is refused, naming the field.

pydantic's lax mode reads ``true`` as ``1`` for an ``int`` field, so a client
that sends the wrong JSON type gets a spec it did not mean (and the OpenAPI
document, which says ``integer``, would be wrong about what the server
accepts). Strict mode would fix that but also refuse what a stored spec or
the CLI legitimately passes (enum names as strings, ``1`` for a float), so
only this one coercion is closed. Booleans themselves are ``StrictBool``
fields (``0`` is not ``false``).

A spec class opts in with one line in its body::

    _numbers_are_not_booleans = numbers_are_not_booleans()
"""

from __future__ import annotations

from types import NoneType
from typing import Any, get_args

from pydantic import model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError


def _numeric(annotation: Any) -> bool:
    """``int``, ``float`` or an optional one (``int | None``); not a union with other types."""
    if annotation in (int, float):
        return True
    args = get_args(annotation)
    return any(a in (int, float) for a in args) and all(a in (int, float, NoneType) for a in args)


_CODE, _MESSAGE = "bool_is_not_a_number", "expected a number, got the boolean {value}"


def _refuse(cls: Any, data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    errors = [
        InitErrorDetails(type=PydanticCustomError(_CODE, _MESSAGE, {"value": str(v).lower()}), loc=(name,), input=v)
        for name, v in data.items()
        if isinstance(v, bool) and name in cls.model_fields and _numeric(cls.model_fields[name].annotation)
    ]
    if errors:
        # Raised as a ValidationError, pydantic places each error at its field (``embedder.word2vec.seed``).
        raise ValidationError.from_exception_data(cls.__name__, errors)
    return data


def numbers_are_not_booleans() -> Any:
    """A before-validator of the model (and its subclasses) that refuses a bool for a numeric field.

    A model validator, not a ``field_validator("*")``: pydantic forbids before-validators on the
    discriminator field (``type``) of the embedder specs.
    """
    return model_validator(mode="before")(_refuse)
