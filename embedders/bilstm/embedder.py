"""Family "bilstm": an ELMo-style biLM trained on the collection, serving contextual vectors.

Peters, Neumann, Iyyer, Gardner, Clark, Lee & Zettlemoyer (2018), "Deep
contextualized word representations", NAACL. A character-CNN token encoder and
forward/backward LSTM language models are trained on the collection's own
sentences (:mod:`embedders.bilstm.train`); a token's vector is then a weighted
mix of its 2L+1 layer representations (:mod:`embedders.bilstm.inference`), and
a text's vector pools its tokens' vectors.

What counts as "nothing embeddable" (the contract's zero row / EmptyText): a
text none of whose tokens is in the softmax vocabulary. The char CNN *could*
embed gibberish, but a text made only of strings the model never saw carries no
learnt signal, and a query of typos must not match documents at random. Inside
a text that has a known word, every token - unseen words and unseen Chinese
characters included - contributes its contextual vector.

torch is imported only by the modules this one loads inside its methods, so
registering the family costs nothing at import time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from embedders.base import Corpus, EmbedderSpec, Metric, NullProgress, Progress
from embedders.bilstm.sentences import sentence_tokens
from embedders.bilstm.spec import BiLSTMSpec, LayerWeighting, Pooling
from embedders.bilstm.vocab import WordVocab
from embedders.capabilities import Capability, trains
from embedders.errors import EmptyText, InvalidParameter, NotFitted, OutOfVocabulary
from embedders.storage import read_manifest, spec_from_manifest, write_manifest
from embedders.tokenizer import Tokenizer

if TYPE_CHECKING:  # pragma: no cover
    from embedders.bilstm.data import PreparedCorpus
    from embedders.bilstm.model import BiLM, BiLMConfig


@dataclass
class _Trained:
    """A trained (or loaded) biLM and what serving derives from it lazily."""

    model: BiLM
    vocab: WordVocab
    report: dict[str, Any] | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Unit-normalised context-free vectors of the vocabulary, per (layers, gamma).
    word_vectors: dict[str, np.ndarray] = field(default_factory=dict)


class BiLSTMEmbedder:
    """ELMo-style contextual embedder; also answers contextual tokens and word neighbours."""

    type: ClassVar[str] = "bilstm"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.EMBED_TEXT,
            Capability.TRAIN_CORPUS,
            Capability.ANALYZE_TEXT,
            Capability.WORD_VECTORS,
            Capability.CONTEXTUAL_TOKENS,
            Capability.PREFLIGHT,
        }
    )
    trainable: ClassVar[bool] = trains(capabilities)
    spec_class: ClassVar[type[EmbedderSpec]] = BiLSTMSpec

    def __init__(self, spec: BiLSTMSpec | None = None) -> None:
        self.spec: BiLSTMSpec = spec or BiLSTMSpec()
        self._tokenizer = Tokenizer(self.spec.tokenizer)
        self._trained: _Trained | None = None

    # -- contract ------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def metric(self) -> Metric:
        return "cosine"

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer

    def analyze(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)

    @property
    def vocabulary_size(self) -> int:
        """Softmax classes, the three special tokens included."""
        return len(self._state().vocab)

    @property
    def training_report(self) -> dict[str, Any] | None:
        """Per-epoch perplexities, unigram baseline, tokens/s of the training run (None if unknown)."""
        return self._state().report

    def preflight(self, corpus: Corpus) -> None:
        """Raise what :meth:`fit` would raise first (CorpusTooSmall, EmptyVocabulary), without torch."""
        self._prepare(corpus, NullProgress())

    def fit(self, corpus: Corpus, progress: Progress | None = None) -> BiLSTMEmbedder:
        """Train the biLM. Progress phases: "vocabulary" (documents), "train" (batches),
        "statistics" (chunks of training sentences, for the layer means used by ``center``).

        Live metrics go to ``progress.note`` when the sink has it (see
        :mod:`embedders.bilstm.train`). An exception from ``progress`` aborts and
        leaves the embedder as it was.
        """
        import torch

        from embedders.bilstm.batches import TokenTypes, encode_sentences
        from embedders.bilstm.evaluate import unigram_perplexity
        from embedders.bilstm.inference import corpus_layer_means
        from embedders.bilstm.model import BiLM
        from embedders.bilstm.train import TrainingReport, torch_threads, train

        progress = progress or NullProgress()
        spec = self.spec
        prepared = self._prepare(corpus, progress)
        vocab = prepared.vocab
        types = TokenTypes(spec.max_chars)
        train_set = encode_sentences(prepared.train, vocab, types)
        heldout_set = encode_sentences(prepared.heldout, vocab, types)
        report = TrainingReport(
            train_tokens=prepared.train_tokens,
            heldout_tokens=prepared.heldout_tokens,
            vocabulary_size=len(vocab),
            unigram_perplexity=unigram_perplexity(train_set, heldout_set, len(vocab)) if prepared.heldout else None,
        )
        # One torch thread unless the spec says (train.DEFAULT_THREADS says why); the process's
        # own count is put back afterwards, so the service's other work never runs at this job's.
        with torch_threads(spec.threads) as threads, torch.random.fork_rng(devices=[]):
            report.threads = threads
            torch.manual_seed(spec.seed)
            model = BiLM(_model_config(spec, vocab))
            train(model, types.chars(), train_set, heldout_set, spec, report, progress)
            model.layer_means.copy_(corpus_layer_means(model, prepared.train, progress))
        self._trained = _Trained(model=model, vocab=vocab, report=report.to_json())
        return self

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        state = self._state()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vec = self._text_vector(state, text)
            if vec is not None:
                out[row] = vec
        return out

    def embed_query(self, text: str) -> np.ndarray:
        vec = self._text_vector(self._state(), text)
        if vec is None:
            raise EmptyText("the query has no word that the model knows", field="query")
        return vec

    def save(self, directory: Path) -> None:
        from embedders.bilstm.storage import save_model

        state = self._state()
        files = save_model(Path(directory), state.model, state.vocab)
        extra: dict[str, object] = {"vocabulary_size": len(state.vocab), "token_dim": self.spec.token_dim}
        if state.report is not None:
            extra["training"] = state.report
        write_manifest(
            Path(directory),
            spec=self.spec,
            dim=self.dim,
            metric=self.metric,
            files=files,
            packages=("torch", "safetensors"),
            extra=extra,
        )

    @classmethod
    def load(cls, directory: Path) -> BiLSTMEmbedder:
        from embedders.bilstm.storage import load_model
        from embedders.errors import ModelFileError

        directory = Path(directory)
        manifest = read_manifest(directory, expected_type=cls.type)
        spec: BiLSTMSpec = spec_from_manifest(BiLSTMSpec, manifest, directory)
        model, vocab = load_model(directory, manifest["files"])
        if model.config.projection_dim != spec.projection_dim or model.config.num_layers != spec.num_layers:
            raise ModelFileError(f"{directory}: the saved model does not match its spec", field="directory")
        self = cls(spec)
        report = manifest.get("extra", {}).get("training")
        self._trained = _Trained(model=model, vocab=vocab, report=report if isinstance(report, dict) else None)
        return self

    # -- other representations of the same trained model ------------------------------------

    def with_representation(
        self,
        *,
        layers: LayerWeighting | None = None,
        pooling: Pooling | None = None,
        gamma: float | None = None,
        center: bool | None = None,
    ) -> BiLSTMEmbedder:
        """The same trained biLM with other layer weights / pooling / gamma / centring, without retraining.

        Lets benchmarks and users compare representations on identical weights.
        """
        state = self._state()
        options = {"layers": layers, "pooling": pooling, "gamma": gamma, "center": center}
        update = {k: v for k, v in options.items() if v is not None}
        spec = BiLSTMSpec.model_validate({**self.spec.model_dump(), **update})
        other = type(self)(spec)
        other._trained = _Trained(model=state.model, vocab=state.vocab, report=state.report)
        return other

    # -- ContextualTokens ------------------------------------------------------------------------

    def token_vectors(self, text: str) -> tuple[list[str], np.ndarray]:
        """Each token's contextual ELMo vector (spec's layer weights), float32 (n, token_dim).

        Unknown words get vectors too (the char CNN reads their spelling); a text
        without tokens gives ``([], (0, token_dim))``.
        """
        state = self._state()
        sentences = sentence_tokens(text, self._tokenizer)
        tokens = [t for s in sentences for t in s]
        if not tokens:
            return [], np.zeros((0, self.spec.token_dim), dtype=np.float32)
        return tokens, self._token_matrix(state, sentences)

    def contextual_neighbors(self, text: str, k: int) -> list[tuple[str, list[tuple[str, float]]]]:
        """For each token, the ``k`` vocabulary words nearest its contextual vector.

        Compared against the words' context-free vectors (each word run as a
        one-word sentence; computed on first use, then cached). The token's own
        word is not excluded: how far context moves a word from its context-free
        self is part of what this shows.
        """
        _check_k(k)
        state = self._state()
        tokens, vectors = self.token_vectors(text)
        if not tokens:
            return []
        words, table = self._vocabulary_vectors(state)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        scores = unit @ table.T
        return [(tok, _top(words, row, k, exclude=())) for tok, row in zip(tokens, scores, strict=True)]

    # -- WordVectors (context-free vectors) -------------------------------------------------------

    def word_neighbors(self, word: str, k: int) -> list[tuple[str, float]]:
        """Nearest vocabulary words to a word's context-free vector, the word itself excluded.

        Any single token has a vector (the char CNN reads its spelling), so only a
        "word" that is not exactly one token is OutOfVocabulary.
        """
        _check_k(k)
        state = self._state()
        token = self._single_token(word, field="word")
        words, table = self._vocabulary_vectors(state)
        return _top(words, table @ self._word_vector(state, token), k, exclude=(token,))

    def analogy(self, positive: Sequence[str], negative: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Words nearest sum(positive) - sum(negative) of unit context-free vectors (3CosAdd), inputs excluded."""
        _check_k(k)
        if not positive:
            raise InvalidParameter("an analogy needs at least one positive word", field="positive")
        state = self._state()
        pos = [self._single_token(w, field="positive") for w in positive]
        neg = [self._single_token(w, field="negative") for w in negative]
        target = sum(self._word_vector(state, t) for t in pos) - sum(
            (self._word_vector(state, t) for t in neg), np.zeros(self.spec.token_dim, dtype=np.float32)
        )
        norm = float(np.linalg.norm(target))
        words, table = self._vocabulary_vectors(state)
        scores = table @ (target / norm if norm > 0 else target)
        return _top(words, scores, k, exclude=(*pos, *neg))

    # -- internals -----------------------------------------------------------------------------------

    def _state(self) -> _Trained:
        if self._trained is None:
            raise NotFitted("the bilstm embedder has not been trained or loaded")
        return self._trained

    def _prepare(self, corpus: Corpus, progress: Progress) -> PreparedCorpus:
        from embedders.bilstm.data import prepare

        spec = self.spec
        return prepare(
            corpus,
            self._tokenizer,
            heldout_fraction=spec.heldout_fraction,
            seed=spec.seed,
            min_count=spec.min_count,
            max_size=spec.max_size,
            progress=progress,
        )

    def _token_matrix(self, state: _Trained, sentences: list[list[str]]) -> np.ndarray:
        """ELMo vectors of every token of the sentences (one text), as a float32 array."""
        return self._mixed(state, sentences).numpy().astype(np.float32, copy=True)

    def _mixed(self, state: _Trained, sentences: list[list[str]]) -> Any:
        from embedders.bilstm.inference import layer_weights, mix, token_layers

        weights = layer_weights(self.spec.layers, state.model.config.num_layers)
        with self._inference_threads():
            return mix(token_layers(state.model, sentences), weights, self.spec.gamma, self._means(state))

    def _inference_threads(self) -> Any:
        """torch at the spec's ``threads`` (default 1) for a forward pass, under the process-wide lock.

        Why 1 by default, as for training: beside another busy process 2 threads embedded 120 Lee
        documents in 5.1-5.6 s against 2.1-2.2 s on 1 (queries 6.2-6.7 ms against 3.4-4.3 ms); idle,
        2 threads were only 1.2-1.3x faster (1.5-1.7 s against 2.0 s).
        """
        from embedders.torch_threads import torch_threads

        return torch_threads(self.spec.threads or 1)

    def _means(self, state: _Trained) -> Any:
        return state.model.layer_means if self.spec.center else None

    def _text_vector(self, state: _Trained, text: str) -> np.ndarray | None:
        from embedders.bilstm.inference import pool

        sentences = sentence_tokens(text, self._tokenizer)
        if not any(t in state.vocab for s in sentences for t in s):
            return None
        return pool(self._mixed(state, sentences), self.spec.pooling)

    def _vocabulary_vectors(self, state: _Trained) -> tuple[tuple[str, ...], np.ndarray]:
        """The vocabulary's unit context-free vectors under this spec's layer weights (cached)."""
        from embedders.bilstm.inference import context_free_vectors, layer_weights

        key = f"{self.spec.layers!r}/{self.spec.gamma!r}/{self.spec.center}"
        words = state.vocab.regular_words
        with state.lock:
            table = state.word_vectors.get(key)
            if table is None:
                weights = layer_weights(self.spec.layers, state.model.config.num_layers)
                with self._inference_threads():
                    table = state.word_vectors[key] = context_free_vectors(
                        state.model, words, weights, self.spec.gamma, self._means(state)
                    )
        return words, table

    def _word_vector(self, state: _Trained, token: str) -> np.ndarray:
        """A single token's unit context-free vector (from the cache when it is a vocabulary word)."""
        from embedders.bilstm.inference import context_free_vectors, layer_weights

        words, table = self._vocabulary_vectors(state)
        index = state.vocab.id(token) - 3
        if token in state.vocab and 0 <= index < len(words):
            return table[index]
        weights = layer_weights(self.spec.layers, state.model.config.num_layers)
        with self._inference_threads():
            return context_free_vectors(state.model, [token], weights, self.spec.gamma, self._means(state))[0]

    def _single_token(self, word: str, *, field: str) -> str:
        tokens = self._tokenizer.tokenize(word)
        if len(tokens) != 1:
            raise OutOfVocabulary(word, field=field)
        return tokens[0]


