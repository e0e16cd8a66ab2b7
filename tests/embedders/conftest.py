"""Shared fixtures: real corpora, and models trained once per session.

Contract tests use small, fast specs (quality is not asserted on them); the
quality tests (marked ``slow``) train each family's *default* spec on the
350-document Lee corpus, exactly what the demo does.
"""

from __future__ import annotations

from typing import Any

import pytest

from embedders import Capability, ListCorpus, create, families, has, parse_spec
from embedders.base import Embedder, EmbedderSpec
from embedders.datasets import lee_background, lee_test
from embedders.item2vec import SequenceList, build_sequences
from embedders.item2vec.synthetic import planted_log

# Small, fast parameters per family for the contract tests. A newly registered
# family must add an entry here (the contract tests fail until it does). bert runs
# its default spec: all-MiniLM-L6-v2, shipped in a package and loaded offline.
FAST_SPECS: dict[str, dict[str, Any]] = {
    "word2vec": {"dim": 24, "epochs": 5, "min_count": 2, "workers": 2},
    "doc2vec": {"dim": 24, "epochs": 5, "infer_epochs": 10, "min_count": 2, "workers": 2},
    "bilstm": {
        "char_dim": 8, "filters": [[1, 16], [2, 16], [3, 16]], "projection_dim": 16, "hidden_dim": 32,
        "epochs": 1, "batch_size": 64, "min_count": 2, "threads": 1,
    },
    "bert": {},
    "item2vec": {"dim": 16, "epochs": 5, "workers": 1},
    "bm25": {},
    "vectors": {"dim": 8},
    "lsa": {"dim": 16},
    "tfidf": {},
}

# Parameters that make ``fit`` leave no word in the vocabulary, per family.
EMPTY_VOCAB_SPECS: dict[str, dict[str, Any]] = {
    "word2vec": {"min_count": 100_000},
    "doc2vec": {"min_count": 100_000},
    "bilstm": {"min_count": 100_000},
    "lsa": {"min_count": 100_000},
    "tfidf": {"min_count": 100_000},
}


def fast_spec(family: str, **overrides: Any) -> EmbedderSpec:
    if family not in FAST_SPECS:
        pytest.fail(f"add a tiny spec for family {family!r} to FAST_SPECS in tests/embedders/conftest.py")
    return parse_spec({"type": family, **FAST_SPECS[family], **overrides})


class RecordingProgress:
    """Progress sink that records phases and advances; optionally cancels."""

    def __init__(self, cancel_after: int | None = None, phase_to_cancel: str = "train") -> None:
        self.events: list[tuple[str, int]] = []
        self.phase = ""
        self.done: dict[str, int] = {}
        self.totals: dict[str, int] = {}
        self._cancel_after = cancel_after
        self._phase_to_cancel = phase_to_cancel

    def start(self, phase: str, total: int) -> None:
        self.phase = phase
        self.totals[phase] = total
        self.done.setdefault(phase, 0)

    def advance(self, n: int = 1) -> None:
        self.done[self.phase] += n
        if (
            self._cancel_after is not None
            and self.phase == self._phase_to_cancel
            and self.done[self.phase] >= self._cancel_after
        ):
            raise JobCancelled(f"cancelled after {self.done[self.phase]} {self.phase} steps")


class JobCancelled(Exception):
    """What a job runner raises from Progress.advance to stop the work."""


@pytest.fixture(scope="session")
def background_corpus() -> ListCorpus:
    """The 300 Lee background documents, ids 1000.. (not row positions, like SQL ids)."""
    return ListCorpus((1000 + i, text) for i, text in enumerate(lee_background()))


@pytest.fixture(scope="session")
def lee_corpus() -> ListCorpus:
    """Lee background + the 50 rated test documents: the demo collection."""
    texts = lee_background() + lee_test()
    return ListCorpus((1000 + i, text) for i, text in enumerate(texts))


@pytest.fixture(scope="session")
def small_corpus() -> ListCorpus:
    """60 real documents: enough to train something in a fraction of a second."""
    return ListCorpus((i, text) for i, text in enumerate(lee_background()[:60]))


@pytest.fixture(scope="session")
def item_sequences() -> SequenceList:
    """A tiny planted interaction log (60 users, 40 items in 4 groups) as session sequences."""
    log, _ = planted_log(n_users=60, n_groups=4, items_per_group=10, seed=5)
    return SequenceList(build_sequences(log, 1800.0))


# The training contract (test_contract_corpus.py) covers the families that train on
# the collection's texts (TRAIN_CORPUS); the every-family contract (test_contract.py)
# checks each family per declared capability.
TRAINABLE = [f for f in families() if has(f, Capability.TRAIN_CORPUS)]


@pytest.fixture(scope="session", params=TRAINABLE)
def family(request: pytest.FixtureRequest) -> str:
    return request.param


_READY: dict[str, Embedder] = {}


def ready_embedder(family: str, corpus: ListCorpus, sequences: SequenceList) -> Embedder:
    """A fast-spec embedder of ``family`` ready to use, built once per session.

    How it gets ready follows from its capabilities, not its name: trained on the
    corpus (TRAIN_CORPUS) or on the interaction log (TRAIN_INTERACTIONS), otherwise
    ``fit`` as a build calls it (bert loads its model; bm25 and vectors do nothing).
    Shared by many tests: they must not mutate it.
    """
    if family not in _READY:
        embedder = create(fast_spec(family))
        if has(embedder, Capability.TRAIN_INTERACTIONS):
            embedder.fit_interactions(sequences)  # type: ignore[attr-defined]
        else:
            embedder.fit(corpus)
        _READY[family] = embedder
    return _READY[family]


@pytest.fixture(scope="session")
def fitted(family: str, background_corpus: ListCorpus, item_sequences: SequenceList) -> Embedder:
    """A fast-spec embedder of a TRAIN_CORPUS ``family`` fitted on the background corpus."""
    return ready_embedder(family, background_corpus, item_sequences)
