"""word2vec's out-of-vocabulary back-off for Han words (spec field ``oov_backoff``).

jieba glues query words into idioms and episode names (失街亭, 借东风) that a corpus
never contains as a token; the back-off embeds such a word as the known words inside
it (街亭, 东风). Tiny corpora, one training thread, so every test is exact and fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from embedders import ListCorpus, Word2VecEmbedder, Word2VecSpec
from embedders.cjk import known_pieces, search_pieces
from embedders.errors import EmptyText

# Two topics; every word is its own Han run (separated by "，"), so jieba keeps it whole.
_JIETING = ["马谡", "街亭", "魏军", "山上", "汲水", "司马懿", "丞相"]
_DONGFENG = ["周瑜", "东风", "黄盖", "火攻", "战船", "江边", "丞相"]


def _docs(words: list[str], n: int = 8) -> list[str]:
    """n documents, each the topic's words in a different rotation (so contexts vary)."""
    return ["，".join(words[i % len(words) :] + words[: i % len(words)]) + "。" for i in range(n)]


TEXTS = _docs(_JIETING) + _docs(_DONGFENG)
TOPIC = ["jieting"] * 8 + ["dongfeng"] * 8
CORPUS = ListCorpus(enumerate(TEXTS))


def _spec(**overrides: object) -> Word2VecSpec:
    base: dict[str, object] = {"dim": 16, "epochs": 30, "min_count": 1, "workers": 1, "seed": 3, "window": 3}
    return Word2VecSpec.model_validate({**base, **overrides})


@pytest.fixture(scope="module")
def trained() -> dict[str, Word2VecEmbedder]:
    return {mode: Word2VecEmbedder(_spec(oov_backoff=mode)).fit(CORPUS) for mode in ("none", "pieces", "search")}


def _top(model: Word2VecEmbedder, query: str, k: int = 3) -> list[str]:
    """Topics of the k documents nearest to the query (cosine)."""
    docs = model.embed_documents(TEXTS)
    q = model.embed_query(query)
    scores = docs @ q / (np.linalg.norm(docs, axis=1) * np.linalg.norm(q))
    return [TOPIC[i] for i in np.argsort(-scores)[:k]]


# -- the splitting itself --------------------------------------------------------------


def test_known_pieces_fewest_pieces_of_the_vocabulary() -> None:
    known = {"失", "街亭", "斩", "马", "马谡", "草", "船", "借", "箭", "东风", "督邮", "鞭"}
    assert known_pieces("失街亭", known) == ["失", "街亭"]
    assert known_pieces("斩马谡", known) == ["斩", "马谡"]  # not 斩 + 马 (+ unknown 谡)
    assert known_pieces("草船借箭", known) == ["草", "船", "借", "箭"]  # down to characters
    assert known_pieces("三顾茅庐", known) == []  # nothing known inside
    assert known_pieces("邮督", known) == []
    assert known_pieces("鞭督邮", known) == ["鞭", "督邮"]
    # Uncovered characters are dropped, never guessed; the word itself is never a piece.
    assert known_pieces("失X街亭", known) == ["失", "街亭"]
    assert known_pieces("街亭", known) == []
    assert known_pieces("失", known) == []


def test_search_pieces_are_jiebas_search_words_else_characters() -> None:
    known = {"街亭", "失", "斩", "马"}
    assert search_pieces("失街亭", known) == ["街亭"]  # jieba's search mode: 街亭
    assert search_pieces("斩马谡", known) == ["斩", "马"]  # jieba finds no word inside: known characters


# -- retrieval --------------------------------------------------------------------------


def test_oov_compound_query_finds_its_topic_only_with_the_back_off(trained: dict[str, Word2VecEmbedder]) -> None:
    for mode in ("pieces", "search"):
        model = trained[mode]
        assert model.analyze("失街亭") == ["失街亭"]  # one token, unknown to the model
        assert _top(model, "失街亭") == ["jieting"] * 3, mode
        assert _top(model, "借东风") == ["dongfeng"] * 3, mode
    with pytest.raises(EmptyText):  # without it the query has no word at all
        trained["none"].embed_query("失街亭")


