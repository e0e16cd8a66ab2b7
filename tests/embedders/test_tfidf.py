"""tfidf: rare shared words weigh more than common ones, the vocabulary cap keeps the frequent words,
LSA with every axis kept gives the same cosines (it is this weighting, projected), save/load is exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embedders.base import ListCorpus
from embedders.datasets import cosine_matrix, evaluate_lee, lee_background, lee_test
from embedders.errors import EmptyText, EmptyVocabulary, ModelFileError
from embedders.lsa import LSAEmbedder, LSASpec
from embedders.registry import load as load_embedder
from embedders.tfidf import TfidfEmbedder, TfidfSpec

DOCS = [
    "the cat sat on the mat",
    "the cat chased a mouse",
    "the dog sat on the rug",
    "a mouse ate the cheese",
    "the dog chased the cat",
    "stock markets fell on friday",
]


def _model(**spec: object) -> TfidfEmbedder:
    return TfidfEmbedder(TfidfSpec(min_count=1, max_df=1.0, **spec)).fit(ListCorpus(enumerate(DOCS, 1)))


def test_a_rare_shared_word_counts_more_than_a_common_one() -> None:
    model = _model()
    query = model.embed_query("cheese cat")  # cheese: 1 document, cat: 3
    v = model.embed_documents(DOCS)
    scores = v @ query
    assert int(np.argmax(scores)) == 3  # "a mouse ate the cheese"
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)


def test_the_cap_keeps_the_words_found_in_most_documents_and_sets_the_dimension() -> None:
    model = _model(max_features=3)
    assert model.dim == 3
    # cat (3 docs) must survive a cap of 3; "cheese" (1 doc) must not.
    assert "cat" in model._words and "cheese" not in model._words
    with pytest.raises(EmptyText):
        model.embed_query("cheese")


def test_no_word_left_names_min_count() -> None:
    with pytest.raises(EmptyVocabulary) as err:
        TfidfEmbedder(TfidfSpec(min_count=50)).fit(ListCorpus(enumerate(DOCS, 1)))
    assert err.value.field == "embedder.min_count"


def test_lsa_with_every_axis_has_the_same_cosines(tmp_path: Path) -> None:
    corpus = ListCorpus(enumerate(DOCS * 2, 1))
    tfidf = TfidfEmbedder(TfidfSpec(min_count=1, max_df=1.0)).fit(corpus)
    lsa = LSAEmbedder(LSASpec(min_count=1, max_df=1.0, dim=64)).fit(corpus)
    probe = DOCS  # inside the span of the training matrix, where the SVD with every axis loses nothing
    np.testing.assert_allclose(cosine_matrix(tfidf.embed_documents(probe)), cosine_matrix(lsa.embed_documents(probe)), atol=1e-4)


def test_saved_and_loaded_embeds_the_same_and_a_bad_file_is_refused(tmp_path: Path) -> None:
    model = _model()
    model.save(tmp_path / "m")
    loaded = load_embedder(tmp_path / "m")
    assert isinstance(loaded, TfidfEmbedder) and loaded.dim == model.dim
    np.testing.assert_array_equal(loaded.embed_documents(DOCS), model.embed_documents(DOCS))
    np.save(tmp_path / "m" / "idf.npy", np.ones(2, dtype=np.float32))
    with pytest.raises(ModelFileError):
        TfidfEmbedder.load(tmp_path / "m")


def test_on_lee_it_beats_raw_counts_and_truncated_lsa() -> None:
    """Real data: Lee 2005's 50 rated documents (1225 pairs), trained on the 300 background + 50 texts."""
    corpus = ListCorpus(enumerate([*lee_background(), *lee_test()]))
    tfidf = evaluate_lee(TfidfEmbedder().fit(corpus).embed_documents)
    lsa = evaluate_lee(LSAEmbedder(LSASpec(dim=100)).fit(corpus).embed_documents)
    assert tfidf > 0.58 and tfidf > lsa + 0.03, (tfidf, lsa)


def test_binary_weighting_is_one_hot_and_survives_save_and_load(tmp_path: Path) -> None:
    """weighting "binary": a document's vector is 1/sqrt(n) on each of its n distinct known words, so the cosine
    of two documents is their shared words over the geometric mean of their word counts; repeats and idf
    change nothing."""
    model = _model(weighting="binary", tokenizer={"stopwords": "none"})
    a, b = model.embed_documents(["cat cat cat mouse", "cat dog rug"])
    assert float(a @ b) == pytest.approx(1 / np.sqrt(2 * 3), abs=1e-6)  # "cat" shared; 2 and 3 distinct words
    np.testing.assert_allclose(a[a > 0], [1 / np.sqrt(2)] * 2, atol=1e-6)  # cat and mouse, the repeats ignored
    model.save(tmp_path / "m")
    loaded = load_embedder(tmp_path / "m")
    assert isinstance(loaded, TfidfEmbedder) and loaded.spec.weighting == "binary"
    np.testing.assert_array_equal(loaded.embed_documents(DOCS), model.embed_documents(DOCS))


def test_on_lee_tfidf_beats_one_hot() -> None:
    """The lineage's first step on real data: idf and sublinear counts add over a bag of words (0.601 vs 0.553)."""
    corpus = ListCorpus(enumerate([*lee_background(), *lee_test()]))
    tfidf = evaluate_lee(TfidfEmbedder().fit(corpus).embed_documents)
    onehot = evaluate_lee(TfidfEmbedder(TfidfSpec(weighting="binary")).fit(corpus).embed_documents)
    assert 0.5 < onehot < tfidf - 0.03, (onehot, tfidf)
