"""word2vec specifics: word neighbours, analogies, weightings, SIF, pickle-free files, quality."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedders import (
    InvalidParameter,
    ListCorpus,
    OutOfVocabulary,
    Word2VecEmbedder,
    Word2VecSpec,
    WordVectors,
)
from embedders.datasets import evaluate_lee, lee_test
from embedders.training import MAX_DEFAULT_WORKERS, default_workers

# Measured with bench/eval_lee.py (default spec, 350 Lee documents, seeds 1-3): see
# bench/results/lee_eval.json. The threshold leaves a wide margin for thread timing.
LEE_MIN_PEARSON = 0.58  # measured 0.645 (min 0.638 over seeds 1-3)


@pytest.fixture(scope="module")
def w2v(background_corpus: ListCorpus) -> Word2VecEmbedder:
    """Small but useful: enough epochs for neighbours to make sense."""
    spec = Word2VecSpec(dim=32, epochs=10, min_count=3, workers=2, weighting="mean")
    return Word2VecEmbedder(spec).fit(background_corpus)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_is_word_vectors(w2v: Word2VecEmbedder) -> None:
    assert isinstance(w2v, WordVectors)


def test_word_neighbors(w2v: Word2VecEmbedder) -> None:
    neighbours = w2v.word_neighbors("fire", 5)
    assert len(neighbours) == 5
    words = [w for w, _ in neighbours]
    scores = [s for _, s in neighbours]
    assert "fire" not in words
    assert scores == sorted(scores, reverse=True)
    assert all(isinstance(s, float) and -1.0 <= s <= 1.0 for s in scores)
    # The word is normalised by the shared tokenizer first.
    assert w2v.word_neighbors("  FIRE ", 5) == neighbours


@pytest.mark.parametrize("word", ["qwxzjv", "", "fire brigade", "!!!"])
def test_word_neighbors_unknown_word(w2v: Word2VecEmbedder, word: str) -> None:
    with pytest.raises(OutOfVocabulary) as info:
        w2v.word_neighbors(word, 5)
    assert info.value.word == word
    assert info.value.code == "out_of_vocabulary"


def test_bad_k(w2v: Word2VecEmbedder) -> None:
    with pytest.raises(InvalidParameter):
        w2v.word_neighbors("fire", 0)


def test_analogy_excludes_inputs(w2v: Word2VecEmbedder) -> None:
    result = w2v.analogy(["sydney", "israeli"], ["australian"], 10)
    assert len(result) == 10
    words = {w for w, _ in result}
    assert not words & {"sydney", "israeli", "australian"}
    # With no negative word it is the neighbourhood of the sum.
    assert [w for w, _ in w2v.analogy(["fire"], [], 3)] == [w for w, _ in w2v.word_neighbors("fire", 3)]


def test_analogy_errors(w2v: Word2VecEmbedder) -> None:
    with pytest.raises(OutOfVocabulary) as info:
        w2v.analogy(["sydney"], ["qwxzjv"], 3)
    assert info.value.field == "negative"
    with pytest.raises(InvalidParameter):
        w2v.analogy([], ["sydney"], 3)


def test_document_vector_is_the_weighted_average(w2v: Word2VecEmbedder) -> None:
    kv = w2v.keyed_vectors
    # Unknown words and punctuation are skipped; repeated words count twice.
    got = w2v.embed_query("Fire, fire said the qwxzjv police!")
    expected = (2 * kv["fire"].astype(np.float64) + kv["said"] + kv["police"]) / 4
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)

    tfidf = w2v.reweighted("tfidf")
    idf = {w: np.log((1 + 300) / (1 + tfidf._state().doc_freqs[kv.key_to_index[w]])) + 1 for w in ("fire", "said")}
    expected = (idf["fire"] * kv["fire"].astype(np.float64) + idf["said"] * kv["said"]) / (idf["fire"] + idf["said"])
    np.testing.assert_allclose(tfidf.embed_query("fire said"), expected, rtol=1e-5, atol=1e-7)
    # A rare word outweighs a word found in almost every document.
    assert idf["fire"] > 2 * idf["said"]


def test_each_weighting_embeds_differently(w2v: Word2VecEmbedder, background_corpus: ListCorpus) -> None:
    docs = lee_test()[:5]
    by_weighting = {
        "mean": w2v.embed_documents(docs),
        "tfidf": w2v.reweighted("tfidf").embed_documents(docs),
        "sif": w2v.reweighted("sif", background_corpus).embed_documents(docs),
    }
    for name, vectors in by_weighting.items():
        assert vectors.shape == (5, 32) and vectors.dtype == np.float32 and np.all(np.isfinite(vectors)), name
    assert not np.allclose(by_weighting["mean"], by_weighting["tfidf"])
    assert not np.allclose(by_weighting["mean"], by_weighting["sif"])
    assert not np.allclose(by_weighting["tfidf"], by_weighting["sif"])


def test_sif_removes_the_principal_component(w2v: Word2VecEmbedder, background_corpus: ListCorpus) -> None:
    sif = w2v.reweighted("sif", background_corpus)
    u = sif._state().component
    assert u is not None and u.shape == (32,)
    assert np.linalg.norm(u) == pytest.approx(1.0, abs=1e-5)
    docs = lee_test()
    vectors = sif.embed_documents(docs).astype(np.float64)
    # Every document vector is orthogonal to the component ...
    assert np.max(np.abs(vectors @ u) / np.linalg.norm(vectors, axis=1)) < 1e-4
    # ... which was a large part of the weighted averages before removal (the
    # common direction that made every document look alike).
    without = w2v.reweighted("sif", background_corpus)
    without._pooling = type(without._pooling)(**{**without._pooling.__dict__, "component": None})
    raw = without.embed_documents(docs).astype(np.float64)
    share = np.abs(raw @ u) / np.linalg.norm(raw, axis=1)
    assert np.median(share) > 0.5
    assert not np.allclose(raw, vectors)


def test_sif_needs_corpus_to_reweight(w2v: Word2VecEmbedder) -> None:
    with pytest.raises(InvalidParameter):
        w2v.reweighted("sif")


def test_saved_files_are_pickle_free_and_memory_mapped(
    w2v: Word2VecEmbedder, background_corpus: ListCorpus, tmp_path: Path
) -> None:
    sif = w2v.reweighted("sif", background_corpus)
    sif.save(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["manifest.json", "sif_component.npy", "vectors.npy", "vocab.json", "weights.npy"]
    for path in tmp_path.glob("*.npy"):
        np.load(path, allow_pickle=False)  # raises on any pickled object array
    for path in tmp_path.glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "gensim" in manifest["versions"]

    loaded = Word2VecEmbedder.load(tmp_path)
    assert isinstance(loaded._state().vectors, np.memmap)
    assert loaded.word_neighbors("fire", 5) == sif.word_neighbors("fire", 5)
    assert loaded.analogy(["sydney"], ["fire"], 3) == sif.analogy(["sydney"], ["fire"], 3)
    assert np.array_equal(loaded.embed_documents(lee_test()), sif.embed_documents(lee_test()))


def test_default_workers_capped() -> None:
    assert 1 <= default_workers() <= MAX_DEFAULT_WORKERS
    assert Word2VecSpec().workers == default_workers()


def test_chinese_corpus_trains_and_answers() -> None:
    sentences = [
        "我爱北京天安门",
        "北京是中国的首都",
        "上海是中国的经济中心",
        "我们在北京学习中文",
        "天安门在北京",
        "中国的首都是北京",
    ] * 5
    corpus = ListCorpus(enumerate(sentences))
    model = Word2VecEmbedder(Word2VecSpec(dim=8, epochs=5, min_count=2, workers=1)).fit(corpus)
    assert "北京" in model.keyed_vectors.key_to_index
    assert model.word_neighbors("北京", 3)
    assert np.any(model.embed_query("北京的天安门"))


@pytest.mark.slow
def test_default_spec_quality_on_lee(lee_corpus: ListCorpus) -> None:
    model = Word2VecEmbedder(Word2VecSpec()).fit(lee_corpus)
    r = evaluate_lee(model.embed_documents)
    assert r > LEE_MIN_PEARSON, f"Lee correlation {r:.3f}"
    # Topical neighbours: the corpus has many stories on the Afghan war.
    neighbours = {w for w, _ in model.word_neighbors("taliban", 10)}
    assert neighbours & {"afghanistan", "afghan", "kandahar", "al", "qaeda", "laden", "bin", "northern", "alliance"}
