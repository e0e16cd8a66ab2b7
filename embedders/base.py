"""The embedder contract: text (or item sequences) in, float32 vectors out.

Every family (word2vec, doc2vec, bilstm, bert, item2vec, ...) is one module
that defines a pydantic spec (its constructor arguments, nothing else) and a
class satisfying :class:`Embedder`. The registry (:mod:`embedders.registry`)
maps the spec's ``type`` string to the class. Nothing here knows of HTTP, SQL or
FAISS, so a family can be tested and benchmarked on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict

from .strict_numbers import numbers_are_not_booleans

Metric = Literal["cosine", "ip", "l2"]

T_co = TypeVar("T_co", covariant=True)

class Progress(Protocol):
    """Progress sink for long work (a tqdm bar on the CLI, the job row over HTTP).

    ``total`` may be re-announced when a phase starts; ``advance`` adds to done.
    Implementations may raise to cancel the work (the job runner does, when a
    cancel was requested), so callers must call it between units of work only.
    """

    def start(self, phase: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


@runtime_checkable
class ReportsMetrics(Protocol):
    """Optional extra of a :class:`Progress` sink: live figures of long work.

    Training loops call ``note(tokens_per_second=..., perplexity=...)`` between
    units of work; the job row stores them and the tqdm bar shows them. It is a
    separate protocol so that sinks without it keep working: callers go through
    :func:`note_metrics`. Like ``advance``, it may raise to cancel the work.
    """

    def note(self, **metrics: float | int | str) -> None: ...


def note_metrics(progress: Progress, **metrics: float | int | str) -> None:
    """Pass ``metrics`` to ``progress.note`` when the sink has one; do nothing otherwise."""
    note = getattr(progress, "note", None)
    if note is not None:
        note(**metrics)


class NullProgress:
    """A progress sink that ignores everything (library use, tests)."""

    def start(self, phase: str, total: int) -> None:  # noqa: D102
        return None

    def advance(self, n: int = 1) -> None:  # noqa: D102
        return None


class TrainingDocument(BaseModel):
    """One document of a training corpus: its SQL id (the doc2vec tag) and text."""

    model_config = ConfigDict(frozen=True)

    id: int
    text: str


class Corpus(Protocol):
    """A re-iterable corpus: each ``iter()`` starts over (gensim makes several passes).

    ``__len__`` is the number of documents, used for progress and for the
    "corpus too small" checks before any training starts.
    """

    def __iter__(self) -> Iterator[TrainingDocument]: ...

    def __len__(self) -> int: ...


class ListCorpus:
    """A corpus held in memory; convenient for tests and small jobs."""

    def __init__(self, documents: Iterable[TrainingDocument | tuple[int, str]]) -> None:
        self._docs = [d if isinstance(d, TrainingDocument) else TrainingDocument(id=d[0], text=d[1]) for d in documents]

    def __iter__(self) -> Iterator[TrainingDocument]:
        return iter(self._docs)

    def __len__(self) -> int:
        return len(self._docs)


class EmbedderSpec(BaseModel):
    """Base of every family's spec: typed, immutable, no unknown keys.

    A family's spec subclasses this with ``type: Literal["<family>"]`` and its
    parameters (with defaults); the saved manifest stores exactly this model.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    _numbers_are_not_booleans = numbers_are_not_booleans()

    type: str