def _model_config(spec: BiLSTMSpec, vocab: WordVocab) -> BiLMConfig:
    """The model's constructor arguments: the spec's sizes plus what the corpus decided (classes, cutoffs)."""
    from embedders.bilstm.model import BiLMConfig, max_tail_clusters
    from embedders.bilstm.vocab import N_CHARS

    return BiLMConfig(
        n_words=len(vocab),
        cutoffs=vocab.cutoffs(max_tails=max_tail_clusters(spec.projection_dim)),
        n_chars=N_CHARS,
        char_dim=spec.char_dim,
        filters=[(width, count) for width, count in spec.filters],
        highway_layers=spec.highway_layers,
        max_chars=spec.max_chars,
        projection_dim=spec.projection_dim,
        hidden_dim=spec.hidden_dim,
        num_layers=spec.num_layers,
        dropout=spec.dropout,
    )


def _check_k(k: int) -> None:
    if k < 1:
        raise InvalidParameter(f"k must be at least 1, got {k}", field="k")


def _top(words: Sequence[str], scores: np.ndarray, k: int, *, exclude: Sequence[str]) -> list[tuple[str, float]]:
    """The ``k`` best-scoring words (ties in vocabulary order), skipping ``exclude``."""
    order = np.argsort(-scores, kind="stable")
    skip = set(exclude)
    out: list[tuple[str, float]] = []
    for i in order:
        if words[i] in skip:
            continue
        out.append((words[i], float(scores[i])))
        if len(out) == k:
            break
    return out
