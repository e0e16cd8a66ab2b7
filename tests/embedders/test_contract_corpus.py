"""The training contract, run over every family that trains on the collection's texts
(Capability.TRAIN_CORPUS; txtai's habit: one test suite, every backend). A new such
family gets these tests by registering; the every-family contract is test_contract.py."""

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
    EmptyText,
    EmptyVocabulary,
    ListCorpus,
    ModelFileError,
    NotFitted,
    create,
    load,
    parse_spec,
)
from embedders.base import SupportsPreflight
from embedders.storage import MANIFEST_NAME
from embedders.datasets import lee_test

from .conftest import EMPTY_VOCAB_SPECS, JobCancelled, RecordingProgress, fast_spec

QUERY = "bushfires threaten homes near Sydney as firefighters battle the blaze"


def test_fitted_embedder_satisfies_protocol(fitted: Embedder, family: str) -> None:
    assert isinstance(fitted, Embedder)
    assert fitted.type == family
    assert fitted.trainable is True
    assert fitted.metric in ("cosine", "ip", "l2")
    # A family whose spec fixes the dimension keeps it; tfidf's is its vocabulary, capped by max_features.
    assert fitted.dim == getattr(fitted.spec, "dim", None) or fitted.dim <= fitted.spec.max_features


def test_embed_documents_shape_and_dtype(fitted: Embedder) -> None:
    docs = lee_test()[:7]
    vectors = fitted.embed_documents(docs)
    assert vectors.shape == (7, fitted.dim)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    assert np.all(np.any(vectors != 0, axis=1)), "real documents must not embed to zero rows"
    assert fitted.embed_documents([]).shape == (0, fitted.dim)


def test_unembeddable_document_gives_zero_row_not_error(fitted: Embedder) -> None:
    vectors = fitted.embed_documents(["", "!!! ???", "qwxzjv vbnmpqx", QUERY])
    assert vectors.dtype == np.float32
    assert not np.any(vectors[:3])
    assert np.any(vectors[3])


def test_embed_query_is_deterministic_and_matches_documents(fitted: Embedder) -> None:
    first = fitted.embed_query(QUERY)
    assert first.shape == (fitted.dim,)
    assert first.dtype == np.float32
    assert np.array_equal(first, fitted.embed_query(QUERY))
    # A query and the same text embedded as a document are the same vector,
    # whatever else is in the batch.
    batch = fitted.embed_documents(["another text about cricket", QUERY])
    assert np.array_equal(batch[1], first)


@pytest.mark.parametrize("text", ["", "   ", "?!,.", "qwxzjv vbnmpqx"])
def test_blank_or_unknown_query_raises_empty_text(fitted: Embedder, text: str) -> None:
    with pytest.raises(EmptyText) as info:
        fitted.embed_query(text)
    assert info.value.code == "empty_text"


def test_similar_documents_are_closer(fitted: Embedder) -> None:
    # Even a tiny model puts a bushfire query nearer a bushfire story than an unrelated one.
    fire, cricket = fitted.embed_documents(
        [
            "Firefighters are battling bushfires that threaten homes in New South Wales.",
            "The Australian cricket team won the test match against South Africa.",
        ]
    )
    q = fitted.embed_query("bushfire homes firefighters")
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert cos(q, fire) > cos(q, cricket)


def test_save_load_round_trip_is_bit_identical(fitted: Embedder, family: str, tmp_path: Path) -> None:
    fitted.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / MANIFEST_NAME).read_text())
    assert manifest["type"] == family
    assert manifest["dim"] == fitted.dim
    assert manifest["metric"] == fitted.metric
    assert manifest["spec"] == fitted.spec.model_dump(mode="json")
    assert {"vecdex", "numpy"} <= set(manifest["versions"])
    # Never a pickle at the top level of a model directory.
    for path in (tmp_path / "model").iterdir():
        assert path.is_dir() or path.suffix in (".json", ".npy", ".safetensors"), path

    loaded = load(tmp_path / "model")
    assert type(loaded) is type(fitted)
    assert loaded.spec == fitted.spec
    docs = lee_test()[:10] + ["", QUERY]
    assert np.array_equal(loaded.embed_documents(docs), fitted.embed_documents(docs))
    assert np.array_equal(loaded.embed_query(QUERY), fitted.embed_query(QUERY))


def test_family_load_rejects_other_or_broken_directories(fitted: Embedder, tmp_path: Path) -> None:
    cls = type(fitted)
    with pytest.raises(ModelFileError):
        cls.load(tmp_path / "nowhere")
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ModelFileError):
        cls.load(tmp_path / "garbled")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / MANIFEST_NAME).write_text(
        json.dumps({"type": "something-else", "spec": {}, "dim": 2, "metric": "cosine", "files": {}})
    )
    with pytest.raises(ModelFileError):
        cls.load(tmp_path / "other")


