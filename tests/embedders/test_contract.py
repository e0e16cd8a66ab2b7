"""The embedder contract over EVERY registered family, checked per declared capability.

Each family is made ready from a tiny spec (conftest.FAST_SPECS) the way its
capabilities say - trained on a small corpus, on a tiny interaction log, or just
``fit`` as a build calls it - and then held to what it declares: text embedding,
trained vectors, word vectors, contextual tokens, keyword scoring or supplied
vectors, plus a save/load round trip that gives equal results. A family added
to the registry is picked up here without editing this file (it fails until it
has a tiny spec). The training contract proper is test_contract_corpus.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedders import (
    Capability,
    Embedder,
    EmptyText,
    InvalidVectors,
    ListCorpus,
    NotSupported,
    OutOfVocabulary,
    families,
    has,
    load,
)
from embedders.capabilities import PROTOCOLS, TRAINING
from embedders.datasets import lee_test
from embedders.item2vec import SequenceList
from embedders.storage import MANIFEST_NAME

from .conftest import ready_embedder

QUERY = "bushfires threaten homes near Sydney as firefighters battle the blaze"
TEXTS = lee_test()[:5] + ["", "   "]


@pytest.fixture(scope="module", params=families())
def any_family(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def ready(any_family: str, background_corpus: ListCorpus, item_sequences: SequenceList) -> Embedder:
    return ready_embedder(any_family, background_corpus, item_sequences)


def _needs(embedder: Embedder, capability: Capability) -> None:
    if not has(embedder, capability):
        pytest.skip(f"{embedder.type} does not declare {capability.value}")


def _trained_ids(embedder: Embedder, corpus: ListCorpus, sequences: SequenceList) -> list[int]:
    if has(embedder, Capability.TRAIN_INTERACTIONS):
        return sorted({int(i) for seq in sequences for i in seq})
    return [doc.id for doc in corpus]


# -- every family ------------------------------------------------------------------------


def test_satisfies_the_embedder_protocol(ready: Embedder, any_family: str) -> None:
    assert isinstance(ready, Embedder)
    assert ready.type == any_family
    assert ready.metric in ("cosine", "ip", "l2")
    assert isinstance(ready.dim, int) and ready.dim >= 0
    assert ready.trainable is bool(ready.capabilities & TRAINING)


def test_declared_capabilities_equal_implemented_protocols(ready: Embedder) -> None:
    implemented = {cap for cap, protocol in PROTOCOLS.items() if isinstance(ready, protocol)}
    assert ready.capabilities & set(PROTOCOLS) == implemented


def test_save_load_round_trip(
    ready: Embedder, any_family: str, tmp_path: Path, background_corpus: ListCorpus, item_sequences: SequenceList
) -> None:
    ready.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / MANIFEST_NAME).read_text())
    assert manifest["type"] == any_family
    assert manifest["spec"] == ready.spec.model_dump(mode="json")
    assert manifest["dim"] == ready.dim and manifest["metric"] == ready.metric
    loaded = load(tmp_path / "m")
    assert type(loaded) is type(ready) and loaded.spec == ready.spec
    assert loaded.dim == ready.dim and loaded.metric == ready.metric
    checked = 0
    if has(ready, Capability.EMBED_TEXT):
        assert np.array_equal(loaded.embed_documents(TEXTS), ready.embed_documents(TEXTS))
        assert np.array_equal(loaded.embed_query(QUERY), ready.embed_query(QUERY))
        checked += 1
    if has(ready, Capability.TRAINED_VECTORS):
        ids = _trained_ids(ready, background_corpus, item_sequences)[:20] + [-5]
        mask_a, vec_a = ready.trained_vectors(ids)  # type: ignore[attr-defined]
        mask_b, vec_b = loaded.trained_vectors(ids)  # type: ignore[attr-defined]
        assert np.array_equal(mask_a, mask_b) and np.array_equal(vec_a, vec_b)
        checked += 1
    if has(ready, Capability.WORD_VECTORS):
        assert loaded.word_neighbors("fire", 5) == ready.word_neighbors("fire", 5)  # type: ignore[attr-defined]
        checked += 1
    if has(ready, Capability.KEYWORD):
        assert _keyword_hits(loaded) == _keyword_hits(ready)
        checked += 1
    if has(ready, Capability.GIVEN_VECTORS):
        given = np.arange(1, 2 * ready.dim + 1, dtype=np.float64).reshape(2, ready.dim)
        assert np.array_equal(
            loaded.check_vectors(given, field="v"), ready.check_vectors(given, field="v")  # type: ignore[attr-defined]
        )
        checked += 1
    assert checked, f"{any_family}: no declared capability gave the round trip anything to compare"


# -- EMBED_TEXT --------------------------------------------------------------------------


def test_embed_text_shape_dtype_finite(ready: Embedder) -> None:
    _needs(ready, Capability.EMBED_TEXT)
    vectors = ready.embed_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), ready.dim) and vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    assert np.all(np.any(vectors[:5] != 0, axis=1)), "real documents must not embed to zero rows"
    assert not np.any(vectors[5:]), "a blank text embeds to a zero row, not an error"
    assert ready.embed_documents([]).shape == (0, ready.dim)
    query = ready.embed_query(QUERY)
    assert query.shape == (ready.dim,) and query.dtype == np.float32 and np.all(np.isfinite(query))
    with pytest.raises(EmptyText):
        ready.embed_query("   ")


def test_without_embed_text_queries_are_refused(ready: Embedder) -> None:
    if has(ready, Capability.EMBED_TEXT):
        pytest.skip(f"{ready.type} embeds text")
    with pytest.raises(NotSupported) as info:
        ready.embed_query(QUERY)
    assert info.value.field is not None
    try:
        rows = ready.embed_documents([QUERY])
    except NotSupported:
        return
    assert rows.shape == (1, ready.dim) and not np.any(rows), "text must not pass for a real vector"


# -- TRAINED_VECTORS -----------------------------------------------------------------------


def test_trained_vectors_for_training_ids_only(
    ready: Embedder, background_corpus: ListCorpus, item_sequences: SequenceList
) -> None:
    _needs(ready, Capability.TRAINED_VECTORS)
    ids = _trained_ids(ready, background_corpus, item_sequences)[:10]
    mask, vectors = ready.trained_vectors(ids + [-5])  # type: ignore[attr-defined]
    assert mask.dtype == bool and mask.tolist() == [True] * len(ids) + [False]
    assert vectors.shape == (len(ids) + 1, ready.dim) and vectors.dtype == np.float32
    assert np.all(np.any(vectors[:-1] != 0, axis=1)) and not np.any(vectors[-1])


# -- WORD_VECTORS / CONTEXTUAL_TOKENS ------------------------------------------------------------


def test_word_vectors_answer_known_words_and_refuse_unknown(ready: Embedder) -> None:
    _needs(ready, Capability.WORD_VECTORS)
    neighbours = ready.word_neighbors("fire", 5)  # type: ignore[attr-defined]
    assert len(neighbours) == 5 and all(w != "fire" for w, _ in neighbours)
    assert all(-1.0 - 1e-5 <= s <= 1.0 + 1e-5 for _, s in neighbours)
    # No token at all is outside any vocabulary (bilstm's char CNN reads any single token).
    with pytest.raises(OutOfVocabulary) as info:
        ready.word_neighbors("?!", 5)  # type: ignore[attr-defined]
    assert info.value.field == "word"


def test_contextual_tokens_depend_on_the_sentence(ready: Embedder) -> None:
    _needs(ready, Capability.CONTEXTUAL_TOKENS)
    tokens_a, vec_a = ready.token_vectors("fire crews fought the fire")  # type: ignore[attr-defined]
    tokens_b, vec_b = ready.token_vectors("the government will fire the minister")  # type: ignore[attr-defined]
    assert vec_a.dtype == np.float32 and vec_a.shape[0] == len(tokens_a) > 0
    a = vec_a[tokens_a.index("fire")]
    b = vec_b[tokens_b.index("fire")]
    assert not np.array_equal(a, b), "the same word in another sentence must get another vector"


# -- KEYWORD / GIVEN_VECTORS -------------------------------------------------------------------


def _keyword_hits(embedder: Embedder) -> list[tuple[int, float]]:
    index = embedder.new_index()  # type: ignore[attr-defined]
    index.add_texts([1, 2, 3], ["bushfires near Sydney", "cricket test match", "firefighters fight bushfires"])
    return index.search_text("bushfires", 3)


def test_keyword_index_scores_text(ready: Embedder) -> None:
    _needs(ready, Capability.KEYWORD)
    hits = _keyword_hits(ready)
    assert {doc_id for doc_id, _ in hits} == {1, 3}
    assert all(score > 0 for _, score in hits)


def test_given_vectors_are_checked(ready: Embedder) -> None:
    _needs(ready, Capability.GIVEN_VECTORS)
    given = np.ones((3, ready.dim))
    out = ready.check_vectors(given, field="documents")  # type: ignore[attr-defined]
    assert out.shape == (3, ready.dim) and out.dtype == np.float32
    with pytest.raises(InvalidVectors) as info:
        ready.check_vectors(np.ones((1, ready.dim + 1)), field="query")  # type: ignore[attr-defined]
    assert info.value.field == "query"
