"""The item2vec family as a model: spec, training on interactions, vectors, files, errors.

Its quality on planted logs is in test_item2vec_quality.py; the evaluation and
tuning code in test_item2vec_evaluate.py. Text does not apply to this family, so
the shared contract (test_contract.py) leaves it out (conftest.TRAINABLE).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from embedders import (
    AnyEmbedderSpec,
    CorpusTooSmall,
    Embedder,
    EmptyVocabulary,
    HasTrainedVectors,
    ListCorpus,
    ModelFileError,
    NotFitted,
    NotSupported,
    TrainsOnInteractions,
    create,
    families,
    load,
    parse_spec,
)
from embedders.base import SupportsPreflight
from embedders.storage import MANIFEST_NAME
from embedders.item2vec import Item2VecEmbedder, Item2VecSpec, SequenceList, build_sequences
from embedders.item2vec.embedder import _Tokens
from embedders.item2vec.synthetic import FIRST_ITEM_ID, planted_log

from .conftest import TRAINABLE, JobCancelled, RecordingProgress

FAST = {"dim": 16, "epochs": 5, "workers": 1}


@pytest.fixture(scope="module")
def sequences() -> SequenceList:
    log, _ = planted_log(n_users=60, n_groups=4, items_per_group=10, seed=5)
    return SequenceList(build_sequences(log, 1800.0))


@pytest.fixture(scope="module")
def fitted(sequences: SequenceList) -> Item2VecEmbedder:
    return Item2VecEmbedder(Item2VecSpec(**FAST)).fit_interactions(sequences)


# -- registry and protocols --------------------------------------------------------------


def test_registered_but_outside_the_text_contract() -> None:
    assert "item2vec" in families()
    assert "item2vec" not in TRAINABLE
    spec = parse_spec({"type": "item2vec"})
    assert isinstance(spec, Item2VecSpec)
    assert isinstance(create(spec), Item2VecEmbedder)
    assert isinstance(TypeAdapter(AnyEmbedderSpec).validate_python({"type": "item2vec", "dim": 8}), Item2VecSpec)


def test_fitted_satisfies_protocols(fitted: Item2VecEmbedder) -> None:
    assert isinstance(fitted, Embedder)
    assert isinstance(fitted, HasTrainedVectors)
    assert isinstance(fitted, TrainsOnInteractions)
    assert fitted.type == "item2vec" and fitted.trainable is True
    # Context scoring (the default): the index holds output vectors, compared by inner product.
    assert fitted.metric == "ip" and fitted.dim == 16
    assert Item2VecEmbedder(Item2VecSpec(scoring="cosine")).metric == "cosine"


# -- the spec -----------------------------------------------------------------------------


def test_spec_defaults_and_round_trip() -> None:
    spec = Item2VecSpec()
    assert spec.mode == "sequence" and spec.dim == 64 and spec.window == 3 and spec.min_count == 1
    # Measured on MovieLens 100k (bench/bench_item2vec_real.py): uniform negatives, no down-sampling, context
    # scoring, one sequence per user.
    assert spec.ns_exponent == 0.0 and spec.sample == 0.0 and spec.epochs == 20
    assert spec.scoring == "context" and spec.metric == "ip"
    assert spec.session_gap_minutes is None and spec.gap_seconds is None
    assert Item2VecSpec(session_gap_minutes=30).gap_seconds == 1800.0
    assert spec.min_session_length == 2 and spec.cold_start_space is None
    assert Item2VecSpec(session_gap_minutes=None).gap_seconds is None
    assert parse_spec(spec.model_dump(mode="json")) == spec
    with pytest.raises(ValidationError):
        spec.dim = 7  # type: ignore[misc]
    for field in Item2VecSpec.model_fields.values():
        if field.annotation is not None and field.default != "item2vec":
            assert field.description, "every parameter says what it does"


@pytest.mark.parametrize(
    "bad",
    [
        {"dim": 1},
        {"epochs": 0},
        {"window": 0},
        {"negative": 0},
        {"ns_exponent": -1.5},
        {"ns_exponent": 1.01},
        {"sample": 1.0},
        {"sample": -0.1},
        {"min_count": 0},
        {"alpha": 0},
        {"alpha": 0.01, "min_alpha": 0.02},
        {"workers": 0},
        {"seed": -1},
        {"mode": "graph"},
        {"session_gap_minutes": 0},
        {"min_session_length": 1},
        {"cold_start_space": ""},
        {"tokenizer": {}},
        {"no_such_parameter": 3},
    ],
)
def test_spec_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ValidationError):
        parse_spec({"type": "item2vec", **bad})
    with pytest.raises(ValidationError):
        TypeAdapter(AnyEmbedderSpec).validate_python({"type": "item2vec", **bad})


def test_spec_accepts_the_recommendation_range() -> None:
    spec = parse_spec({"type": "item2vec", "ns_exponent": -1, "mode": "basket", "session_gap_minutes": None,
                       "cold_start_space": "news-bert"})
    assert isinstance(spec, Item2VecSpec)
    assert spec.ns_exponent == -1.0 and spec.mode == "basket" and spec.cold_start_space == "news-bert"


# -- training -----------------------------------------------------------------------------


def test_trained_vectors_mask_unknown_ids(fitted: Item2VecEmbedder, sequences: SequenceList) -> None:
    ids, vectors = fitted.item_vectors()
    assert ids.dtype == np.int64 and vectors.dtype == np.float32 and vectors.shape == (len(ids), 16)
    assert np.all(ids[1:] > ids[:-1])
    assert set(ids.tolist()) == {i for seq in sequences for i in seq}
    assert ids.min() >= FIRST_ITEM_ID, "ids are the items' own ids, not row positions"
    query = [int(ids[3]), -5, int(ids[0]), 10**12, int(ids[3])]
    context_ids, context = fitted.context_vectors()
    assert np.array_equal(context_ids, ids) and context.shape == vectors.shape
    assert not np.allclose(context, vectors), "output vectors are not the input vectors"
    mask, got = fitted.trained_vectors(query)  # what the index holds: the context vectors
    assert mask.tolist() == [True, False, True, False, True]
    assert got.dtype == np.float32 and got.shape == (5, 16)
    assert np.array_equal(got[0], context[3]) and np.array_equal(got[2], context[0])
    assert not np.any(got[[1, 3]])
    q_mask, q = fitted.query_vectors(query)  # what queries are built from: the input vectors
    assert q_mask.tolist() == mask.tolist()
    assert np.array_equal(q[0], vectors[3]) and np.array_equal(q[2], vectors[0]) and not np.any(q[[1, 3]])
    empty_mask, empty = fitted.trained_vectors([])
    assert empty_mask.shape == (0,) and empty.shape == (0, 16)
    counts_ids, counts = fitted.item_counts()
    assert np.array_equal(counts_ids, ids) and counts.sum() == sum(len(s) for s in sequences)


def test_training_is_reproducible_with_one_worker(fitted: Item2VecEmbedder, sequences: SequenceList) -> None:
    again = Item2VecEmbedder(Item2VecSpec(**FAST)).fit_interactions(sequences)
    assert np.array_equal(again.item_vectors()[1], fitted.item_vectors()[1])
    other_seed = Item2VecEmbedder(Item2VecSpec(**FAST, seed=2)).fit_interactions(sequences)
    assert not np.array_equal(other_seed.item_vectors()[1], fitted.item_vectors()[1])


def test_basket_mode_trains_and_differs(fitted: Item2VecEmbedder, sequences: SequenceList) -> None:
    basket = Item2VecEmbedder(Item2VecSpec(**FAST, mode="basket")).fit_interactions(sequences)
    ids, vectors = basket.item_vectors()
    assert np.array_equal(ids, fitted.item_vectors()[0])
    assert np.all(np.isfinite(vectors)) and np.all(np.linalg.norm(vectors, axis=1) > 0)
    assert not np.allclose(vectors, fitted.item_vectors()[1])


def test_gensim_gets_skipgram_negative_sampling_and_the_mode_s_window(
    sequences: SequenceList, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gensim.models

    captured: list[dict] = []

    class Capturing(gensim.models.Word2Vec):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            captured.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(gensim.models, "Word2Vec", Capturing)
    spec = Item2VecSpec(**FAST, window=3, negative=7, ns_exponent=-0.25, sample=1e-3)
    Item2VecEmbedder(spec).fit_interactions(sequences)
    Item2VecEmbedder(spec.model_copy(update={"mode": "basket"})).fit_interactions(sequences)
    sequence_kw, basket_kw = captured
    for kw in captured:
        assert (kw["sg"], kw["hs"], kw["negative"], kw["ns_exponent"], kw["sample"]) == (1, 0, 7, -0.25, 1e-3)
        assert (kw["vector_size"], kw["epochs"], kw["min_count"], kw["seed"]) == (16, 5, 1, 1)
    assert (sequence_kw["window"], sequence_kw["shrink_windows"]) == (3, True)
    longest = max(len(set(seq)) for seq in sequences)
    assert basket_kw["window"] >= longest - 1 and basket_kw["shrink_windows"] is False


def test_basket_context_reaches_across_the_whole_basket() -> None:
    # Pairs (a, b) always sit at both ends of 12-item sessions of random fillers: a window
    # of 2 never sees them together, a basket always does.
    rng = np.random.default_rng(0)
    sessions = []
    for n in range(400):
        pair = n % 10
        fillers = [int(f) for f in rng.choice(np.arange(1000, 1100), size=10, replace=False)]
        sessions.append([pair, *fillers, 100 + pair])
    data = SequenceList(sessions)

    def pair_rank(mode: str) -> float:
        embedder = Item2VecEmbedder(Item2VecSpec(**{**FAST, "epochs": 10}, window=2, mode=mode)).fit_interactions(data)
        ids, vectors = embedder.item_vectors()
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        ranks = []
        for pair in range(10):
            a = int(np.searchsorted(ids, pair))
            order = [int(ids[j]) for j in np.argsort(-(unit @ unit[a])) if j != a]
            ranks.append(order.index(100 + pair))
        return float(np.median(ranks))

    assert pair_rank("basket") <= 2 < 20 <= pair_rank("sequence")


def test_basket_tokens_are_distinct_and_reshuffled_each_pass() -> None:
    baskets = SequenceList([list(range(1, 31)) + [5, 5], [7, 8]])
    tokens = _Tokens(baskets, "basket", seed=3, materialize=True)
    first = [list(t) for t in tokens]
    second = [list(t) for t in tokens]
    assert sorted(first[0], key=int) == [str(i) for i in range(1, 31)], "a basket is a set: duplicates dropped"
    assert first[0] != second[0] and sorted(first[0]) == sorted(second[0])
    assert [list(t) for t in _Tokens(baskets, "sequence", seed=3, materialize=False)][0][-2:] == ["5", "5"]


def test_fit_reports_progress_and_throughput(sequences: SequenceList) -> None:
    class Sink(RecordingProgress):
        def __init__(self) -> None:
            super().__init__()
            self.notes: list[dict] = []

        def note(self, **metrics: float | int | str) -> None:
            self.notes.append(metrics)

    progress = Sink()
    Item2VecEmbedder(Item2VecSpec(**{**FAST, "epochs": 4})).fit_interactions(sequences, progress)
    assert progress.totals == {"sequences": len(sequences), "train": 4}
    assert progress.done == {"sequences": len(sequences), "train": 4}
    assert [n["epoch"] for n in progress.notes] == [1, 2, 3, 4]
    assert all(n["interactions_per_second"] > 0 for n in progress.notes)


def test_exception_from_progress_cancels_fit(sequences: SequenceList) -> None:
    progress = RecordingProgress(cancel_after=2)
    embedder = Item2VecEmbedder(Item2VecSpec(**{**FAST, "epochs": 50}))
    with pytest.raises(JobCancelled):
        embedder.fit_interactions(sequences, progress)
    assert progress.done["train"] == 2
    with pytest.raises(NotFitted):
        embedder.trained_vectors([FIRST_ITEM_ID])


@pytest.mark.parametrize(
    "seqs",
    [[], [[1, 2]], [[1], [2], [3]], [[1, 1], [2, 2]], [[1, 2], [3]]],
    ids=["none", "one-session", "single-items", "no-two-distinct", "one-usable"],
)
def test_too_few_sessions_raise_corpus_too_small(seqs: list[list[int]]) -> None:
    embedder = Item2VecEmbedder(Item2VecSpec(**FAST))
    with pytest.raises(CorpusTooSmall) as info:
        embedder.fit_interactions(SequenceList(seqs))
    assert info.value.code == "corpus_too_small" and info.value.field == "interactions"
    with pytest.raises(CorpusTooSmall):
        embedder.preflight_interactions(SequenceList(seqs))
    embedder.preflight_interactions(SequenceList([[1, 2], [2, 3]]))  # two usable sessions pass


def test_min_count_above_every_count_raises_empty_vocabulary(sequences: SequenceList) -> None:
    embedder = Item2VecEmbedder(Item2VecSpec(**FAST, min_count=100_000))
    with pytest.raises(EmptyVocabulary) as info:
        embedder.fit_interactions(sequences)
    assert info.value.field == "embedder.min_count"
    with pytest.raises(EmptyVocabulary):
        embedder.preflight_interactions(sequences)


def test_min_count_drops_rare_items(sequences: SequenceList, fitted: Item2VecEmbedder) -> None:
    ids, counts = fitted.item_counts()
    threshold = int(np.median(counts))
    pruned = Item2VecEmbedder(Item2VecSpec(**FAST, min_count=threshold)).fit_interactions(sequences)
    kept = pruned.item_vectors()[0]
    assert set(kept.tolist()) == set(ids[counts >= threshold].tolist()) and 0 < len(kept) < len(ids)


# -- text does not apply --------------------------------------------------------------------


def test_text_is_not_supported(fitted: Item2VecEmbedder) -> None:
    corpus = ListCorpus([(1, "a text corpus"), (2, "is not interactions")])
    fresh = Item2VecEmbedder(Item2VecSpec(**FAST))
    with pytest.raises(NotSupported) as info:
        fresh.fit(corpus)
    assert info.value.code == "not_supported" and info.value.field == "embedder.type"
    assert "interactions" in info.value.message
    assert isinstance(fresh, SupportsPreflight)
    with pytest.raises(NotSupported):
        fresh.preflight(corpus)  # rejected up front, like fit
    with pytest.raises(NotSupported) as query_info:
        fitted.embed_query("anything")
    assert query_info.value.field == "query"
    rows = fitted.embed_documents(["item text", ""])
    assert rows.shape == (2, 16) and rows.dtype == np.float32 and not np.any(rows)
    with pytest.raises(NotFitted):
        fresh.embed_documents(["x"])
    with pytest.raises(NotFitted):
        fresh.item_vectors()


# -- files ------------------------------------------------------------------------------------


def test_save_load_round_trip_is_bit_identical(fitted: Item2VecEmbedder, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / MANIFEST_NAME).read_text())
    assert manifest["type"] == "item2vec" and manifest["dim"] == 16 and manifest["metric"] == "ip"
    assert manifest["spec"] == fitted.spec.model_dump(mode="json")
    for path in (tmp_path / "m").iterdir():
        assert path.suffix in (".json", ".npy"), path  # never a pickle
    loaded = load(tmp_path / "m")
    assert type(loaded) is Item2VecEmbedder and loaded.spec == fitted.spec
    ids, vectors = fitted.item_vectors()
    query = np.concatenate([ids, [-1, 0]])
    for a, b in zip(loaded.trained_vectors(query), fitted.trained_vectors(query)):
        assert np.array_equal(a, b)
    for a, b in zip(loaded.query_vectors(query), fitted.query_vectors(query)):
        assert np.array_equal(a, b)
    assert np.array_equal(loaded.item_vectors()[1], vectors)
    assert np.array_equal(loaded.item_counts()[1], fitted.item_counts()[1])


def test_load_rejects_broken_directories(fitted: Item2VecEmbedder, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError):
        Item2VecEmbedder.load(tmp_path / "nowhere")
    fitted.save(tmp_path / "short")
    np.save(tmp_path / "short" / "vectors.npy", np.zeros((2, 16), dtype=np.float32))
    with pytest.raises(ModelFileError):
        load(tmp_path / "short")
    fitted.save(tmp_path / "missing")
    (tmp_path / "missing" / "item_ids.npy").unlink()
    with pytest.raises(ModelFileError):
        load(tmp_path / "missing")
    fitted.save(tmp_path / "pickled")
    np.save(tmp_path / "pickled" / "item_ids.npy", np.array([object()] * 3), allow_pickle=True)
    with pytest.raises(ModelFileError):
        load(tmp_path / "pickled")
