"""Family "tfidf": each document a sparse-by-nature TF-IDF vector over the corpus vocabulary, stored dense.

Why: it is the lineage's step after one-hot counting (Salton & Buckley 1988) and before LSA,
which projects these very vectors on their top singular axes (:mod:`embedders.lsa` shares the
weighting below). On small corpora it is a strong similarity baseline of its own: on the Lee
benchmark (350 documents) it scores Pearson 0.601, above LSA's 0.579, and it adds the most to a
fused similarity with bert and word2vec (README "Evaluate and compare").

Weights: sublinear term frequency ``1 + log tf`` times the smoothed idf
``log((1 + N) / (1 + df)) + 1`` (scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``), each
document L2-normalised. The space's dimension is the vocabulary size, so a vector costs 4 bytes
per vocabulary word: ``max_features`` caps it (the words found in most documents are kept). That
suits collections of up to some tens of thousands of documents; a larger one wants ``lsa`` (a
fixed ``dim``) or ``bm25`` (a keyword space, no vectors). Saved as plain arrays, no pickle.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from embedders.base import Corpus, EmbedderSpec, Metric, NullProgress, Progress
from embedders.capabilities import Capability, trains
from embedders.errors import EmptyText, EmptyVocabulary, ModelFileError, NotFitted
from embedders.storage import load_array, read_manifest, spec_from_manifest, write_manifest
from embedders.tokenizer import Tokenizer, TokenizerSpec
from embedders.training import CorpusStats, check_corpus_length, preflight_corpus, prepare_corpus

__all__ = ["TfidfEmbedder", "TfidfSpec", "select_vocabulary", "smoothed_idf", "tfidf_weights"]


class TfidfSpec(EmbedderSpec):
    """TF-IDF (or one-hot, ``weighting: binary``) over the words found in ``min_count`` to ``max_df`` of the
    documents, at most ``max_features``."""

    type: Literal["tfidf"] = "tfidf"
    min_count: int = Field(2, ge=1, description="Ignore words found in fewer documents than this.")
    max_df: float = Field(0.5, gt=0.0, le=1.0, description="Ignore words found in more than this share of documents.")
    max_features: int = Field(
        20_000, ge=2, le=200_000, description="Vocabulary cap (= the space's dimension); the most frequent words stay."
    )
    weighting: Literal["tfidf", "binary"] = Field(
        "tfidf",
        description="tfidf: sublinear tf x smoothed idf; binary: one-hot bag of words (1 per distinct known word, "
        "no idf), the lineage's first step. Both L2-normalised.",
    )
    tokenizer: TokenizerSpec = Field(
        default_factory=lambda: TokenizerSpec(stopwords="english"), description="Stop words removed by default."
    )


def select_vocabulary(
    stats: CorpusStats, min_count: int, max_df: float, max_features: int | None = None
) -> list[str]:
    """Sorted words in ``min_count`` to ``max_df`` of the documents; past ``max_features``, the most frequent.

    Raises:
        EmptyVocabulary: no word is left (names ``embedder.min_count``).
    """
    limit = max_df * stats.n_docs
    kept = [(w, df) for w, df in stats.doc_freqs.items() if min_count <= df <= limit]
    if not kept:
        raise EmptyVocabulary(
            f"min_count={min_count} and max_df={max_df} leave no word of {len(stats.doc_freqs)}",
            field="embedder.min_count",
        )
    if max_features is not None and len(kept) > max_features:
        kept = sorted(kept, key=lambda p: (-p[1], p[0]))[:max_features]  # ties by word: repeatable
    return sorted(w for w, _ in kept)


def smoothed_idf(stats: CorpusStats, words: Sequence[str]) -> np.ndarray:
    """``log((1 + N) / (1 + df)) + 1`` per word, float32."""
    df = np.array([stats.doc_freqs[w] for w in words], dtype=np.float64)
    return (np.log((1.0 + stats.n_docs) / (1.0 + df)) + 1.0).astype(np.float32)


def tfidf_weights(
    index: dict[str, int], idf: np.ndarray, tokens: list[str], *, binary: bool = False
) -> tuple[np.ndarray, np.ndarray] | None:
    """A document's TF-IDF entries (vocabulary indices, L2-normalised weights), or None if no word is known.

    ``binary``: one-hot instead (every distinct known word weighs 1 before normalising), so the
    cosine of two documents is their shared words over the geometric mean of their word counts.
    """
    counts = Counter(i for i in (index.get(t) for t in tokens) if i is not None)
    if not counts:
        return None
    idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    if binary:
        return idx, np.full(len(idx), 1.0 / np.sqrt(len(idx)), dtype=np.float32)
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    w = (1.0 + np.log(tf)) * idf[idx]
    norm = float(np.linalg.norm(w))
    return (idx, (w / norm).astype(np.float32)) if norm > 0 else None


class TfidfEmbedder:
    """Sublinear TF-IDF document vectors (cosine); a query is weighted exactly as a document."""

    type: ClassVar[str] = "tfidf"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.EMBED_TEXT, Capability.TRAIN_CORPUS, Capability.PREFLIGHT, Capability.ANALYZE_TEXT}
    )
    trainable: ClassVar[bool] = trains(capabilities)
    spec_class: ClassVar[type[EmbedderSpec]] = TfidfSpec

    def __init__(self, spec: TfidfSpec | None = None) -> None:
        self.spec: TfidfSpec = spec or TfidfSpec()
        self._tokenizer = Tokenizer(self.spec.tokenizer)
        self._index: dict[str, int] | None = None
        self._words: list[str] = []
        self._idf = np.zeros(0, dtype=np.float32)

    @property
    def dim(self) -> int:
        """The vocabulary size once trained (``max_features`` before: an upper bound)."""
        return len(self._words) if self._index is not None else self.spec.max_features

    @property
    def metric(self) -> Metric:
        return "cosine"

    def analyze(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)

    def preflight(self, corpus: Corpus) -> None:
        """Raise what :meth:`fit` would raise for this corpus (CorpusTooSmall, EmptyVocabulary), cheaply."""
        spec = self.spec
        select_vocabulary(preflight_corpus(corpus, self._tokenizer, 1), spec.min_count, spec.max_df, spec.max_features)

    def fit(self, corpus: Corpus, progress: Progress | None = None) -> TfidfEmbedder:
        """Document frequencies from one tokenizing pass ("vocabulary"), then the idf ("train", one step)."""
        progress = progress or NullProgress()
        spec = self.spec
        check_corpus_length(corpus)
        _, stats = prepare_corpus(corpus, self._tokenizer, progress)
        progress.start("train", 1)
        words = select_vocabulary(stats, spec.min_count, spec.max_df, spec.max_features)
        idf = smoothed_idf(stats, words)
        progress.advance(1)  # may cancel: nothing of this fit is kept then
        self._words, self._idf, self._index = words, idf, {w: i for i, w in enumerate(words)}
        return self

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        index = self._state()
        binary = self.spec.weighting == "binary"
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            found = tfidf_weights(index, self._idf, self._tokenizer.tokenize(text), binary=binary)
            if found:
                out[row, found[0]] = found[1]
        return out

    def embed_query(self, text: str) -> np.ndarray:
        vector = self.embed_documents([text])[0]
        if not vector.any():
            raise EmptyText("the query has no word that the model knows", field="query")
        return vector

    def save(self, directory: Path) -> None:
        self._state()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = {"vocabulary": "vocab.json", "idf": "idf.npy"}
        (directory / files["vocabulary"]).write_text(json.dumps({"words": self._words}, ensure_ascii=False), encoding="utf-8")
        np.save(directory / files["idf"], self._idf)
        write_manifest(directory, spec=self.spec, dim=self.dim, metric=self.metric, files=files, packages=())

    @classmethod
    def load(cls, directory: Path) -> TfidfEmbedder:
        directory = Path(directory)
        manifest = read_manifest(directory, expected_type=cls.type)
        spec = spec_from_manifest(TfidfSpec, manifest, directory)
        files = manifest["files"]
        try:
            words = [str(w) for w in json.loads((directory / files["vocabulary"]).read_text(encoding="utf-8"))["words"]]
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise ModelFileError(f"{directory}: vocabulary file is garbled: {exc}", field="directory") from exc
        idf = load_array(directory, files["idf"], mmap=False)
        if idf.shape != (len(words),) or manifest.get("dim") != len(words):
            raise ModelFileError(f"{directory}: the idf array and dim do not match the vocabulary", field="directory")
        self = cls(spec)
        self._words, self._idf, self._index = words, idf, {w: i for i, w in enumerate(words)}
        return self

    def _state(self) -> dict[str, int]:
        if self._index is None:
            raise NotFitted("the tfidf embedder has not been trained or loaded")
        return self._index
