"""A boolean is never read as a number in a spec (pydantic's lax mode would read ``true`` as ``1``)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from embedders import registry
from embedders.strict_numbers import _numeric
from embedders.tokenizer import TokenizerSpec
from indexers.base import IndexSpec, SearchParams


def _numeric_fields(model: type[BaseModel]) -> list[str]:
    return [name for name, field in model.model_fields.items() if _numeric(field.annotation)]


SPECS: list[type[BaseModel]] = [registry.spec_class(f) for f in registry.families()] + [
    TokenizerSpec,
    IndexSpec,
    SearchParams,
]


@pytest.mark.parametrize("model", SPECS, ids=lambda m: m.__name__)
def test_every_numeric_field_refuses_a_boolean_naming_the_field(model: type[BaseModel]) -> None:
    fields = _numeric_fields(model)
    base = {"type": model.model_fields["type"].default} if "type" in model.model_fields else {}
    for name in fields:
        with pytest.raises(ValidationError) as info:
            model.model_validate({**base, name: True})
        (error,) = info.value.errors()
        assert error["loc"] == (name,) and "boolean" in error["msg"], error


def test_the_numeric_fields_are_found() -> None:
    assert {"dim", "epochs", "seed", "window", "sample"} <= set(_numeric_fields(registry.spec_class("word2vec")))
    assert {"ef_search", "nprobe"} <= set(_numeric_fields(SearchParams))


def test_numbers_and_nulls_still_pass() -> None:
    spec = registry.parse_spec({"type": "word2vec", "seed": 3, "dim": 16, "sample": 0})
    assert spec.seed == 3 and spec.sample == 0  # type: ignore[attr-defined]
    assert SearchParams(ef_search=None).ef_search is None
    assert IndexSpec(ivf_nlist=None).ivf_nlist is None
