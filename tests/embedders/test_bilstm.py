"""bilstm specifics: context, CJK, representations, progress metrics, reproducibility, files, quality.

One small model is trained per session (Lee background + a few Chinese
documents) and shared by the behaviour tests; they must not mutate it. The
perplexity-vs-unigram test trains a slightly larger model and is marked slow.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from embedders import (
    BiLSTMEmbedder,
    BiLSTMSpec,
    ContextualTokens,
    CorpusTooSmall,
    EmptyText,
    InvalidParameter,
    ListCorpus,
    OutOfVocabulary,
    Word2VecEmbedder,
    Word2VecSpec,
    WordVectors,
    load,
)
from embedders.bilstm.inference import token_layers
from embedders.bilstm.sentences import sentence_tokens
from embedders.datasets import lee_background, lee_test

from .conftest import JobCancelled, RecordingProgress

CHINESE = [
    "悉尼附近的山火威胁着许多房屋。消防员正在努力扑灭大火。",
    "新南威尔士州的山火还在燃烧。消防员说大火非常危险。",
    "澳大利亚板球队赢得了比赛。球迷们非常高兴。",
    "板球比赛在悉尼举行。澳大利亚队表现很好。",
    "政府说山火造成了严重损失。许多居民离开了房屋。",
    "消防员整夜与大火搏斗。天气炎热，风很大。",
    "球迷们在悉尼庆祝板球比赛的胜利。",
    "山火烧毁了悉尼附近的森林和房屋。",
]

SMALL = {
    "char_dim": 8,
    "filters": [[1, 16], [2, 16], [3, 32], [4, 32]],
    "projection_dim": 32,
    "hidden_dim": 64,
    "epochs": 2,
    "batch_size": 32,
    "min_count": 2,
    "threads": 1,  # tests run two at a time on 2 cores: a second torch thread each made training many times slower
}


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="session")
def mixed_corpus() -> ListCorpus:
    texts = lee_background() + CHINESE
    return ListCorpus((5000 + i, t) for i, t in enumerate(texts))


@pytest.fixture(scope="session")
def bilm(mixed_corpus: ListCorpus) -> BiLSTMEmbedder:
    return BiLSTMEmbedder(BiLSTMSpec(**SMALL)).fit(mixed_corpus)


# --- protocols and reports -----------------------------------------------------------------


def test_is_contextual_and_answers_word_neighbours(bilm: BiLSTMEmbedder) -> None:
    assert isinstance(bilm, ContextualTokens)
    assert isinstance(bilm, WordVectors)
    assert bilm.dim == 2 * SMALL["projection_dim"] == bilm.spec.token_dim


def test_training_report(bilm: BiLSTMEmbedder) -> None:
    report = bilm.training_report
    assert report is not None
    assert report["train_tokens"] > 40_000 and report["heldout_tokens"] > 3_000
    assert len(report["epochs"]) == SMALL["epochs"]
    assert all(math.isfinite(e["heldout_perplexity"]) for e in report["epochs"])
    assert report["heldout_perplexity"] == min(e["heldout_perplexity"] for e in report["epochs"])
    assert report["tokens_per_second"] > 0


# --- context matters -------------------------------------------------------------------------


def token_vector(model: BiLSTMEmbedder, text: str, word: str) -> np.ndarray:
    tokens, vectors = model.token_vectors(text)
    return vectors[tokens.index(word)]


def test_same_word_gets_different_vectors_in_different_contexts(bilm: BiLSTMEmbedder) -> None:
    river = token_vector(bilm, "The river burst its bank after the storm.", "bank")
    money = token_vector(bilm, "The bank raised interest rates on the loan.", "bank")
    assert cos(river, money) < 0.999
    # Deterministic: the same sentence gives the same vector again.
    assert np.array_equal(river, token_vector(bilm, "The river burst its bank after the storm.", "bank"))


def test_context_enters_through_the_lstm_layers_only(bilm: BiLSTMEmbedder) -> None:
    model = bilm._trained.model  # type: ignore[union-attr]
    a = token_layers(model, sentence_tokens("The river burst its bank after the storm.", bilm.tokenizer))
    b = token_layers(model, sentence_tokens("The bank raised interest rates on the loan.", bilm.tokenizer))
    assert torch.allclose(a[0, 4], b[0, 1], atol=1e-6), "x_k (layer 0) is context-free"
    for j in range(1, a.shape[0]):
        assert not torch.allclose(a[j, 4], b[j, 1], atol=1e-3), f"layer {j} must depend on the sentence"


def test_word2vec_gives_one_vector_per_word(background_corpus: ListCorpus) -> None:
    # The contrast: in a static embedding "bank" adds the same vector to any sentence.
    w2v = Word2VecEmbedder(Word2VecSpec(dim=16, epochs=1, min_count=1, workers=1, weighting="mean"))
    w2v.fit(background_corpus)
    kv = w2v.keyed_vectors
    in_river = 2 * w2v.embed_query("river bank") - kv["river"]
    in_money = 2 * w2v.embed_query("bank interest") - kv["interest"]
    assert np.allclose(in_river, in_money, atol=1e-5) and np.allclose(in_river, kv["bank"], atol=1e-5)


def test_contextual_neighbors(bilm: BiLSTMEmbedder) -> None:
    text = "Firefighters fought the bushfire near Sydney."
    result = bilm.contextual_neighbors(text, 3)
    tokens, _ = bilm.token_vectors(text)
    assert [t for t, _ in result] == tokens
    for _, neighbours in result:
        assert len(neighbours) == 3
        scores = [s for _, s in neighbours]
        assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 + 1e-6 for s in scores)
        assert all(w in bilm._trained.vocab for w, _ in neighbours)  # type: ignore[union-attr]
    assert bilm.contextual_neighbors(text, 3) == result  # cached vocabulary vectors, same answer
    assert bilm.contextual_neighbors("?!", 3) == []
    with pytest.raises(InvalidParameter):
        bilm.contextual_neighbors(text, 0)


def test_word_neighbors_and_analogy(bilm: BiLSTMEmbedder) -> None:
    neighbours = bilm.word_neighbors("fire", 5)
    assert len(neighbours) == 5 and "fire" not in [w for w, _ in neighbours]
    assert bilm.word_neighbors("  FIRE ", 5) == neighbours
    # Any single token has a vector (the char CNN reads its spelling); two tokens are not a word.
    assert len(bilm.word_neighbors("firefightersz", 3)) == 3
    with pytest.raises(OutOfVocabulary):
        bilm.word_neighbors("fire brigade", 3)
    result = bilm.analogy(["sydney", "fire"], ["melbourne"], 4)
    assert len(result) == 4 and not {"sydney", "fire", "melbourne"} & {w for w, _ in result}
    with pytest.raises(InvalidParameter):
        bilm.analogy([], ["fire"], 3)


def test_token_vectors_of_empty_text(bilm: BiLSTMEmbedder) -> None:
    tokens, vectors = bilm.token_vectors("  ?! ")
    assert tokens == [] and vectors.shape == (0, bilm.spec.token_dim)


# --- what a text needs to be embeddable -------------------------------------------------------


def test_unknown_words_contribute_inside_a_known_text(bilm: BiLSTMEmbedder) -> None:
    known = bilm.embed_query("fire near sydney")
    with_unknown = bilm.embed_query("fire near sydney qwxzjv")
    assert not np.allclose(known, with_unknown)
    with pytest.raises(EmptyText):
        bilm.embed_query("qwxzjv vbnmpqx")


def test_cjk_text_tokenises_and_embeds(bilm: BiLSTMEmbedder) -> None:
    text = "悉尼的山火非常危险。"
    tokens, vectors = bilm.token_vectors(text)
    assert "山火" in tokens and "悉尼" in tokens
    assert np.all(np.isfinite(vectors)) and np.all(np.any(vectors != 0, axis=1))
    query = bilm.embed_query(text)
    assert np.all(np.isfinite(query)) and np.any(query)
    # Characters the corpus never had still get (distinct) vectors...
    unseen_tokens, unseen = bilm.token_vectors("龘靐齉")
    assert len(unseen_tokens) >= 1 and np.all(np.isfinite(unseen)) and np.all(np.any(unseen != 0, axis=1))
    assert not np.allclose(token_vector(bilm, "山火 龘", "龘"), token_vector(bilm, "山火 靐", "靐"))
    # ... and count inside a text that has a known word.
    assert not np.allclose(bilm.embed_query("山火 龘靐"), bilm.embed_query("山火"))
    # A Chinese query is nearer a Chinese fire document than a Chinese cricket one.
    fire, cricket = bilm.embed_documents([CHINESE[0], CHINESE[2]])
    q = bilm.embed_query("山火 消防员")
    assert cos(q, fire) > cos(q, cricket)


# --- layer weighting and pooling ------------------------------------------------------------------


def test_pooling_options_change_dim_as_documented(bilm: BiLSTMEmbedder) -> None:
    docs = lee_test()[:3]
    mean = bilm.with_representation(pooling="mean").embed_documents(docs)
    mx = bilm.with_representation(pooling="max").embed_documents(docs)
    both_model = bilm.with_representation(pooling="mean+max")
    both = both_model.embed_documents(docs)
    width = bilm.spec.token_dim
    assert mean.shape == mx.shape == (3, width)
    assert both.shape == (3, 2 * width) and both_model.dim == 2 * width
    assert np.array_equal(both[:, :width], mean) and np.array_equal(both[:, width:], mx)
    assert not np.allclose(mean, mx)
    tokens, vectors = bilm.token_vectors(docs[0])
    assert np.allclose(mean[0], vectors.mean(axis=0), atol=1e-5)
    assert np.allclose(mx[0], vectors.max(axis=0), atol=1e-6)


def test_layer_weighting_options(bilm: BiLSTMEmbedder) -> None:
    text = "Firefighters fought the bushfire near Sydney."
    model = bilm._trained.model  # type: ignore[union-attr]
    raw = bilm.with_representation(center=False)
    reps = token_layers(model, sentence_tokens(text, bilm.tokenizer)).numpy()
    average = raw.with_representation(layers="average").token_vectors(text)[1]
    top = raw.with_representation(layers="top").token_vectors(text)[1]
    uniform_logits = raw.with_representation(layers=[0.0, 0.0, 0.0]).token_vectors(text)[1]
    favour_x = raw.with_representation(layers=[5.0, 0.0, 0.0]).token_vectors(text)[1]
    assert np.allclose(average, reps.mean(axis=0), atol=1e-5)
    assert np.allclose(top, reps[-1], atol=1e-6)
    assert np.allclose(uniform_logits, average, atol=1e-6)
    s = np.exp([5.0, 0.0, 0.0]) / np.exp([5.0, 0.0, 0.0]).sum()
    assert np.allclose(favour_x, np.tensordot(s, reps, axes=1), atol=1e-5)
    assert not np.allclose(top, average)
    scaled = raw.with_representation(gamma=2.5).token_vectors(text)[1]
    assert np.allclose(scaled, 2.5 * average, atol=1e-5)


def test_centering_subtracts_the_training_means(bilm: BiLSTMEmbedder) -> None:
    text = "Firefighters fought the bushfire near Sydney."
    means = bilm._trained.model.layer_means.numpy()  # type: ignore[union-attr]
    assert means.shape == (3, bilm.spec.token_dim) and np.any(means)
    centred = bilm.token_vectors(text)[1]
    raw = bilm.with_representation(center=False).token_vectors(text)[1]
    assert np.allclose(centred, raw - means.mean(axis=0), atol=1e-5)
    # What it is for: uncentred, every pair of documents looks alike.
    def mean_pairwise_cosine(model: BiLSTMEmbedder) -> float:
        v = model.embed_documents(lee_test()[:10])
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        sims = v @ v.T
        return float(sims[np.triu_indices(10, 1)].mean())

    assert mean_pairwise_cosine(bilm) < mean_pairwise_cosine(bilm.with_representation(center=False)) - 0.1


def test_layer_weights_must_match_the_number_of_layers() -> None:
    with pytest.raises(ValidationError, match="num_layers"):
        BiLSTMSpec(num_layers=2, layers=[1.0, 2.0])
    assert BiLSTMSpec(num_layers=3, layers=[0.0, 1.0, 1.0, 1.0]).layers == [0.0, 1.0, 1.0, 1.0]
    with pytest.raises(ValidationError):
        BiLSTMSpec(layers="bottom")
    with pytest.raises(ValidationError):
        BiLSTMSpec(filters=[[3, 8], [3, 8]])
    with pytest.raises(ValidationError):
        BiLSTMSpec(max_chars=5, filters=[[6, 8]])
    assert BiLSTMSpec(pooling="mean+max").dim == 2 * BiLSTMSpec().dim


# --- files ----------------------------------------------------------------------------------------------


def test_saved_files_are_pickle_free_and_reload_identically(bilm: BiLSTMEmbedder, tmp_path: Path) -> None:
    bilm.save(tmp_path / "m")
    names = {p.name for p in (tmp_path / "m").iterdir()}
    assert names == {"manifest.json", "weights.safetensors", "config.json", "vocab.json"}
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert {"torch", "safetensors"} <= set(manifest["versions"])
    report = bilm.training_report
    assert report is not None and manifest["extra"]["training"]["heldout_perplexity"] == report["heldout_perplexity"]
    loaded = load(tmp_path / "m")
    assert isinstance(loaded, BiLSTMEmbedder) and not loaded._trained.model.training  # type: ignore[union-attr]
    text = "悉尼的山火 and the bank near the river qwxzjv."
    assert loaded.token_vectors(text)[0] == bilm.token_vectors(text)[0]
    assert np.array_equal(loaded.token_vectors(text)[1], bilm.token_vectors(text)[1])
    assert loaded.contextual_neighbors(text, 4) == bilm.contextual_neighbors(text, 4)
    assert loaded.training_report == bilm.training_report


def test_weights_that_do_not_match_are_rejected(bilm: BiLSTMEmbedder, tmp_path: Path) -> None:
    from embedders import ModelFileError

    bilm.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["model"]["hidden_dim"] += 1
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError):
        load(tmp_path / "m")
    bilm.save(tmp_path / "v")
    vocab = json.loads((tmp_path / "v" / "vocab.json").read_text())
    (tmp_path / "v" / "vocab.json").write_text(json.dumps({**vocab, "words": vocab["words"][:-1]}))
    with pytest.raises(ModelFileError):
        load(tmp_path / "v")


# --- training behaviour -------------------------------------------------------------------------------------

TINY = {"char_dim": 4, "filters": [[1, 8], [2, 8]], "projection_dim": 8, "hidden_dim": 8, "batch_size": 16}


@pytest.mark.parametrize(
    "texts",
    [[], ["One two three four five six seven eight nine ten eleven."], ["Too few.", "Words here."], ["", "!!!"]],
    ids=["empty", "one-document", "few-tokens", "no-tokens"],
)
def test_too_small_corpus(texts: list[str]) -> None:
    embedder = BiLSTMEmbedder(BiLSTMSpec(**TINY, epochs=1, min_count=1, threads=1))
    corpus = ListCorpus(enumerate(texts))
    with pytest.raises(CorpusTooSmall) as info:
        embedder.fit(corpus)
    assert info.value.field == "corpus" and info.value.code == "corpus_too_small"
    with pytest.raises(CorpusTooSmall):
        embedder.preflight(corpus)


def test_held_out_split_needs_two_sentences() -> None:
    one_sentence = ListCorpus(enumerate(["One two three four five six seven eight nine ten eleven", "!!!"]))
    with pytest.raises(CorpusTooSmall, match="held out"):
        BiLSTMEmbedder(BiLSTMSpec(**TINY, min_count=1, threads=1)).preflight(one_sentence)
    BiLSTMEmbedder(BiLSTMSpec(**TINY, min_count=1, heldout_fraction=0.0, threads=1)).preflight(one_sentence)
    two = ListCorpus(enumerate(["One two three four five six", "seven eight nine ten eleven"]))
    model = BiLSTMEmbedder(BiLSTMSpec(**TINY, epochs=1, min_count=1, threads=1)).fit(two)
    assert model.training_report["heldout_tokens"] > 0  # type: ignore[index]


class MetricsProgress(RecordingProgress):
    def __init__(self, cancel_on_note: str | None = None) -> None:
        super().__init__()
        self.notes: list[dict] = []
        self._cancel_on_note = cancel_on_note

    def note(self, **metrics: float | int | str) -> None:
        self.notes.append(metrics)
        if self._cancel_on_note in metrics:
            raise JobCancelled("cancelled from note")


def test_progress_counts_batches_and_notes_live_metrics(small_corpus: ListCorpus) -> None:
    progress = MetricsProgress()
    BiLSTMEmbedder(BiLSTMSpec(**TINY, epochs=2, patience=5, threads=1)).fit(small_corpus, progress)
    assert progress.totals["vocabulary"] == len(small_corpus) == progress.done["vocabulary"]
    assert progress.done["train"] == progress.totals["train"] > 2  # batches, not epochs
    per_batch = [n for n in progress.notes if "tokens_per_second" in n]
    assert len(per_batch) == progress.totals["train"]
    assert all(n["tokens_per_second"] > 0 and math.isfinite(n["perplexity"]) for n in per_batch)
    heldout = [n["heldout_perplexity"] for n in progress.notes if "heldout_perplexity" in n]
    assert len(heldout) == 2 and all(math.isfinite(h) for h in heldout)


def test_exception_from_note_cancels_fit(small_corpus: ListCorpus) -> None:
    embedder = BiLSTMEmbedder(BiLSTMSpec(**TINY, epochs=5, threads=1))
    with pytest.raises(JobCancelled):
        embedder.fit(small_corpus, MetricsProgress(cancel_on_note="heldout_perplexity"))
    with pytest.raises(Exception, match="not been trained"):
        embedder.embed_query("fire")


def test_early_stopping_completes_the_phase_and_keeps_the_best_epoch(small_corpus: ListCorpus) -> None:
    # A huge learning rate makes held-out perplexity get worse after the first epoch.
    progress = RecordingProgress()
    model = BiLSTMEmbedder(BiLSTMSpec(**TINY, epochs=12, patience=1, lr=0.5, threads=1)).fit(small_corpus, progress)
    report = model.training_report
    assert report is not None and report["stopped_early"] and len(report["epochs"]) < 12
    assert report["heldout_perplexity"] == min(e["heldout_perplexity"] for e in report["epochs"])
    assert progress.done["train"] == progress.totals["train"]


def test_training_is_reproducible_with_a_seed(small_corpus: ListCorpus) -> None:
    def weights(seed: int) -> dict[str, torch.Tensor]:
        spec = BiLSTMSpec(**TINY, epochs=1, threads=1, seed=seed)
        return BiLSTMEmbedder(spec).fit(small_corpus)._trained.model.state_dict()  # type: ignore[union-attr]

    first, second, other = weights(7), weights(7), weights(8)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_fit_restores_thread_count_and_random_state(small_corpus: ListCorpus) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    BiLSTMEmbedder(BiLSTMSpec(**TINY, epochs=1, threads=1)).fit(small_corpus)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.rand(3), expected)


# --- quality on a real corpus -------------------------------------------------------------------------------

# Measured: see bench/results/bilstm.json. The bound leaves a wide margin.
MAX_PERPLEXITY_RATIO = 0.75


@pytest.fixture(scope="module")
def lee_bilm(background_corpus: ListCorpus) -> BiLSTMEmbedder:
    # Smaller and faster than the defaults; the defaults reach ~0.35 of unigram.
    spec = BiLSTMSpec(char_dim=8, filters=[[1, 16], [2, 16], [3, 32], [4, 32]], projection_dim=64, hidden_dim=128,
                      epochs=4, lr=0.004, threads=1)  # 1 thread: tests run two at a time on 2 cores
    return BiLSTMEmbedder(spec).fit(background_corpus)


@pytest.mark.slow
def test_on_lee_heldout_perplexity_is_well_below_unigram_and_bank_means_its_sentence(lee_bilm: BiLSTMEmbedder) -> None:
    """Two checks of one trained model in one test: as separate tests the parallel runner trained the
    model once in each of its workers (~40 s each on the 2 cores)."""
    report = lee_bilm.training_report
    assert report is not None
    lm, unigram = report["heldout_perplexity"], report["unigram_perplexity"]
    assert lm < MAX_PERPLEXITY_RATIO * unigram, f"biLM {lm:.1f} vs unigram {unigram:.1f}"

    west = token_vector(lee_bilm, "Israeli tanks moved into a West Bank village.", "bank")
    west2 = token_vector(lee_bilm, "Palestinian gunmen were shot dead in the West Bank town.", "bank")
    reserve = token_vector(lee_bilm, "The Reserve Bank cut official interest rates again.", "bank")
    assert cos(west, west2) > cos(west, reserve)
    assert cos(west, west2) > cos(west2, reserve)
