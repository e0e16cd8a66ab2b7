"""Family "word2vec": gensim Word2Vec word vectors, pooled into document vectors.

A document vector is a weighted average of its words' vectors:

* ``mean``  - every token counts once;
* ``tfidf`` - each token weighted by its smoothed idf from the training corpus
  (repeated tokens add up, which is the tf part);
* ``sif``   - Arora, Liang & Ma (2017), "A Simple but Tough-to-Beat Baseline for
  Sentence Embeddings": weight a/(a+p(w)) with p(w) the unigram probability in
  the training corpus, then remove the projection on the first principal
  component of the training documents' weighted vectors (computed at fit time
  and saved with the model).

A Han word the model does not know (jieba glued it into an idiom or episode name
the corpus never uses as a token: 失街亭, 借东风) is embedded as the known words
inside it (``oov_backoff``, default "pieces": 失 + 街亭) instead of adding
nothing; every other token is embedded exactly as before.

Serving needs only the word vectors, the vocabulary and the weights, so a saved
model is plain ``.npy`` arrays (memory-mappable, gensim's habit) plus JSON; no
pickle. gensim itself is imported only to train, and to answer word
neighbours (a KeyedVectors is rebuilt from the arrays on demand). The training
helpers it shares with the other families live in :mod:`embedders.training`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from embedders.base import Corpus, EmbedderSpec, Metric, NullProgress, Progress
from embedders.capabilities import Capability, trains
from embedders.cjk import is_han_word, known_pieces, search_pieces
from embedders.errors import EmptyText, InvalidParameter, ModelFileError, NotFitted, OutOfVocabulary
from embedders.storage import load_array, read_manifest, spec_from_manifest, write_manifest
from embedders.phrases import PhrasedTokenizer, PhrasesSpec, learn_phrases, read_phrases, write_phrases
from embedders.word2vec_pooling import Pooling, Weighting, first_component, pool, token_weights, with_component
from embedders.tokenizer import Tokenizer, TokenizerSpec
from embedders.training import (
    TokenizedCorpus,
    check_corpus_length,
    check_vocabulary,
    default_workers,
    epoch_callback,
    preflight_corpus,
    prepare_corpus,
)

if TYPE_CHECKING:  # pragma: no cover
    from gensim.models import KeyedVectors

OOVBackoff = Literal["none", "pieces", "search"]


class Word2VecSpec(EmbedderSpec):
    """gensim Word2Vec parameters plus how word vectors are pooled into a document vector.

    Defaults are tuned for small corpora (hundreds to thousands of documents, like
    the 350-document Lee demo) on the Lee benchmark (Pearson r). bench/eval_lee.py
    records the default and its main alternatives (bench/results/lee_eval.json); the
    wider exploration behind it (one change at a time from skip-gram, window 5,
    20 epochs, 3-5 seeds, SIF pooling) found:

    * stop-word removal: +0.05 to +0.2 whatever the weighting;
    * window 10 and 40 epochs: 0.59-0.63 vs 0.49-0.55 (window 5) and 0.40-0.54 (20 epochs);
    * sample 1e-4: 0.653 vs 0.625 at 1e-3 (1e-5 starves training: 0.16-0.58);
    * skip-gram over CBOW (0.53); dim 50/200, min_count 1/3, hierarchical softmax,
      negative 10: no gain.

    The default reaches r = 0.645 (tfidf pooling) against 0.534 for raw
    term counts. A large corpus can use fewer epochs: each pass sees far more context.
    """

    type: Literal["word2vec"] = "word2vec"
    architecture: Literal["skipgram", "cbow"] = Field(
        "skipgram", description="skip-gram learns rare words better, which dominates on small corpora."
    )
    softmax: Literal["negative", "hierarchical"] = Field(
        "negative", description="Output layer: negative sampling or hierarchical softmax."
    )
    negative: int = Field(5, ge=1, le=64, description="Noise words per positive (softmax='negative' only).")
    window: int = Field(10, ge=1, le=100, description="Max distance between a word and its context words.")
    dim: int = Field(100, ge=2, le=4096, description="Vector size.")
    min_count: int = Field(2, ge=1, description="Ignore words with fewer occurrences in the training corpus.")
    epochs: int = Field(40, ge=1, le=10_000, description="Passes over the corpus.")
    sample: float = Field(1e-4, ge=0.0, lt=1.0, description="Down-sampling threshold for frequent words (0: off).")
    alpha: float = Field(0.025, gt=0.0, le=1.0, description="Initial learning rate.")
    min_alpha: float = Field(1e-4, ge=0.0, le=1.0, description="Final learning rate (linear decay).")
    seed: int = Field(1, ge=0, le=2**31 - 1, description="Random seed (runs repeat exactly only with workers=1).")
    workers: int = Field(default_factory=default_workers, ge=1, le=64, description="Training threads.")
    # Default "tfidf". bench/eval_lee.py (bench/results/lee_eval.json: 3 seeds, Lee
    # Pearson r, the same trained vectors pooled three ways) puts the three within about
    # one seed std at this spec: mean 0.651, tfidf 0.645, sif 0.645 (std 0.005-0.006).
    # So the choice is by robustness, where they differ:
    # * function words kept (e.g. Chinese text, which the English stop list misses):
    #   sif 0.633, tfidf 0.622, mean 0.555;
    # * a tiny corpus (tests/service's 20 documents, two topics, 10 seeds x 2 queries,
    #   top-5 all on topic): mean 20/20, tfidf 20/20, sif 16/20 - its p(w) estimates
    #   are noise there, and the first principal component can be the topic axis itself;
    # * under-trained vectors (20 epochs): sif 0.536, mean 0.399, tfidf 0.389 - the
    #   one case SIF wins clearly, and it needs a spec change to get there.
    # tfidf is the only weighting without a bad case under the default training spec.
    weighting: Weighting = Field("tfidf", description="How word vectors are pooled into a document vector.")
    sif_a: float = Field(1e-3, gt=0.0, le=1.0, description="SIF smoothing a in a/(a+p(w)) (1e-3 beat 1e-4 and 1e-2).")
    tokenizer: TokenizerSpec = Field(
        default_factory=lambda: TokenizerSpec(stopwords="english"),
        description="Stop words removed by default: function words crowd the context windows of a small corpus.",
    )
    phrases: PhrasesSpec | None = Field(
        None,
        description=(
            "Learn frequent word pairs from the corpus (gensim Phrases) and train and query on them as one token "
            "(new_york, 语言_模型); null: off."
        ),
    )
    # Why: jieba's dictionary glues words into idioms and episode names (失街亭, 斩马谡,
    # 借东风) that a corpus never contains as a token, while it does contain their parts
    # (街亭, 马谡, 东风); without a back-off such a query word adds nothing to the query
    # vector, which is often the word the query is about. Only Han tokens of two or more
    # characters the model does not know are touched (English and other space-separated
    # scripts are embedded exactly as before), at query and document time alike; the
    # pieces are weighted like the tokens they are. bench/bench_zh.py measures it
    # (bench/RESULTS.md, "Chinese retrieval"). Models saved before this field existed
    # load with "none", the behaviour they were built with.
    oov_backoff: OOVBackoff = Field(
        "pieces",
        description=(
            "A Han word the model does not know is embedded as known words inside it: 'pieces' (the fewest "
            "vocabulary words covering it, down to single characters: 失街亭 -> 失 + 街亭), 'search' (the known words "
            "jieba's search mode finds inside it, else its known characters) or 'none' (it adds nothing)."
        ),
    )

    @model_validator(mode="after")
    def _alpha_decays(self) -> Word2VecSpec:
        if self.min_alpha > self.alpha:
            raise ValueError(f"min_alpha ({self.min_alpha}) must not exceed alpha ({self.alpha})")
        return self


class Word2VecEmbedder:
    """Word2vec document embedder; also answers word neighbours and analogies."""

    type: ClassVar[str] = "word2vec"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.EMBED_TEXT, Capability.TRAIN_CORPUS, Capability.WORD_VECTORS, Capability.PREFLIGHT, Capability.ANALYZE_TEXT}
    )
    trainable: ClassVar[bool] = trains(capabilities)
    spec_class: ClassVar[type[EmbedderSpec]] = Word2VecSpec

    def __init__(self, spec: Word2VecSpec | None = None) -> None:
        self.spec: Word2VecSpec = spec or Word2VecSpec()
        self._tokenizer: Tokenizer | PhrasedTokenizer = Tokenizer(self.spec.tokenizer)
        self._pooling: Pooling | None = None
        self._kv: KeyedVectors | None = None
        self._kv_lock = threading.Lock()
        self._backoff: dict[str, np.ndarray] = {}  # unknown Han token -> indices of its pieces

    # -- contract -------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def metric(self) -> Metric:
        return "cosine"

    @property
    def tokenizer(self) -> Tokenizer | PhrasedTokenizer:
        return self._tokenizer

    def analyze(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)

    @property
    def vocabulary_size(self) -> int:
        return len(self._state().words)

    def preflight(self, corpus: Corpus) -> None:
        """Raise what :meth:`fit` would raise for this corpus (CorpusTooSmall, EmptyVocabulary), cheaply."""
        preflight_corpus(corpus, self._tokenizer, self.spec.min_count)

    def fit(self, corpus: Corpus, progress: Progress | None = None) -> Word2VecEmbedder:
        """Train word vectors, then the pooling weights (and SIF's component).

        Progress phases: "vocabulary" (documents scanned), "train" (epochs), and for
        SIF "component" (documents pooled). An exception from ``progress`` aborts.
        """
        from gensim.models import Word2Vec

        progress = progress or NullProgress()
        spec = self.spec
        check_corpus_length(corpus)
        if spec.phrases is not None:  # learned on the plain tokens, then trained on with pairs joined
            base = Tokenizer(spec.tokenizer)
            self._tokenizer = PhrasedTokenizer(base, learn_phrases(TokenizedCorpus(corpus, base), spec.phrases))
        docs, stats = prepare_corpus(corpus, self._tokenizer, progress)
        check_vocabulary(stats, spec.min_count)

        model = Word2Vec(
            vector_size=spec.dim,
            window=spec.window,
            min_count=spec.min_count,
            sg=1 if spec.architecture == "skipgram" else 0,
            hs=1 if spec.softmax == "hierarchical" else 0,
            negative=spec.negative if spec.softmax == "negative" else 0,
            sample=spec.sample,
            alpha=spec.alpha,
            min_alpha=spec.min_alpha,
            seed=spec.seed,
            workers=spec.workers,
            epochs=spec.epochs,
        )
        model.build_vocab_from_freq(dict(stats.counts), corpus_count=stats.n_docs)
        progress.start("train", spec.epochs)
        model.train(
            docs,
            total_examples=stats.n_docs,
            total_words=stats.total_tokens,
            epochs=spec.epochs,
            callbacks=[epoch_callback(progress)],
        )

        words = list(model.wv.index_to_key)
        counts = np.array([stats.counts[w] for w in words], dtype=np.int64)
        doc_freqs = np.array([stats.doc_freqs[w] for w in words], dtype=np.int64)
        vectors = np.ascontiguousarray(model.wv.vectors, dtype=np.float32)
        weights = token_weights(spec.weighting, counts, doc_freqs, stats.n_docs, stats.total_tokens, spec.sif_a)
        pooling = Pooling(
            words=words,
            key_to_index={w: i for i, w in enumerate(words)},
            vectors=vectors,
            counts=counts,
            doc_freqs=doc_freqs,
            n_docs=stats.n_docs,
            total_tokens=stats.total_tokens,
            weights=weights,
            component=None,
        )
        if spec.weighting == "sif":
            progress.start("component", stats.n_docs)
            pooling = with_component(pooling, first_component(pooling, docs, progress, self._indices))
        self._pooling = pooling
        self._kv = None
        self._backoff = {}
        return self

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        pooling = self._state()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vec = self._embed_tokens(pooling, self._tokenizer.tokenize(text))
            if vec is not None:
                out[row] = vec
        return out

    def embed_query(self, text: str) -> np.ndarray:
        vec = self._embed_tokens(self._state(), self._tokenizer.tokenize(text))
        if vec is None:
            raise EmptyText("the query has no word that the model knows", field="query")
        return vec

    def save(self, directory: Path) -> None:
        pooling = self._state()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = {"vectors": "vectors.npy", "vocabulary": "vocab.json", "weights": "weights.npy"}
        np.save(directory / files["vectors"], np.ascontiguousarray(pooling.vectors, dtype=np.float32))
        np.save(directory / files["weights"], np.asarray(pooling.weights, dtype=np.float32))
        if pooling.component is not None:
            files["component"] = "sif_component.npy"
            np.save(directory / files["component"], np.asarray(pooling.component, dtype=np.float32))
        vocab = {
            "n_docs": pooling.n_docs,
            "total_tokens": pooling.total_tokens,
            "words": pooling.words,
            "counts": [int(c) for c in pooling.counts],
            "doc_freqs": [int(d) for d in pooling.doc_freqs],
        }
        (directory / files["vocabulary"]).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        if isinstance(self._tokenizer, PhrasedTokenizer):
            files["phrases"] = "phrases.json"
            write_phrases(directory, files["phrases"], self._tokenizer.phrasegrams)
        write_manifest(
            directory,
            spec=self.spec,
            dim=self.dim,
            metric=self.metric,
            files=files,
            packages=("gensim",),
            extra={"vocabulary_size": len(pooling.words), "weighting": self.spec.weighting},
        )

    @classmethod
    def load(cls, directory: Path) -> Word2VecEmbedder:
        directory = Path(directory)
        manifest = read_manifest(directory, expected_type=cls.type)
        spec = spec_from_manifest(Word2VecSpec, manifest, directory)
        if isinstance(manifest["spec"], dict) and "oov_backoff" not in manifest["spec"]:
            # Saved before the back-off existed: its document vectors were pooled without it.
            spec = spec.model_copy(update={"oov_backoff": "none"})
        files = manifest["files"]
        try:
            vocab = json.loads((directory / files["vocabulary"]).read_text(encoding="utf-8"))
            words = [str(w) for w in vocab["words"]]
            counts = np.asarray(vocab["counts"], dtype=np.int64)
            doc_freqs = np.asarray(vocab["doc_freqs"], dtype=np.int64)
            n_docs, total_tokens = int(vocab["n_docs"]), int(vocab["total_tokens"])
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise ModelFileError(f"{directory}: vocabulary file is garbled: {exc}", field="directory") from exc
        vectors = load_array(directory, files["vectors"])
        weights = load_array(directory, files["weights"], mmap=False)
        component = load_array(directory, files["component"], mmap=False) if "component" in files else None
        n = len(words)
        if (
            vectors.shape != (n, spec.dim)
            or weights.shape != (n,)
            or len(counts) != n
            or len(doc_freqs) != n
            or (spec.weighting == "sif") != (component is not None)
            or (component is not None and component.shape != (spec.dim,))
        ):
            raise ModelFileError(f"{directory}: array shapes do not match the vocabulary and spec", field="directory")
        self = cls(spec)
        if "phrases" in files:
            try:
                self._tokenizer = PhrasedTokenizer(Tokenizer(spec.tokenizer), read_phrases(directory, files["phrases"]))
            except (KeyError, TypeError, ValueError, OSError) as exc:
                raise ModelFileError(f"{directory}: phrases file is garbled: {exc}", field="directory") from exc
        self._pooling = Pooling(
            words=words,
            key_to_index={w: i for i, w in enumerate(words)},
            vectors=vectors,
            counts=counts,
            doc_freqs=doc_freqs,
            n_docs=n_docs,
            total_tokens=total_tokens,
            weights=weights,
            component=component,
        )
        return self

    # -- WordVectors ------------------------------------------------------------------

    def word_neighbors(self, word: str, k: int) -> list[tuple[str, float]]:
        """Nearest words by cosine, the word itself excluded."""
        _check_k(k)
        key = self._vocab_word(word, field="word")
        return [(w, float(s)) for w, s in self.keyed_vectors.most_similar(key, topn=k)]

    def analogy(self, positive: Sequence[str], negative: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Words nearest to sum(positive) - sum(negative) (3CosAdd), inputs excluded."""
        _check_k(k)
        if not positive:
            raise InvalidParameter("an analogy needs at least one positive word", field="positive")
        pos = [self._vocab_word(w, field="positive") for w in positive]
        neg = [self._vocab_word(w, field="negative") for w in negative]
        return [(w, float(s)) for w, s in self.keyed_vectors.most_similar(positive=pos, negative=neg, topn=k)]

    @property
    def keyed_vectors(self) -> KeyedVectors:
        """gensim KeyedVectors over the (possibly memory-mapped) vectors, built on first use."""
        if self._kv is None:
            pooling = self._state()
            with self._kv_lock:
                if self._kv is None:
                    from gensim.models import KeyedVectors

                    kv = KeyedVectors(vector_size=self.dim, count=0, dtype=np.float32)
                    kv.index_to_key = list(pooling.words)
                    kv.key_to_index = dict(pooling.key_to_index)
                    kv.vectors = pooling.vectors
                    kv.expandos = {"count": np.asarray(pooling.counts)}
                    self._kv = kv
        return self._kv

    # -- evaluation helpers -------------------------------------------------------------

    def reweighted(
        self, weighting: Weighting, corpus: Corpus | None = None, *, sif_a: float | None = None
    ) -> Word2VecEmbedder:
        """The same word vectors pooled another way, without retraining.

        Lets benchmarks compare weightings on identical vectors. SIF needs the
        training ``corpus`` again to compute its principal component.
        """
        pooling = self._state()
        spec = self.spec.model_copy(update={"weighting": weighting, "sif_a": sif_a or self.spec.sif_a})
        spec = Word2VecSpec.model_validate(spec.model_dump())
        weights = token_weights(
            weighting, pooling.counts, pooling.doc_freqs, pooling.n_docs, pooling.total_tokens, spec.sif_a
        )
        new = Pooling(**{**pooling.__dict__, "weights": weights, "component": None})
        other = type(self)(spec)
        other._tokenizer = self._tokenizer
        if weighting == "sif":
            if corpus is None:
                raise InvalidParameter("SIF needs the training corpus for its principal component", field="corpus")
            docs, _ = prepare_corpus(corpus, self._tokenizer, NullProgress())
            new = with_component(new, first_component(new, docs, NullProgress(), other._indices))
        other._pooling = new
        return other

    # -- internals ------------------------------------------------------------------------

    def _state(self) -> Pooling:
        if self._pooling is None:
            raise NotFitted("the word2vec embedder has not been trained or loaded")
        return self._pooling

    def _indices(self, pooling: Pooling, tokens: list[str]) -> np.ndarray:
        """Vocabulary rows of ``tokens``: known tokens as they are, unknown Han ones by the spec's back-off."""
        index = pooling.key_to_index
        backoff = self.spec.oov_backoff
        if backoff == "none":
            return np.fromiter((index[t] for t in tokens if t in index), dtype=np.int64)
        out: list[int] = []
        for t in tokens:
            i = index.get(t)
            if i is not None:
                out.append(i)
            elif len(t) > 1 and is_han_word(t):
                out.extend(self._pieces(pooling, t))
        return np.asarray(out, dtype=np.int64)

    def _pieces(self, pooling: Pooling, token: str) -> np.ndarray:
        """Rows of the known pieces of an unknown Han token (cached: documents repeat their rare words)."""
        rows = self._backoff.get(token)
        if rows is None:
            split = known_pieces if self.spec.oov_backoff == "pieces" else search_pieces
            index = pooling.key_to_index
            rows = np.asarray([index[p] for p in split(token, index)], dtype=np.int64)
            if len(self._backoff) >= _BACKOFF_CACHE:
                self._backoff = {}  # a bound, not an LRU: replacing the dict is atomic for readers
            self._backoff[token] = rows
        return rows

    def _embed_tokens(self, pooling: Pooling, tokens: list[str]) -> np.ndarray | None:
        indices = self._indices(pooling, tokens)
        if indices.size == 0:
            return None
        vec = pool(indices, pooling.weights, pooling.vectors, self.spec.weighting)
        if pooling.component is not None:
            u = pooling.component.astype(np.float64)
            vec = vec - (vec @ u) * u
        return vec.astype(np.float32)

    def _vocab_word(self, word: str, *, field: str) -> str:
        """The vocabulary key for a user-typed word, normalised like the training text."""
        tokens = self._tokenizer.tokenize(word)
        if len(tokens) == 1 and tokens[0] in self._state().key_to_index:
            return tokens[0]
        raise OutOfVocabulary(word, field=field)


_BACKOFF_CACHE = 100_000
"""Unknown Han tokens whose pieces an embedder remembers (a few MB at most)."""


def _check_k(k: int) -> None:
    if k < 1:
        raise InvalidParameter(f"k must be at least 1, got {k}", field="k")
