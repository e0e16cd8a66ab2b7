"""The shipped corpora and the Lee benchmark helper."""

from __future__ import annotations

import numpy as np
import pytest

from embedders.datasets import cosine_matrix, evaluate_lee, lee_background, lee_human_similarity, lee_test
from embedders.tokenizer import Tokenizer, TokenizerSpec


def test_corpora_sizes_and_encoding() -> None:
    background, test = lee_background(), lee_test()
    assert len(background) == 300 and len(test) == 50
    assert all(doc.strip() == doc and doc for doc in background + test)
    # lee.cor is latin-1: decoded correctly, the pound sign is there.
    assert any("£" in doc for doc in test)
    assert "Hundreds of people have been forced to vacate their homes" in background[0]


def test_human_similarity_matrix() -> None:
    human = lee_human_similarity()
    assert human.shape == (50, 50)
    assert np.array_equal(human, human.T)
    assert np.all(np.diag(human) == 1.0)
    assert human.min() >= 0.0 and human.max() <= 1.0
    human[0, 1] = 42  # callers get a copy
    assert lee_human_similarity()[0, 1] != 42


def test_evaluate_lee_separates_signal_from_noise() -> None:
    rng = np.random.default_rng(0)
    assert abs(evaluate_lee(lambda docs: rng.normal(size=(len(docs), 16)))) < 0.15
    # A bag-of-words baseline (measured r = 0.534 with English stop words removed).
    tokenizer = Tokenizer(TokenizerSpec(stopwords="english"))
    vocab = {w: i for i, w in enumerate(sorted({w for d in lee_test() for w in tokenizer.tokenize(d)}))}

    def bow(docs: list[str]) -> np.ndarray:
        out = np.zeros((len(docs), len(vocab)))
        for row, doc in enumerate(docs):
            for w in tokenizer.tokenize(doc):
                out[row, vocab[w]] += 1
        return out

    assert evaluate_lee(bow) == pytest.approx(0.534, abs=0.01)
    with pytest.raises(ValueError):
        evaluate_lee(lambda docs: np.zeros((3, 4)))


def test_cosine_matrix_handles_zero_rows() -> None:
    sims = cosine_matrix(np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 0.0]]))
    assert sims[0, 2] == pytest.approx(1.0)
    assert sims[1].tolist() == [0.0, 0.0, 0.0]


def test_files_are_gensims_test_data() -> None:
    from gensim.test.utils import datapath

    from embedders.datasets import _test_data

    for name in ("lee_background.cor", "lee.cor", "similarities0-1.txt"):
        assert _test_data(name).samefile(datapath(name))
