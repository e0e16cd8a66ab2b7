"""The family registry and the package's import weight."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

import embedders
from embedders import (
    AnyEmbedderSpec,
    Doc2VecEmbedder,
    Doc2VecSpec,
    ModelFileError,
    UnknownEmbedderType,
    Word2VecEmbedder,
    Word2VecSpec,
    create,
    families,
    load,
    parse_spec,
    spec_class,
)


def test_families_and_classes() -> None:
    assert families()[:2] == ["word2vec", "doc2vec"]
    assert spec_class("word2vec") is Word2VecSpec
    assert spec_class("doc2vec") is Doc2VecSpec
    assert isinstance(create(Word2VecSpec()), Word2VecEmbedder)
    assert isinstance(create(Doc2VecSpec()), Doc2VecEmbedder)
    for family in families():
        cls = embedders.embedder_class(family)
        assert cls.type == family and cls.spec_class.model_fields["type"].default == family


@pytest.mark.parametrize("data", [{"type": "bert-large"}, {"dim": 3}, {"type": None}, {"type": 5}])
def test_unknown_type_lists_known_ones(data: dict) -> None:
    with pytest.raises(UnknownEmbedderType) as info:
        parse_spec(data)
    assert info.value.field == "embedder.type"
    assert info.value.code == "unknown_embedder_type"
    for family in families():
        assert family in info.value.message


def test_parse_spec_dispatches_and_validates() -> None:
    spec = parse_spec({"type": "word2vec", "dim": 50, "weighting": "tfidf"})
    assert isinstance(spec, Word2VecSpec) and spec.dim == 50
    with pytest.raises(ValidationError):
        parse_spec({"type": "word2vec", "weighting": "max"})
    with pytest.raises(ValidationError):
        parse_spec({"type": "doc2vec", "weighting": "mean"})  # a word2vec-only field


def test_any_embedder_spec_is_a_discriminated_union() -> None:
    adapter = TypeAdapter(AnyEmbedderSpec)
    assert isinstance(adapter.validate_python({"type": "doc2vec"}), Doc2VecSpec)
    assert isinstance(adapter.validate_json('{"type": "word2vec", "dim": 8}'), Word2VecSpec)
    with pytest.raises(ValidationError) as info:
        adapter.validate_python({"type": "nope"})
    assert "union_tag_invalid" in str(info.value.errors()[0]["type"])
    schema = adapter.json_schema()
    assert set(schema["discriminator"]["mapping"]) == set(families())


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError):
        load(tmp_path / "missing")
    with pytest.raises(ModelFileError):
        load(tmp_path)  # exists, but holds no manifest
    (tmp_path / "manifest.json").write_text("[1, 2")
    with pytest.raises(ModelFileError):
        load(tmp_path)
    ghost = {"type": "ghost", "spec": {}, "dim": 2, "metric": "l2", "files": {}}
    (tmp_path / "manifest.json").write_text(json.dumps(ghost))
    with pytest.raises(ModelFileError) as info:
        load(tmp_path)
    assert "ghost" in info.value.message
    bad_spec = {"type": "word2vec", "spec": {"type": "word2vec", "dim": -4}, "dim": 2, "metric": "cosine", "files": {}}
    (tmp_path / "manifest.json").write_text(json.dumps(bad_spec))
    with pytest.raises(ModelFileError):
        load(tmp_path)


def test_importing_embedders_is_light() -> None:
    code = (
        "import sys, embedders, embedders.registry;"
        "heavy = [m for m in ('gensim', 'jieba', 'torch', 'safetensors', 'scipy') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stdout + done.stderr
