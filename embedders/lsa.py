"""Family "lsa": latent semantic analysis, TF-IDF vectors projected on the corpus's top singular vectors.

Why: it is the step between counting words and learning them (Deerwester et al.
1990; Landauer & Dumais 1997) — TF-IDF alone matches only the words a query
shares with a document, LSA's truncated SVD of the term-document matrix folds
words that occur in the same documents onto the same axes, so "bushfire" and
"blaze" can meet. With it a corpus can be compared under the whole lineage
one-hot -> TF-IDF -> LSA -> word2vec -> doc2vec -> ELMo -> BERT.

Weights: sublinear term frequency ``1 + log tf`` times the smoothed idf
``log((1 + N) / (1 + df)) + 1`` (scikit-learn's), each document L2-normalised;
the SVD is gensim's :class:`~gensim.models.LsiModel` (Halko et al.'s randomised
algorithm, seeded). A document's vector is ``U_k^T x``: its coordinates on the
``dim`` concept axes. What is saved is plain arrays (vocabulary, idf, ``U_k``),
not a pickle, and a query is projected exactly as a document is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from embedders.base import Corpus, EmbedderSpec, Metric, NullProgress, Progress
from embedders.capabilities import Capability, trains
from embedders.errors import EmptyText, ModelFileError, NotFitted
from embedders.storage import load_array, read_manifest, spec_from_manifest, write_manifest
from embedders.tfidf import select_vocabulary, smoothed_idf, tfidf_weights
from embedders.tokenizer import Tokenizer, TokenizerSpec
from embedders.training import CorpusStats, check_corpus_length, preflight_corpus, prepare_corpus

__all__ = ["LSAEmbedder", "LSASpec"]


class LSASpec(EmbedderSpec):
    """LSA over TF-IDF; ``dim`` concept axes (fewer documents than that: the rest are zero).

    ``dim`` 300 is Landauer & Dumais' classic choice and measured best of 100/200/300 on the Lee
    benchmark (bench/eval_lee.py, 350 documents, 3 seeds: Pearson 0.537 / 0.554 / 0.579). There the
    same TF-IDF weights without the SVD give 0.601: on a corpus this small the truncation loses
    more than the folding gains (with every axis kept, cosines equal TF-IDF's exactly).
    """

    type: Literal["lsa"] = "lsa"
    dim: int = Field(300, ge=2, le=4096, description="Concept axes kept (the truncated SVD's rank).")
    min_count: int = Field(2, ge=1, description="Ignore words found in fewer documents than this.")
    max_df: float = Field(0.5, gt=0.0, le=1.0, description="Ignore words found in more than this share of documents.")
    power_iters: int = Field(4, ge=0, le=20, description="Power iterations of the randomised SVD (more: closer to exact).")
    seed: int = Field(1, ge=0, le=2**31 - 1, description="Seed of the randomised SVD.")
    tokenizer: TokenizerSpec = Field(
        default_factory=lambda: TokenizerSpec(stopwords="english"), description="Stop words removed by default."
    )


class LSAEmbedder:
    """TF-IDF -> truncated SVD document vectors (cosine)."""

    type: ClassVar[str] = "lsa"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.EMBED_TEXT, Capability.TRAIN_CORPUS, Capability.PREFLIGHT, Capability.ANALYZE_TEXT}
    )
    trainable: ClassVar[bool] = trains(capabilities)
    spec_class: ClassVar[type[EmbedderSpec]] = LSASpec

    def __init__(self, spec: LSASpec | None = None) -> None:
        self.spec: LSASpec = spec or LSASpec()
        self._tokenizer = Tokenizer(self.spec.tokenizer)
        self._index: dict[str, int] | None = None
        self._words: list[str] = []
        self._idf = np.zeros(0, dtype=np.float32)
        self._u = np.zeros((0, self.spec.dim), dtype=np.float32)

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def metric(self) -> Metric:
        return "cosine"

    def analyze(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)

    def preflight(self, corpus: Corpus) -> None:
        """Raise what :meth:`fit` would raise for this corpus (CorpusTooSmall, EmptyVocabulary), cheaply."""
        self._vocabulary(preflight_corpus(corpus, self._tokenizer, 1))

    def _vocabulary(self, stats: CorpusStats) -> list[str]:
        """The words kept: in at least ``min_count`` documents and at most ``max_df`` of them."""
        return select_vocabulary(stats, self.spec.min_count, self.spec.max_df)

    def fit(self, corpus: Corpus, progress: Progress | None = None) -> LSAEmbedder:
        """Vocabulary and idf from one tokenizing pass ("vocabulary"), then the SVD ("train", one step)."""
        from gensim.models import LsiModel

        progress = progress or NullProgress()
        spec = self.spec
        check_corpus_length(corpus)
        docs, stats = prepare_corpus(corpus, self._tokenizer, progress)
        words = self._vocabulary(stats)
        index = {w: i for i, w in enumerate(words)}
        idf = smoothed_idf(stats, words)
        bows = [b for b in (tfidf_weights(index, idf, tokens) for tokens in docs) if b]
        progress.start("train", 1)
        lsi = LsiModel(
            corpus=[list(zip(idx.tolist(), w.tolist())) for idx, w in bows],
            id2word=dict(enumerate(words)),
            num_topics=min(spec.dim, len(words)),
            power_iters=spec.power_iters,
            random_seed=spec.seed,
            dtype=np.float64,
        )
        u = np.asarray(lsi.projection.u, dtype=np.float64)
        signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])  # fix each axis' sign: repeatable
        u = u * np.where(signs == 0, 1.0, signs)
        projection = np.zeros((len(words), spec.dim), dtype=np.float32)
        projection[:, : u.shape[1]] = u
        progress.advance(1)  # may cancel: nothing of this training is kept then
        self._words, self._index, self._idf, self._u = words, index, idf, projection
        return self

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self._state()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            found = self._weights(self._tokenizer.tokenize(text))
            if found:
                idx, w = found
                out[row] = w @ self._u[idx]
        return out

    def embed_query(self, text: str) -> np.ndarray:
        self._state()
        found = self._weights(self._tokenizer.tokenize(text))
        if not found:
            raise EmptyText("the query has no word that the model knows", field="query")
        idx, w = found
        return (w @ self._u[idx]).astype(np.float32)

    def save(self, directory: Path) -> None:
        self._state()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = {"vocabulary": "vocab.json", "idf": "idf.npy", "projection": "projection.npy"}
        (directory / files["vocabulary"]).write_text(json.dumps({"words": self._words}, ensure_ascii=False), encoding="utf-8")
        np.save(directory / files["idf"], self._idf)
        np.save(directory / files["projection"], self._u)
        write_manifest(
            directory, spec=self.spec, dim=self.dim, metric=self.metric, files=files, packages=("gensim",),
            extra={"vocabulary_size": len(self._words)},
        )

    @classmethod
    def load(cls, directory: Path) -> LSAEmbedder:
        directory = Path(directory)
        manifest = read_manifest(directory, expected_type=cls.type)
        spec = spec_from_manifest(LSASpec, manifest, directory)
        files = manifest["files"]
        try:
            words = [str(w) for w in json.loads((directory / files["vocabulary"]).read_text(encoding="utf-8"))["words"]]
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise ModelFileError(f"{directory}: vocabulary file is garbled: {exc}", field="directory") from exc
        idf = load_array(directory, files["idf"], mmap=False)
        u = load_array(directory, files["projection"])
        if idf.shape != (len(words),) or u.shape != (len(words), spec.dim):
            raise ModelFileError(f"{directory}: array shapes do not match the vocabulary and spec", field="directory")
        self = cls(spec)
        self._words, self._index, self._idf, self._u = words, {w: i for i, w in enumerate(words)}, idf, u
        return self

    # -- internals ------------------------------------------------------------------------

    def _state(self) -> dict[str, int]:
        if self._index is None:
            raise NotFitted("the lsa embedder has not been trained or loaded")
        return self._index

    def _weights(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
        return tfidf_weights(self._index or {}, self._idf, tokens)

