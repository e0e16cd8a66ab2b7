"""Local/remote congruence for the answer models: each model in ``vecdex_client`` has the fields, the
required-ness, the nullability and the JSON types of the server's OpenAPI component of the same
name, so a server change the client does not follow fails here instead of in a user's program."""

from __future__ import annotations

import inspect
import types
import typing
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel

import vecdex_client as vc
from vecdex_client import _models
from service.api import create_app
from service.settings import Settings

MODELS = [
    cls
    for name, cls in vars(_models).items()
    if inspect.isclass(cls) and issubclass(cls, BaseModel) and not name.startswith("_") and cls.__module__ == _models.__name__
]
_JSON = {str: "string", int: "integer", float: "number", bool: "boolean", datetime: "string", dict: "object", list: "array"}


@pytest.fixture(scope="module")
def components(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("openapi")
    app = create_app(Settings(data_dir=root, database_url=f"sqlite:///{root / 'v.db'}"), run_worker=False)  # type: ignore[call-arg]
    return app.openapi()["components"]["schemas"]


def _server_types(prop: dict[str, Any]) -> tuple[set[str], bool]:
    """The JSON types a property may take and whether it may be null."""
    options = prop.get("anyOf", [prop])
    kinds = {o.get("type", "object" if "$ref" in o else o.get("const") and "string") for o in options}
    if any("enum" in o or "const" in o for o in options):
        kinds = {o.get("type", "string") for o in options}
    nullable = "null" in kinds
    return kinds - {"null", None}, nullable


def _client_types(annotation: Any) -> tuple[set[str], bool]:
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    kinds: set[str] = set()
    nullable = False
    for arg in args:
        if arg is type(None):
            nullable = True
            continue
        origin = typing.get_origin(arg) or arg
        if origin is typing.Literal:
            kinds.add("string")
        elif inspect.isclass(origin) and issubclass(origin, BaseModel):
            kinds.add("object")
        else:
            kinds.add(_JSON[origin])
    return kinds, nullable


def test_the_client_answers_cover_what_it_returns() -> None:
    assert len(MODELS) >= 20
    assert {m.__name__ for m in MODELS} <= set(vc.__all__)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_answer_model_matches_the_server_component(model: type[BaseModel], components: dict[str, Any]) -> None:
    assert model.__name__ in components, f"the server has no component named {model.__name__}"
    component = components[model.__name__]
    server_props: dict[str, Any] = component["properties"]
    assert set(model.model_fields) == set(server_props), model.__name__
    required = set(component.get("required", []))
    for name, field in model.model_fields.items():
        where = f"{model.__name__}.{name}"
        server_kinds, server_nullable = _server_types(server_props[name])
        client_kinds, client_nullable = _client_types(field.annotation)
        assert client_kinds == server_kinds, f"{where}: client {client_kinds}, server {server_kinds}"
        assert client_nullable == server_nullable, f"{where}: nullable client {client_nullable}, server {server_nullable}"
        # The client may only be more lenient: a field it requires, the server always sends.
        if field.is_required():
            assert name in required, f"{where} is required by the client but optional on the server"


def test_a_newer_server_field_is_kept_not_refused() -> None:
    hit = vc.Hit.model_validate(
        {"id": 1, "external_id": "a", "score": 0.5, "text": "t", "metadata": {}, "passage": {"start": 3}}
    )
    assert hit.external_id == "a" and hit.model_extra == {"passage": {"start": 3}}