def test_incomplete_save_is_detected(fitted: Embedder, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / MANIFEST_NAME).read_text())
    victim = tmp_path / "m" / next(iter(manifest["files"].values()))
    victim.unlink()
    with pytest.raises(ModelFileError):
        load(tmp_path / "m")


def test_unfitted_embedder_raises_not_fitted(family: str) -> None:
    embedder = create(fast_spec(family))
    with pytest.raises(NotFitted):
        embedder.embed_query(QUERY)
    with pytest.raises(NotFitted):
        embedder.embed_documents([QUERY])


@pytest.mark.parametrize(
    "docs",
    [
        [],
        [(1, "A single document is not a corpus.")],
        [(1, "!!!"), (2, "???"), (3, "")],
        [(1, "word"), (2, "other")],
    ],
    ids=["empty", "one-document", "no-tokens", "one-token-documents"],
)
def test_too_small_corpus_raises(family: str, docs: list[tuple[int, str]]) -> None:
    embedder = create(fast_spec(family))
    with pytest.raises(CorpusTooSmall) as info:
        embedder.fit(ListCorpus(docs))
    assert info.value.code == "corpus_too_small"
    assert info.value.field == "corpus"
    # The service's cheap preflight says the same before anything is written.
    assert isinstance(embedder, SupportsPreflight)
    with pytest.raises(CorpusTooSmall):
        embedder.preflight(ListCorpus(docs))


def test_min_count_above_every_count_raises_empty_vocabulary(family: str, small_corpus: ListCorpus) -> None:
    spec = fast_spec(family, **EMPTY_VOCAB_SPECS[family])
    with pytest.raises(EmptyVocabulary) as info:
        create(spec).fit(small_corpus)
    assert info.value.field == "embedder.min_count"
    with pytest.raises(EmptyVocabulary):
        create(spec).preflight(small_corpus)  # type: ignore[attr-defined]
    create(fast_spec(family)).preflight(small_corpus)  # type: ignore[attr-defined]  # a trainable corpus passes


def _has_epochs(family: str) -> bool:
    return "epochs" in type(fast_spec(family)).model_fields


def test_fit_reports_progress_per_epoch(family: str, small_corpus: ListCorpus) -> None:
    progress = RecordingProgress()
    epochs = {"epochs": 4} if _has_epochs(family) else {}
    create(fast_spec(family, **epochs)).fit(small_corpus, progress)
    # gensim families count epochs; bilstm counts batches (epochs x batches per epoch),
    # so a cancellation stops it within a batch; lsa's one SVD is one step. The phase ends complete.
    if epochs:
        assert progress.totals["train"] % 4 == 0 and progress.totals["train"] >= 4
    assert progress.done["train"] == progress.totals["train"] >= 1


def test_exception_from_progress_cancels_fit(family: str, small_corpus: ListCorpus) -> None:
    steps = 2 if _has_epochs(family) else 1
    progress = RecordingProgress(cancel_after=steps)
    embedder = create(fast_spec(family, **({"epochs": 50} if _has_epochs(family) else {})))
    with pytest.raises(JobCancelled):
        embedder.fit(small_corpus, progress)
    assert progress.done["train"] == steps, "training must stop at the cancelling epoch"
    with pytest.raises(NotFitted):
        embedder.embed_query(QUERY)


@pytest.mark.parametrize(
    "bad",
    [
        {"dim": 1},
        {"dim": "many"},
        {"epochs": 0},
        {"min_count": 0},
        {"window": 0},
        {"workers": 0},
        {"seed": -1},
        {"no_such_parameter": 3},
        {"tokenizer": {"min_length": 0}},
        {"tokenizer": {"unknown": True}},
    ],
)
def test_spec_rejects_bad_values(family: str, bad: dict) -> None:
    with pytest.raises(ValidationError):
        parse_spec({"type": family, **bad})
    with pytest.raises(ValidationError):
        TypeAdapter(AnyEmbedderSpec).validate_python({"type": family, **bad})


def test_spec_is_frozen_and_round_trips(family: str) -> None:
    spec = parse_spec({"type": family})
    assert spec.type == family
    assert parse_spec(spec.model_dump(mode="json")) == spec
    assert TypeAdapter(AnyEmbedderSpec).validate_python(spec.model_dump()) == spec
    with pytest.raises(ValidationError):
        spec.min_count = 7  # type: ignore[misc]
