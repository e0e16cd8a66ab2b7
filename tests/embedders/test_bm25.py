"""The bm25 family and its keyword index, without the service."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from embedders import registry
from embedders.bm25 import BM25Embedder, BM25Spec, KeywordIndex, is_keyword
from embedders.errors import EmptyText, NotSupported
from embedders.registry import AnyEmbedderSpec


def test_registered_and_spec_round_trip(tmp_path: Path) -> None:
    assert "bm25" in registry.families()
    spec = TypeAdapter(AnyEmbedderSpec).validate_python({"type": "bm25", "k1": 1.2, "b": 0.5, "method": "robertson"})
    assert isinstance(spec, BM25Spec)
    with pytest.raises(ValidationError):
        TypeAdapter(AnyEmbedderSpec).validate_python({"type": "bm25", "b": 2})
    emb = registry.create(spec)
    assert is_keyword(emb) and not emb.trainable
    emb.save(tmp_path / "m")
    loaded = registry.load(tmp_path / "m")
    assert isinstance(loaded, BM25Embedder) and loaded.spec == spec
    with pytest.raises(NotSupported):
        loaded.embed_query("x")


def test_index_add_replace_remove_filter_and_snapshot(tmp_path: Path) -> None:
    index = KeywordIndex(BM25Spec())
    assert index.add_texts([1, 2, 3, 4], ["red apple pie", "green apple", "blue sky", "!!!"]) == [4]
    assert len(index) == 3 and 4 not in index
    assert [i for i, _ in index.search_text("apple", 10)] == [2, 1]  # shorter document first
    assert [i for i, _ in index.search_text("apple", 10, allowed_ids=np.array([1, 3]))] == [1]
    assert [i for i, _ in index.search_text("apple", 10, exclude=2)] == [1]
    index.add_texts([2], ["green pear"])
    assert [i for i, _ in index.search_text("apple", 10)] == [1]
    assert index.remove([1, 99]) == 1
    assert index.search_text("apple", 10) == []
    with pytest.raises(EmptyText):
        index.search_text("...", 10)
    index.save(tmp_path / "ix", extra={"last_change_id": 7})
    again = KeywordIndex.load(tmp_path / "ix")
    assert again.extra == {"last_change_id": 7} and len(again) == 0 and again.spec == index.spec
    assert KeywordIndex(BM25Spec()).search_text("apple", 3) == []  # an empty index answers nothing