def test_oov_compound_in_a_document_is_embedded(trained: dict[str, Word2VecEmbedder]) -> None:
    assert not trained["none"].embed_documents(["失街亭"]).any()
    vec = trained["pieces"].embed_documents(["失街亭"])[0]
    assert vec.any()
    np.testing.assert_allclose(vec, trained["pieces"].embed_documents(["街亭"])[0], rtol=1e-6)  # 失 unknown here


def test_known_words_and_english_embed_as_before(trained: dict[str, Word2VecEmbedder]) -> None:
    """Training ignores the field; only unknown Han words of 2+ characters are embedded differently."""
    texts = [*TEXTS, "丞相 army fire", "qwxzjv 街亭", "失"]
    none = trained["none"].embed_documents(texts)
    for mode in ("pieces", "search"):
        np.testing.assert_array_equal(trained[mode].embed_documents(texts), none)


# -- spec and saved models --------------------------------------------------------------


def test_spec_default_and_validation() -> None:
    assert Word2VecSpec().oov_backoff == "pieces"
    with pytest.raises(ValidationError) as info:
        Word2VecSpec.model_validate({"oov_backoff": "characters"})
    assert [e["loc"] for e in info.value.errors()] == [("oov_backoff",)]


@pytest.mark.parametrize("mode", ["pieces", "search", "none"])
def test_save_load_embeds_identically(trained: dict[str, Word2VecEmbedder], tmp_path: Path, mode: str) -> None:
    model = trained[mode]
    model.save(tmp_path)
    loaded = Word2VecEmbedder.load(tmp_path)
    assert loaded.spec == model.spec
    texts = ["失街亭", "借东风，丞相", "马谡 街亭"]
    np.testing.assert_array_equal(loaded.embed_documents(texts), model.embed_documents(texts))


def test_model_saved_before_the_field_loads_without_back_off(trained: dict[str, Word2VecEmbedder], tmp_path: Path) -> None:
    trained["pieces"].save(tmp_path)
    manifest_path = tmp_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["spec"]["oov_backoff"]  # what an older vecdex wrote
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    old = Word2VecEmbedder.load(tmp_path)
    assert old.spec.oov_backoff == "none"
    texts = ["失街亭，丞相", "马谡 街亭"]
    np.testing.assert_array_equal(old.embed_documents(texts), trained["none"].embed_documents(texts))


def test_sif_component_and_reweighting_use_the_back_off(tmp_path: Path) -> None:
    # A training document holding a compound seen once: min_count 2 leaves it out of the vocabulary,
    # so SIF's principal component (computed from the pooled training documents) depends on the back-off.
    corpus = ListCorpus(enumerate([*TEXTS, "借东风，丞相。", "失街亭，马谡。"]))
    sif = {m: Word2VecEmbedder(_spec(oov_backoff=m, weighting="sif", min_count=2)).fit(corpus) for m in ("none", "pieces")}
    none, pieces = sif["none"]._state(), sif["pieces"]._state()
    assert "借东风" not in pieces.key_to_index
    np.testing.assert_array_equal(pieces.vectors, none.vectors)  # the same training
    assert pieces.component is not None and none.component is not None
    assert not np.array_equal(pieces.component, none.component)
    sif["pieces"].save(tmp_path)
    loaded = Word2VecEmbedder.load(tmp_path)
    np.testing.assert_array_equal(loaded.embed_documents(["借东风", "失街亭"]), sif["pieces"].embed_documents(["借东风", "失街亭"]))
    again = sif["pieces"].reweighted("tfidf").reweighted("sif", corpus)
    assert again.spec.oov_backoff == "pieces"
    np.testing.assert_allclose(again.embed_query("借东风"), sif["pieces"].embed_query("借东风"), rtol=1e-5, atol=1e-6)
