"""Phrases learned from the corpus (gensim Phrases): pairs joined for training, queries and analysis, and saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from embedders import registry
from embedders.base import ListCorpus
from embedders.phrases import PhrasedTokenizer, PhrasesSpec, learn_phrases
from embedders.tokenizer import Tokenizer

SENTENCES = [
    "new york is a big city and new york never sleeps",
    "she moved to new york for work in the city",
    "los angeles is warm while new york is cold",
    "the train from new york to boston is fast",
    "people in los angeles drive and people in new york walk",
    "a city like new york has many museums",
    "new york pizza and los angeles tacos",
    "boston is smaller than new york",
    "语言模型 用于 语言模型 评测 语言模型 训练",
    "大的 语言模型 和 小的 语言模型",
]


def _corpus() -> ListCorpus:
    return ListCorpus((i + 1, t) for i, t in enumerate(SENTENCES * 2))


def test_frequent_pairs_are_found_and_joined_greedily() -> None:
    base = Tokenizer()
    grams = learn_phrases((base.tokenize(t) for t in SENTENCES * 2), PhrasesSpec(min_count=3, threshold=1.0))
    assert "new_york" in grams and "is_a" not in grams
    phrased = PhrasedTokenizer(base, grams)
    assert phrased.tokenize("I love New York") == ["i", "love", "new_york"]
    assert phrased.join(["new"]) == ["new"] and phrased.join([]) == []
    # left to right: with a_b and b_c both learned, a_b wins and c stays alone
    assert PhrasedTokenizer(base, {"a_b": 1.0, "b_c": 1.0}).join(["a", "b", "c"]) == ["a_b", "c"]


def test_spec_checks_the_threshold_against_its_scorer() -> None:
    with pytest.raises(ValidationError, match="npmi"):
        PhrasesSpec(scoring="npmi", threshold=5.0)
    with pytest.raises(ValidationError, match="positive"):
        PhrasesSpec(threshold=0.0)


@pytest.mark.parametrize("family", ["word2vec", "doc2vec"])
def test_a_family_trains_queries_and_saves_with_its_phrases(family: str, tmp_path: Path) -> None:
    spec = {"type": family, "dim": 16, "epochs": 5, "min_count": 1, "workers": 1, "seed": 3,
            "phrases": {"min_count": 3, "threshold": 1.0}}
    model = registry.create(registry.parse_spec(spec)).fit(_corpus())
    assert model.analyze("the New York train") == ["new_york", "train"]
    plain = registry.create(registry.parse_spec({**spec, "phrases": None})).fit(_corpus())
    assert plain.analyze("the New York train") == ["new", "york", "train"]
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "phrases.json").is_file()
    loaded = registry.load(tmp_path / "m")
    assert loaded.analyze("the New York train") == ["new_york", "train"]
    assert np.allclose(loaded.embed_query("new york"), model.embed_query("new york"), atol=1e-6)
    if family == "word2vec":  # the phrase is a word of the vocabulary, with neighbours of its own
        assert loaded.word_neighbors("new york", 3)
