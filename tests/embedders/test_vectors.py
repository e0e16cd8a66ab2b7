"""Family "vectors": supplied embeddings are checked, never embedded; the spec is all it saves."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from embedders import (
    AnyEmbedderSpec,
    Capability,
    EmbedderError,
    InvalidVectors,
    NotSupported,
    VectorsEmbedder,
    VectorsSpec,
    create,
    load,
    parse_spec,
)
from embedders.storage import MANIFEST_NAME


def embedder(dim: int = 3, metric: str = "cosine") -> VectorsEmbedder:
    made = create(parse_spec({"type": "vectors", "dim": dim, "metric": metric}))
    assert isinstance(made, VectorsEmbedder)
    return made


def test_spec_parses_and_validates() -> None:
    spec = parse_spec({"type": "vectors", "dim": 384})
    assert isinstance(spec, VectorsSpec) and spec.dim == 384 and spec.metric == "cosine"
    assert isinstance(TypeAdapter(AnyEmbedderSpec).validate_python({"type": "vectors", "dim": 2, "metric": "l2"}),
                      VectorsSpec)
    for bad in ({}, {"dim": 0}, {"dim": 8193}, {"dim": "wide"}, {"dim": 3, "metric": "hamming"},
                {"dim": 3, "model": "x"}):
        with pytest.raises(ValidationError):
            parse_spec({"type": "vectors", **bad})


def test_declares_given_vectors_only() -> None:
    e = embedder()
    assert e.capabilities == {Capability.GIVEN_VECTORS}
    assert e.trainable is False
    assert e.dim == 3 and e.metric == "cosine"
    assert embedder(metric="ip").metric == "ip"


def test_text_is_refused_with_a_pointer_to_vectors() -> None:
    e = embedder()
    with pytest.raises(NotSupported) as info:
        e.embed_query("hello")
    assert info.value.field == "query" and "vector" in info.value.message
    with pytest.raises(NotSupported) as info:
        e.embed_documents(["hello"])
    assert "vector" in info.value.message


def test_check_vectors_returns_float32_rows() -> None:
    e = embedder()
    out = e.check_vectors([[1, 2, 3], [0.5, -1.0, 2.25]], field="documents.vector")
    assert out.dtype == np.float32 and out.shape == (2, 3)
    assert np.array_equal(out, np.array([[1, 2, 3], [0.5, -1.0, 2.25]], dtype=np.float32))
    # One flat vector (a query) is one row; numpy input works as well.
    assert e.check_vectors([1.0, 0.0, 0.0], field="query").shape == (1, 3)
    arr = np.arange(6, dtype=np.float64).reshape(2, 3) + 1
    assert np.array_equal(e.check_vectors(arr, field="vectors"), arr.astype(np.float32))
    assert e.check_vectors([], field="vectors").shape == (0, 3)


@pytest.mark.parametrize(
    ("vectors", "needle"),
    [
        ([[1, 2]], "has 2 numbers; this space needs 3"),
        ([1, 2, 3, 4], "has 4 numbers"),
        ([[1, 2, 3], [1, 2]], "[1] has 2 numbers"),
        ([[1, math.nan, 3]], "NaN"),
        ([[1, math.inf, 3]], "infinite"),
        ([[1, -math.inf, 3]], "infinite"),
        ([[1, 1e39, 3]], "float32"),
        ([[1, 10**400, 3]], "float32"),
        ([[1, "2", 3]], "not a number"),
        ([[1, None, 3]], "not a number"),
        ([[1, True, 3]], "not a number"),
        ([[0, 0, 0]], "all zeros"),
        ([[1, 2, 3], 4], "must be a list of 3 numbers"),
        ("1,2,3", "must be a list"),
        (np.array([["a", "b", "c"]]), "must hold numbers"),
        (np.zeros((1, 1, 3)), "3-d array"),
    ],
)
def test_bad_vectors_name_the_field(vectors: object, needle: str) -> None:
    with pytest.raises(InvalidVectors) as info:
        embedder().check_vectors(vectors, field="items.vector")  # type: ignore[arg-type]
    assert isinstance(info.value, EmbedderError)
    assert info.value.code == "invalid_vectors"
    assert info.value.field == "items.vector"
    assert needle in info.value.message and "items.vector" in info.value.message


def test_zero_vector_is_fine_without_cosine() -> None:
    for metric in ("ip", "l2"):
        assert not embedder(metric=metric).check_vectors([[0, 0, 0]], field="v").any()


def test_save_load_round_trip_writes_only_a_manifest(tmp_path: Path) -> None:
    e = embedder(dim=5, metric="l2")
    e.save(tmp_path / "m")
    assert [p.name for p in (tmp_path / "m").iterdir()] == [MANIFEST_NAME]
    manifest = json.loads((tmp_path / "m" / MANIFEST_NAME).read_text())
    assert manifest["type"] == "vectors" and manifest["dim"] == 5 and manifest["metric"] == "l2"
    loaded = load(tmp_path / "m")
    assert isinstance(loaded, VectorsEmbedder) and loaded.spec == e.spec
    given = [[1, 2, 3, 4, 5]]
    assert np.array_equal(loaded.check_vectors(given, field="v"), e.check_vectors(given, field="v"))
