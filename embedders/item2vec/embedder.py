"""The ``item2vec`` embedder: gensim skip-gram with negative sampling over item sessions.

Tokens are ``str(item_id)``; the trained model is reduced to what serving needs -
the item ids (int64, ascending), their input vectors and their output ("context")
vectors (float32) - saved as ``.npy`` files next to the manifest (plus each item's
training count, for popularity fallbacks). No pickle, no gensim at load time.

Two scorings (the spec's ``scoring``). ``context`` (default): the index holds the
context vectors and a query is built from input vectors, so a candidate's score is
the skip-gram's own prediction of it (inner product); :meth:`trained_vectors` gives
the context vectors (what the index stores) and :meth:`query_vectors` the input
ones. ``cosine``: one vector per item, input vectors compared by cosine, both
methods give the same. Models saved before context vectors existed load as
``cosine``.

Items get vectors only from interactions: :meth:`Item2VecEmbedder.embed_documents`
returns zero rows for any text (the pipeline's "nothing embeddable" convention) and
:meth:`Item2VecEmbedder.embed_query` raises :class:`~embedders.errors.NotSupported`.
Items without interactions can be served from a text space named by the spec's
``cold_start_space`` (the service's job).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from embedders.base import (
    Corpus,
    EmbedderSpec,
    Metric,
    NullProgress,
    Progress,
    SizedIterable,
    note_metrics,
)
from embedders.capabilities import Capability, trains
from embedders.errors import CorpusTooSmall, EmptyVocabulary, ModelFileError, NotFitted, NotSupported
from embedders.item2vec.sequences import Interaction, build_sequences
from embedders.item2vec.spec import Item2VecSpec
from embedders.storage import load_array, read_manifest, spec_from_manifest, write_manifest
from embedders.training import MATERIALIZE_LIMIT

IDS_FILE = "item_ids.npy"
VECTORS_FILE = "vectors.npy"
COUNTS_FILE = "item_counts.npy"
CONTEXT_FILE = "context_vectors.npy"

_TEXT_MESSAGE = (
    "item2vec learns from interactions, not text: items get vectors from users' sessions "
    "(train it with interactions; use a text space, e.g. the spec's cold_start_space, for text queries)"
)


@dataclass(frozen=True)
class SequenceStats:
    """One scan of the training sequences, before gensim sees them."""

    n_sequences: int
    usable: int  # sequences with >= 2 distinct items
    n_interactions: int
    longest: int
    counts: Counter[int]


def scan_sequences(
    sequences: Iterable[Sequence[int]], mode: str, progress: Progress, *, chunk: int = 1000
) -> SequenceStats:
    """Count items (per distinct item in a basket) and check there is something to learn.

    Raises:
        CorpusTooSmall: fewer than two sequences with at least two items.
    """
    counts: Counter[int] = Counter()
    n = usable = total = longest = pending = 0
    for seq in sequences:
        items = [int(i) for i in seq]
        if mode == "basket":
            items = list(dict.fromkeys(items))
        n += 1
        if len(set(items)) >= 2:
            usable += 1
        total += len(items)
        longest = max(longest, len(items))
        counts.update(items)
        pending += 1
        if pending == chunk:
            progress.advance(pending)
            pending = 0
    if pending:
        progress.advance(pending)
    if usable < 2:
        raise CorpusTooSmall(
            f"the interactions give {usable} session(s) with at least 2 distinct items; at least 2 are needed "
            "(check session_gap_minutes and min_session_length, or record more interactions)",
            field="interactions",
        )
    return SequenceStats(n_sequences=n, usable=usable, n_interactions=total, longest=longest, counts=counts)


def check_min_count(stats: SequenceStats, min_count: int) -> None:
    """Raise EmptyVocabulary when ``min_count`` leaves no item (before gensim does)."""
    if not any(c >= min_count for c in stats.counts.values()):
        top = max(stats.counts.values(), default=0)
        raise EmptyVocabulary(
            f"min_count={min_count} leaves no item: the most frequent item has {top} interaction(s)",
            field="embedder.min_count",
        )


class _Tokens:
    """Re-iterable token lists for gensim; basket mode shuffles each basket on every pass.

    Shuffling matters only where the context window cannot cover a whole basket
    (gensim truncates sentences at 10,000 tokens); it costs little and keeps any order
    that the interactions table happened to have out of the model.
    """

    def __init__(self, sequences: SizedIterable[Sequence[int]], mode: str, seed: int, materialize: bool) -> None:
        self._source = sequences
        self._basket = mode == "basket"
        self._rng = random.Random(seed)
        self._kept: list[list[str]] | None = None
        if materialize:
            self._kept = [self._convert(seq) for seq in sequences]

    def _convert(self, seq: Sequence[int]) -> list[str]:
        items = [int(i) for i in seq]
        if self._basket:
            items = list(dict.fromkeys(items))
        return [str(i) for i in items]

    def __iter__(self) -> Iterator[list[str]]:
        source: Iterable[list[str]] = self._kept if self._kept is not None else map(self._convert, self._source)
        for tokens in source:
            if self._basket and len(tokens) > 1:
                self._rng.shuffle(tokens)
            yield tokens

    def __len__(self) -> int:
        return len(self._source)


def _epoch_callback(progress: Progress, interactions_per_epoch: int) -> Any:
    """Advance ``progress`` per epoch and note throughput (see :func:`embedders.training.epoch_callback`)."""
    from gensim.models.callbacks import CallbackAny2Vec

    class _EpochProgress(CallbackAny2Vec):
        def __init__(self) -> None:
            self.epoch = 0
            self.started = time.perf_counter()

        def on_epoch_begin(self, model: Any) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, model: Any) -> None:
            self.epoch += 1
            elapsed = max(time.perf_counter() - self.started, 1e-9)
            note_metrics(progress, epoch=self.epoch, interactions_per_second=round(interactions_per_epoch / elapsed, 1))
            progress.advance(1)

    return _EpochProgress()


class Item2VecEmbedder:
    """Item vectors learnt from interactions; text in gives nothing (see the module docstring)."""

    type: ClassVar[str] = "item2vec"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.TRAIN_INTERACTIONS, Capability.TRAINED_VECTORS, Capability.PREFLIGHT}
    )
    trainable: ClassVar[bool] = trains(capabilities)
    spec_class: ClassVar[type[EmbedderSpec]] = Item2VecSpec

    def __init__(self, spec: Item2VecSpec | None = None) -> None:
        self.spec: Item2VecSpec = spec or Item2VecSpec()
        self._ids: np.ndarray | None = None  # int64 (n,), ascending
        self._vectors: np.ndarray | None = None  # float32 (n, dim), row i <-> _ids[i]
        self._counts: np.ndarray | None = None  # int64 (n,) training interactions per item
        self._context: np.ndarray | None = None  # float32 (n, dim) output vectors, row i <-> _ids[i]

    # -- contract -------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def metric(self) -> Metric:
        """Inner product for ``context`` scoring (the dot product is the prediction), else cosine."""
        return self.spec.metric

    def fit(self, corpus: Corpus, progress: Progress | None = None) -> Item2VecEmbedder:
        """Always raises NotSupported: this family trains with :meth:`fit_interactions`."""
        raise NotSupported(_TEXT_MESSAGE, field="embedder.type")

    def preflight(self, corpus: Corpus) -> None:
        """What :meth:`fit` raises for a text corpus (NotSupported); see :meth:`preflight_interactions`."""
        raise NotSupported(_TEXT_MESSAGE, field="embedder.type")

    def preflight_interactions(self, sequences: SizedIterable[Sequence[int]]) -> None:
        """Raise what :meth:`fit_interactions` would raise first (CorpusTooSmall, EmptyVocabulary), cheaply."""
        stats = scan_sequences(sequences, self.spec.mode, NullProgress())
        check_min_count(stats, self.spec.min_count)

    def fit_interactions(
        self, sequences: SizedIterable[Sequence[int]], progress: Progress | None = None
    ) -> Item2VecEmbedder:
        """Train item vectors on re-iterable sessions of item ids.

        Progress phases: "sequences" (sessions scanned) and "train" (epochs, with
        ``epoch`` and ``interactions_per_second`` noted). An exception from ``progress``
        aborts training and leaves the embedder as it was.

        Raises:
            CorpusTooSmall: fewer than two sessions with at least two distinct items
                (field "interactions").
            EmptyVocabulary: ``min_count`` leaves no item.
        """
        from gensim.models import Word2Vec

        progress = progress or NullProgress()
        spec = self.spec
        progress.start("sequences", len(sequences))
        stats = scan_sequences(sequences, spec.mode, progress)
        check_min_count(stats, spec.min_count)

        basket = spec.mode == "basket"
        tokens = _Tokens(sequences, spec.mode, spec.seed, materialize=len(sequences) <= MATERIALIZE_LIMIT)
        model = Word2Vec(
            vector_size=spec.dim,
            # Basket: every item of a basket is in every other's context, whatever its position.
            window=max(stats.longest, 1) if basket else spec.window,
            shrink_windows=not basket,
            min_count=spec.min_count,
            sg=1,
            hs=0,
            negative=spec.negative,
            ns_exponent=spec.ns_exponent,
            sample=spec.sample,
            alpha=spec.alpha,
            min_alpha=spec.min_alpha,
            seed=spec.seed,
            workers=spec.workers,
            epochs=spec.epochs,
        )
        model.build_vocab_from_freq({str(i): c for i, c in stats.counts.items()}, corpus_count=stats.n_sequences)
        progress.start("train", spec.epochs)
        model.train(
            tokens,
            total_examples=stats.n_sequences,
            total_words=stats.n_interactions,
            epochs=spec.epochs,
            callbacks=[_epoch_callback(progress, stats.n_interactions)],
        )

        ids = np.fromiter((int(key) for key in model.wv.index_to_key), dtype=np.int64, count=len(model.wv))
        order = np.argsort(ids, kind="stable")
        self._ids = ids[order]
        self._vectors = np.ascontiguousarray(model.wv.vectors[order], dtype=np.float32)
        self._counts = np.array([stats.counts[int(i)] for i in self._ids], dtype=np.int64)
        self._context = np.ascontiguousarray(model.syn1neg[order], dtype=np.float32)
        return self

    def fit_log(self, interactions: Iterable[Interaction], progress: Progress | None = None) -> Item2VecEmbedder:
        """Build the spec's sessions from raw interactions and train on them (evaluation, tuning, tests)."""
        from embedders.item2vec.sequences import SequenceList

        sequences = build_sequences(interactions, self.spec.gap_seconds, min_length=self.spec.min_session_length)
        return self.fit_interactions(SequenceList(sequences), progress)

    def trained_vectors(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The index's vectors of the items seen in training (context vectors under ``context`` scoring);
        mask False and a zero row for any other id."""
        known, _ = self._state()
        return self._lookup(known, self._index_matrix(), ids)

    def query_vectors(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The input vectors that queries are built from (what :meth:`item_vectors` returns), masked as
        :meth:`trained_vectors` is."""
        known, vectors = self._state()
        return self._lookup(known, vectors, ids)

    def context_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every trained item's output vector (ids ascending); the input vectors under ``cosine`` scoring."""
        ids, _ = self._state()
        return ids.copy(), np.array(self._index_matrix(), dtype=np.float32)

    def _index_matrix(self) -> np.ndarray:
        _, vectors = self._state()
        if self.spec.scoring == "context" and self._context is not None:
            return self._context
        return vectors

    def _lookup(self, known: np.ndarray, vectors: np.ndarray, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        query = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.zeros((len(query), self.dim), dtype=np.float32)
        if len(known) == 0 or len(query) == 0:
            return np.zeros(len(query), dtype=bool), out
        pos = np.searchsorted(known, query)
        pos = np.minimum(pos, len(known) - 1)
        mask = known[pos] == query
        out[mask] = vectors[pos[mask]]
        return mask, out

    def item_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every trained item: ids (int64, ascending) and their vectors (float32, one row each)."""
        ids, vectors = self._state()
        return ids.copy(), np.array(vectors, dtype=np.float32)

    def item_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Every trained item's id (ascending) and number of training interactions (a popularity prior)."""
        ids, _ = self._state()
        assert self._counts is not None
        return ids.copy(), np.array(self._counts, dtype=np.int64)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Zero rows: text carries nothing this family can embed (items get vectors from interactions)."""
        self._state()
        return np.zeros((len(texts), self.dim), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Always raises NotSupported (query by items, or through a text space)."""
        raise NotSupported(_TEXT_MESSAGE, field="query")

    def save(self, directory: Path) -> None:
        ids, vectors = self._state()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = {"item_ids": IDS_FILE, "vectors": VECTORS_FILE, "item_counts": COUNTS_FILE}
        if self._context is not None:
            files["context_vectors"] = CONTEXT_FILE
            np.save(directory / CONTEXT_FILE, np.ascontiguousarray(self._context, dtype=np.float32))
        np.save(directory / IDS_FILE, np.asarray(ids, dtype=np.int64))
        np.save(directory / VECTORS_FILE, np.ascontiguousarray(vectors, dtype=np.float32))
        np.save(directory / COUNTS_FILE, np.asarray(self._counts, dtype=np.int64))
        write_manifest(
            directory,
            spec=self.spec,
            dim=self.dim,
            metric=self.metric,
            files=files,
            packages=("gensim",),
            extra={"items": int(len(ids)), "training_interactions": int(np.sum(self._counts))},
        )

    @classmethod
    def load(cls, directory: Path) -> Item2VecEmbedder:
        directory = Path(directory)
        manifest = read_manifest(directory, expected_type=cls.type)
        spec = spec_from_manifest(Item2VecSpec, manifest, directory)
        files = manifest["files"]
        try:
            names = (files["item_ids"], files["vectors"], files["item_counts"])
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"{directory}: manifest lacks the item2vec files: {exc}", field="directory") from exc
        ids = np.asarray(load_array(directory, names[0], mmap=False))
        vectors = load_array(directory, names[1])
        counts = np.asarray(load_array(directory, names[2], mmap=False))
        n = len(ids)
        if (
            ids.dtype != np.int64
            or ids.ndim != 1
            or vectors.dtype != np.float32
            or vectors.shape != (n, spec.dim)
            or counts.shape != (n,)
            or (n > 1 and not bool(np.all(ids[1:] > ids[:-1])))
        ):
            raise ModelFileError(f"{directory}: item arrays do not match each other or the spec", field="directory")
        context = None
        if "context_vectors" in files:
            context = load_array(directory, files["context_vectors"])
            if context.dtype != np.float32 or context.shape != (n, spec.dim):
                raise ModelFileError(f"{directory}: context vectors do not match the items", field="directory")
        elif spec.scoring == "context":
            # Saved before context vectors existed: its index was built from input vectors, by cosine.
            spec = spec.model_copy(update={"scoring": "cosine"})
        self = cls(spec)
        self._ids, self._vectors, self._counts = ids, vectors, counts.astype(np.int64)
        self._context = context
        return self

    # -- internals ------------------------------------------------------------------------

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        if self._ids is None or self._vectors is None:
            raise NotFitted("the item2vec embedder has not been trained or loaded")
        return self._ids, self._vectors
