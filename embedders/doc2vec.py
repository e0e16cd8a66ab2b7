"""Family "doc2vec": gensim Doc2Vec paragraph vectors (Le & Mikolov 2014).

Training learns one vector per training document; the pipeline reuses those
for the documents it has seen (:meth:`Doc2VecEmbedder.trained_vectors`) and
infers vectors for everything else.

Inference is made deterministic here, because gensim's ``infer_vector`` is not:
it starts from a vector seeded with Python's ``hash()`` of the text (salted per
process unless PYTHONHASHSEED is set) and draws negative samples and window
sizes from ``model.random``, which every call advances. So we run the same
per-document update loop with a stable (CRC32) start vector and a freshly
seeded ``model.random`` under a lock: the same text gives bit-identical vectors
on every call, in every process, and after save/load.

Saved layout: ``manifest.json`` at the top, the gensim model (gensim's own
pickle + .npy format) inside ``model/``, and ``trained_ids.npy`` mapping the
model's dense tags back to the SQL ids.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, StrictBool, model_validator

from embedders.base import Corpus, EmbedderSpec, Metric, NullProgress, Progress
from embedders.capabilities import Capability, trains
from embedders.errors import EmptyText, ModelFileError, NotFitted
from embedders.storage import load_array, read_manifest, spec_from_manifest, write_manifest
from embedders.phrases import PhrasedTokenizer, PhrasesSpec, learn_phrases, read_phrases, write_phrases
from embedders.tokenizer import TextTokenizer, Tokenizer, TokenizerSpec
from embedders.training import (
    MATERIALIZE_LIMIT,
    TokenizedCorpus,
    check_corpus_length,
    check_vocabulary,
    default_workers,
    epoch_callback,
    preflight_corpus,
    scan_corpus,
)

MODEL_DIR = "model"
MODEL_FILE = "doc2vec.model"
IDS_FILE = "trained_ids.npy"


class Doc2VecSpec(EmbedderSpec):
    """gensim Doc2Vec parameters.

    Defaults are tuned for small corpora like the 350-document Lee demo on the Lee
    benchmark (Pearson r, inferred / trained document vectors; bench/eval_lee.py and
    bench/results/lee_eval.json, 3 seeds):

    * pv-dbow without word training: 0.534 / 0.555, vs pv-dm 0.448 / 0.412 and
      pv-dbow with word training 0.436 / 0.470 (and 4x slower);

    and from the exploration behind it (one change at a time, 3 seeds):

    * stop-word removal: 0.504 vs 0.451 inferred (40 epochs);
    * epochs 60: trained vectors are very sensitive to it (20: 0.03, 40: 0.44,
      60: 0.56, 100: 0.53, 200: 0.47);
    * infer_epochs 40: as good as 100 (0.527 vs 0.501 at 100 training epochs), faster;
    * dim 100 over 50 (0.48); negative 5 over 10;
    * sample 0 (no down-sampling), although 1e-3 is a little better on Lee (0.545 / 0.565
      vs 0.534 / 0.555): gensim's threshold is a fraction of the corpus, so
      on a tiny corpus it drops nearly every word from training *and* inference. On
      tests/service's 20-document corpus, 10 seeds, a document's inferred vector finds
      its own trained vector in the top 3 for 200/200 documents with 0, 56/200 with 1e-3.
    """

    type: Literal["doc2vec"] = "doc2vec"
    mode: Literal["pv-dm", "pv-dbow"] = Field(
        "pv-dbow", description="pv-dbow: document predicts its words; pv-dm: document + context predict a word."
    )
    dbow_words: StrictBool = Field(
        False, description="pv-dbow only: also train word vectors skip-gram style (slower; no gain on small corpora)."
    )
    dim: int = Field(100, ge=2, le=4096, description="Vector size.")
    window: int = Field(5, ge=1, le=100, description="Context window (pv-dm, and pv-dbow word training).")
    min_count: int = Field(2, ge=1, description="Ignore words with fewer occurrences in the training corpus.")
    epochs: int = Field(60, ge=1, le=10_000, description="Training passes over the corpus.")
    infer_epochs: int = Field(40, ge=1, le=10_000, description="Update passes when inferring a new document.")
    negative: int = Field(5, ge=0, le=64, description="Noise words per positive; 0 disables negative sampling.")
    hs: StrictBool = Field(False, description="Use hierarchical softmax.")
    sample: float = Field(0.0, ge=0.0, lt=1.0, description="Down-sampling threshold for frequent words (0: off).")
    alpha: float = Field(0.025, gt=0.0, le=1.0, description="Initial learning rate (training and inference).")
    min_alpha: float = Field(1e-4, ge=0.0, le=1.0, description="Final learning rate.")
    seed: int = Field(1, ge=0, le=2**31 - 1, description="Random seed (training repeats exactly only with workers=1).")
    workers: int = Field(default_factory=default_workers, ge=1, le=64, description="Training threads.")
    tokenizer: TokenizerSpec = Field(
        default_factory=lambda: TokenizerSpec(stopwords="english"),
        description="Stop words removed by default (better on the Lee benchmark, see above).",
    )
    phrases: PhrasesSpec | None = Field(
        None, description="Learn frequent word pairs from the corpus (gensim Phrases) and use them as one token; null: off."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Doc2VecSpec:
        if not self.hs and self.negative == 0:
            raise ValueError("no training objective: set negative > 0 or hs = true")
        if self.min_alpha > self.alpha:
            raise ValueError(f"min_alpha ({self.min_alpha}) must not exceed alpha ({self.alpha})")
        return self


class _TaggedStream:
    """Re-iterable TaggedDocuments for corpora too large to hold tokenized in memory."""

    def __init__(self, corpus: Corpus, tokenizer: TextTokenizer, tag_of: dict[int, int]) -> None:
        self._corpus, self._tokenizer, self._tag_of = corpus, tokenizer, tag_of

    def __iter__(self) -> Iterator[Any]:
        from gensim.models.doc2vec import TaggedDocument

        for doc in self._corpus:
            yield TaggedDocument(self._tokenizer.tokenize(doc.text), [self._tag_of[doc.id]])

    def __len__(self) -> int:
        return len(self._corpus)


class Doc2VecEmbedder:
    """Doc2vec document embedder with deterministic inference."""

    type: ClassVar[str] = "doc2vec"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.EMBED_TEXT, Capability.TRAIN_CORPUS, Capability.TRAINED_VECTORS, Capability.PREFLIGHT, Capability.ANALYZE_TEXT}
    )
    trainable: ClassVar[bool] = trains(capabilities)
    spec_class: ClassVar[type[EmbedderSpec]] = Doc2VecSpec

    def __init__(self, spec: Doc2VecSpec | None = None) -> None:
        self.spec: Doc2VecSpec = spec or Doc2VecSpec()
        self._tokenizer: Tokenizer | PhrasedTokenizer = Tokenizer(self.spec.tokenizer)
        self._model: Any = None
        self._trained_ids: np.ndarray | None = None  # int64, tag position -> SQL id
        self._tag_of: dict[int, int] = {}
        # model.random is shared mutable state; inference reseeds it, so one at a time.
        self._infer_lock = threading.Lock()

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

    def preflight(self, corpus: Corpus) -> None:
        """Raise what :meth:`fit` would raise for this corpus (CorpusTooSmall, EmptyVocabulary), cheaply."""
        preflight_corpus(corpus, self._tokenizer, self.spec.min_count)

    def fit(self, corpus: Corpus, progress: Progress | None = None) -> Doc2VecEmbedder:
        """Train document and word vectors. Progress: "vocabulary" (documents), "train" (epochs)."""
        from gensim.models.doc2vec import Doc2Vec, TaggedDocument

        progress = progress or NullProgress()
        spec = self.spec
        check_corpus_length(corpus)
        if spec.phrases is not None:  # learned on the plain tokens, then trained on with pairs joined
            base = Tokenizer(spec.tokenizer)
            self._tokenizer = PhrasedTokenizer(base, learn_phrases(TokenizedCorpus(corpus, base), spec.phrases))

        # Dense tags 0..n-1 (gensim sizes its array by the largest int tag, and SQL
        # ids can be huge); documents sharing an id share a tag.
        tag_of: dict[int, int] = {}
        progress.start("vocabulary", len(corpus))
        if len(corpus) <= MATERIALIZE_LIMIT:
            tagged: Any = []

            def tokens() -> Iterator[list[str]]:
                for doc in corpus:
                    words = self._tokenizer.tokenize(doc.text)
                    tagged.append(TaggedDocument(words, [tag_of.setdefault(doc.id, len(tag_of))]))
                    yield words

            stats = scan_corpus(tokens(), progress)
        else:
            for doc in corpus:
                tag_of.setdefault(doc.id, len(tag_of))
            tagged = _TaggedStream(corpus, self._tokenizer, tag_of)
            stats = scan_corpus((d.words for d in tagged), progress)
        check_vocabulary(stats, spec.min_count)

        model = Doc2Vec(
            vector_size=spec.dim,
            dm=1 if spec.mode == "pv-dm" else 0,
            dm_mean=1,
            dbow_words=int(spec.dbow_words),
            window=spec.window,
            min_count=spec.min_count,
            negative=spec.negative,
            hs=int(spec.hs),
            sample=spec.sample,
            alpha=spec.alpha,
            min_alpha=spec.min_alpha,
            seed=spec.seed,
            workers=spec.workers,
            epochs=spec.epochs,
        )
        model.build_vocab(tagged)
        progress.start("train", spec.epochs)
        model.train(
            tagged,
            total_examples=model.corpus_count,
            total_words=model.corpus_total_words,
            epochs=spec.epochs,
            callbacks=[epoch_callback(progress)],
        )
        ids = np.empty(len(tag_of), dtype=np.int64)
        for doc_id, tag in tag_of.items():
            ids[tag] = doc_id
        # A document with no word in the vocabulary (an item with no text, a line of
        # punctuation) was never updated: its vector is the random start, so it must not
        # count as trained. Its id is stored as -1; the pipeline then infers it (zero: skipped).
        trained = np.zeros(len(tag_of), dtype=bool)
        for doc in tagged:
            if any(word in model.wv.key_to_index for word in doc.words):
                trained[doc.tags[0]] = True
        ids[~trained] = -1
        tag_of = {doc_id: tag for doc_id, tag in tag_of.items() if trained[tag]}
        self._model, self._trained_ids, self._tag_of = model, ids, tag_of
        return self

    def trained_vectors(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors learnt in training for the ids it saw; mask False and a zero row otherwise."""
        model = self._state()
        mask = np.zeros(len(ids), dtype=bool)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for row, doc_id in enumerate(ids):
            tag = self._tag_of.get(int(doc_id))
            if tag is not None:
                mask[row] = True
                out[row] = model.dv.vectors[tag]
        return mask, out

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self._state()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vec = self._infer(self._tokenizer.tokenize(text))
            if vec is not None:
                out[row] = vec
        return out

    def embed_query(self, text: str) -> np.ndarray:
        self._state()
        vec = self._infer(self._tokenizer.tokenize(text))
        if vec is None:
            raise EmptyText("the query has no word that the model knows", field="query")
        return vec

    def save(self, directory: Path) -> None:
        model = self._state()
        directory = Path(directory)
        (directory / MODEL_DIR).mkdir(parents=True, exist_ok=True)
        model_path = f"{MODEL_DIR}/{MODEL_FILE}"
        # sep_limit=0: every array goes to its own .npy, so load can memory-map them.
        model.save(str(directory / model_path), sep_limit=0)
        np.save(directory / IDS_FILE, self._trained_ids)
        files = {"model": model_path, "trained_ids": IDS_FILE}
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
            extra={"vocabulary_size": len(model.wv), "trained_documents": len(self._trained_ids)},
        )

    @classmethod
    def load(cls, directory: Path) -> Doc2VecEmbedder:
        from gensim.models.doc2vec import Doc2Vec

        directory = Path(directory)
        manifest = read_manifest(directory, expected_type=cls.type)
        spec = spec_from_manifest(Doc2VecSpec, manifest, directory)
        try:
            model = Doc2Vec.load(str(directory / manifest["files"]["model"]), mmap="r")
        except Exception as exc:  # gensim raises anything from pickle/numpy on a bad file
            raise ModelFileError(f"{directory}: cannot load the gensim model: {exc}", field="directory") from exc
        ids = np.asarray(load_array(directory, manifest["files"]["trained_ids"], mmap=False), dtype=np.int64)
        if model.vector_size != spec.dim or len(model.dv) != len(ids):
            raise ModelFileError(f"{directory}: model does not match its manifest", field="directory")
        self = cls(spec)
        if "phrases" in manifest["files"]:
            try:
                grams = read_phrases(directory, manifest["files"]["phrases"])
            except (KeyError, TypeError, ValueError, OSError) as exc:
                raise ModelFileError(f"{directory}: phrases file is garbled: {exc}", field="directory") from exc
            self._tokenizer = PhrasedTokenizer(Tokenizer(spec.tokenizer), grams)
        self._model, self._trained_ids = model, ids
        self._tag_of = {int(doc_id): tag for tag, doc_id in enumerate(ids) if doc_id >= 0}
        return self

    # -- internals --------------------------------------------------------------------

    def _state(self) -> Any:
        if self._model is None:
            raise NotFitted("the doc2vec embedder has not been trained or loaded")
        return self._model

    def _infer(self, tokens: list[str]) -> np.ndarray | None:
        """Deterministic equivalent of ``Doc2Vec.infer_vector``; None when no token is known."""
        from gensim.models.doc2vec_inner import train_document_dbow, train_document_dm
        from gensim.models.keyedvectors import pseudorandom_weak_vector

        model = self._model
        words = [t for t in tokens if t in model.wv.key_to_index]
        if not words:
            return None
        size = model.dv.vector_size
        doctag_vectors = pseudorandom_weak_vector(size, seed_string=" ".join(words), hashfxn=_stable_hash)
        doctag_vectors = doctag_vectors.reshape(1, size)
        doctags_lockf = np.ones(1, dtype=np.float32)
        work = np.zeros(model.layer1_size, dtype=np.float32)
        neu1 = np.zeros(model.layer1_size, dtype=np.float32)
        epochs = self.spec.infer_epochs
        alpha, min_alpha = model.alpha, model.min_alpha
        alpha_delta = (alpha - min_alpha) / max(epochs - 1, 1)
        with self._infer_lock:
            model.random = np.random.RandomState(self.spec.seed)
            for _ in range(epochs):
                if model.sg:
                    train_document_dbow(
                        model, words, [0], alpha, work, learn_words=False, learn_hidden=False,
                        doctag_vectors=doctag_vectors, doctags_lockf=doctags_lockf,
                    )
                else:
                    train_document_dm(
                        model, words, [0], alpha, work, neu1, learn_words=False, learn_hidden=False,
                        doctag_vectors=doctag_vectors, doctags_lockf=doctags_lockf,
                    )
                alpha -= alpha_delta
        return doctag_vectors[0].astype(np.float32)


def _stable_hash(text: str) -> int:
    """A hash that, unlike ``hash()``, is the same in every process."""
    return zlib.crc32(text.encode("utf-8"))