@runtime_checkable
class Embedder(Protocol):
    """What the indexing pipeline and the service need from any family."""

    type: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]
    """What the family can do: :class:`embedders.capabilities.Capability` members (a StrEnum)."""
    trainable: ClassVar[bool]
    """Follows from ``capabilities`` (TRAIN_CORPUS or TRAIN_INTERACTIONS); kept for callers."""
    spec: EmbedderSpec

    @property
    def dim(self) -> int: ...

    @property
    def metric(self) -> Metric: ...

    def fit(self, corpus: Corpus, progress: Progress | None = None) -> "Embedder":
        """Train on the corpus (trainable families); raises CorpusTooSmall / EmptyVocabulary."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (n, dim). A text with nothing embeddable gives a zero row, never an error,
        so one odd document cannot fail a whole batch; callers check with ``np.any``."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """float32 (dim,). Raises EmptyText when nothing in the query can be embedded."""
        ...

    def save(self, directory: Path) -> None:
        """Write a directory with ``manifest.json`` (type, spec, versions, dim, metric)."""
        ...

    @classmethod
    def load(cls, directory: Path) -> "Embedder": ...


@runtime_checkable
class HasTrainedVectors(Protocol):
    """Families that learn a vector per training document (doc2vec).

    The pipeline uses these for the documents seen in training instead of
    re-inferring them; ``trained_vectors`` returns a boolean mask of the ids it
    knows and a (n, dim) array whose unknown rows are zero.
    """

    def trained_vectors(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class TrainsOnInteractions(Protocol):
    """Families trained on item sequences from user interactions (item2vec) instead of text.

    The service builds the sequences (per user, time-ordered, split into sessions;
    :mod:`embedders.item2vec.sequences`) and calls ``fit_interactions`` instead of
    ``fit``. Items are identified by their SQL ids; their vectors come back
    through :class:`HasTrainedVectors`, and items never seen in training have none.
    """

    def fit_interactions(self, sequences: "SizedIterable[Sequence[int]]", progress: Progress | None = None) -> Embedder:
        """Train on re-iterable sequences of item ids; raises CorpusTooSmall when there is nothing to learn from."""
        ...


class SizedIterable(Protocol[T_co]):
    """Re-iterable with a length (each ``iter()`` starts over)."""

    def __iter__(self) -> Iterator[T_co]: ...

    def __len__(self) -> int: ...


@runtime_checkable
class WordVectors(Protocol):
    """Token-level families (word2vec, bilstm) answer word neighbours."""

    def word_neighbors(self, word: str, k: int) -> list[tuple[str, float]]:
        """Raises OutOfVocabulary for an unknown word (after the shared tokenizer's normalisation)."""
        ...

    def analogy(self, positive: Sequence[str], negative: Sequence[str], k: int) -> list[tuple[str, float]]:
        """a + b - c style: most similar to sum(positive) - sum(negative), inputs excluded."""
        ...


@runtime_checkable
class ContextualTokens(Protocol):
    """Families whose token vectors depend on the sentence around them (bilstm).

    The service exposes these so users can see the context effect: the same
    word gets a different vector, and different neighbours, in another sentence.
    """

    def token_vectors(self, text: str) -> tuple[list[str], np.ndarray]:
        """The text's tokens and their contextual vectors, float32 (n_tokens, token_dim).

        Every token gets a vector, known word or not; a text without tokens gives
        ``([], an empty (0, token_dim) array)`` rather than an error.
        """
        ...

    def contextual_neighbors(self, text: str, k: int) -> list[tuple[str, list[tuple[str, float]]]]:
        """For each token of ``text``, in order: the ``k`` vocabulary words whose
        context-free vectors are nearest (cosine) to its contextual vector."""
        ...


ProgressFactory = Callable[[], Progress]


@runtime_checkable
class SupportsPreflight(Protocol):
    """Trainable families that can check a corpus without training (the service's preflight).

    ``preflight`` raises exactly what ``fit`` would raise first (CorpusTooSmall,
    EmptyVocabulary) after one cheap pass, so a hopeless spec is rejected in the
    request instead of failing a job later.
    """

    def preflight(self, corpus: Corpus) -> None: ...


@runtime_checkable
class AnalyzesText(Protocol):
    """Text families show how they cut a text: the very tokens they train and query on.

    Why: a model can only be as good as its tokens, and a user tuning stop words, a user
    dictionary or phrases needs to see the effect (``POST .../analyze``) without training.
    """

    def analyze(self, text: str) -> list[str]:
        """The tokens of ``text``, in order, as this space sees them (empty: nothing left)."""
        ...


@runtime_checkable
class KeywordScoring(Protocol):
    """Families searched by text through an index of their own instead of vectors (bm25).

    ``new_index`` returns an empty keyword index (add_texts / remove / search_text /
    save); the service keeps it in place of a vector index.
    """

    def new_index(self) -> object: ...


@runtime_checkable
class AcceptsVectors(Protocol):
    """Families whose vectors are supplied by the user with each document and query (``vectors``)."""

    def check_vectors(self, vectors: Sequence[Sequence[float]] | np.ndarray, *, field: str) -> np.ndarray:
        """Validate supplied vectors into float32 (n, dim); an error names ``field``."""
        ...
