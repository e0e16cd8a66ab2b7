"""The ``bert`` family: pretrained transformer encoders (sentence-transformers) as an embedder.

Not trainable: a build only embeds. Documents go through ``encode_document``
and queries through ``encode_query``, so models with query/document prompts
get the right one. Texts longer than one window are embedded window by
window (:mod:`embedders.bert.windows`) and the window vectors averaged, so
text after the model's maximum length still counts.

Saved layout: ``manifest.json`` (spec, dim, the model directory's
fingerprint) and, for the ONNX backends, ``model/`` — the exported (and for
onnx-int8 quantised) model, so the export happens once per space. The torch
backend saves no weights: the spec names the model, and loading checks the
model files are still the ones the space was built with.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from embedders.base import Corpus, EmbedderSpec, Metric, NullProgress, Progress
from embedders.bert import backends, inference
from embedders.bert.source import ModelSource, resolve
from embedders.bert.spec import BertSpec
from embedders.bert.windows import split_texts_counted
from embedders.capabilities import Capability, trains
from embedders.errors import EmptyText, ModelFileError
from embedders.storage import read_manifest, write_manifest

EXPORT_DIR = "model"
PACKAGES = ("sentence-transformers", "transformers", "torch", "onnxruntime", "optimum-onnx")


class BertEmbedder:
    """Transformer sentence embeddings with whole-document window pooling."""

    type: ClassVar[str] = "bert"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.EMBED_TEXT, Capability.PREFLIGHT, Capability.ANALYZE_TEXT}
    )
    trainable: ClassVar[bool] = trains(capabilities)
    spec_class: ClassVar[type[EmbedderSpec]] = BertSpec

    def __init__(self, spec: BertSpec | None = None) -> None:
        self.spec: BertSpec = spec or BertSpec()
        self._source: ModelSource | None = None
        self._model: Any = None
        self._exported: Path | None = None  # directory of the ONNX export (temporary until saved)
        self._export_tmp: tempfile.TemporaryDirectory[str] | None = None
        self._dim: int | None = None
        self._rooms: dict[bool, int] = {}  # query? -> tokens of text per window
        self._load_lock = threading.Lock()
        # HuggingFace fast tokenizers are not thread-safe ("Already borrowed" when two threads use one):
        # a space's calls take turns from windowing to the end of encode; other spaces are not held up.
        self._call_lock = threading.Lock()

    def analyze(self, text: str) -> list[str]:
        """The model's own word pieces of the whole text (a long document is embedded in windows of these)."""
        model = self.model()
        with self._call_lock:
            return list(model.tokenizer.tokenize(text))

    # --- model -------------------------------------------------------------------

    def source(self) -> ModelSource:
        """The resolved model directory (raises ModelUnavailable when it cannot be found offline)."""
        if self._source is None:
            self._source = resolve(self.spec)
        return self._source

    def model(self) -> Any:
        """The loaded SentenceTransformer; the first call loads it (and for ONNX, exports it)."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load_model()
        return self._model

    def _load_model(self) -> Any:
        if self.spec.backend == "torch":
            return backends.load_torch(self.source(), self.spec)
        if self._exported is None:
            self._export_tmp = tempfile.TemporaryDirectory(prefix="vecdex-onnx-")
            target = Path(self._export_tmp.name) / EXPORT_DIR
            backends.export_onnx(self.source(), self.spec, target)
            self._exported = target
        return backends.load_onnx(self._exported, self.spec)

    @property
    def dim(self) -> int:
        if self._dim is None:
            model = self.model()
            # renamed in sentence-transformers 5.x; accept both names
            get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self._dim = int(get())
        return self._dim

    @property
    def metric(self) -> Metric:
        return "cosine"

    @property
    def max_seq_length(self) -> int:
        return int(self.model().max_seq_length)

    # --- Embedder contract -----------------------------------------------------------

    def preflight(self, corpus: Corpus) -> None:
        """Check, without loading it, that the model exists offline (a 422 at space creation)."""
        self.source()

    def fit(self, corpus: Corpus, progress: Progress | None = None) -> BertEmbedder:
        """Nothing to train; loads the model (exporting it for ONNX) so a build fails early if it cannot."""
        progress = progress or NullProgress()
        progress.start("load model", 1)
        self.model()
        progress.advance(1)
        return self

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (n, dim), unit length; a blank text gives a zero row."""
        return self._embed(texts, query=False)

    def embed_query(self, text: str) -> np.ndarray:
        if not text or not text.strip():
            raise EmptyText("query text is empty", field="query")
        return self._embed([text], query=True)[0]

    def windows(self, texts: Sequence[str], *, query: bool = False) -> list[list[str]]:
        """The pieces each text is embedded as: itself, or its overlapping token windows."""
        if self.spec.window_pooling == "first":
            return [[t] for t in texts]
        return self._pieces(texts, query)[0]

    def _room(self, model: Any, query: bool) -> int:
        """Tokens of text one window holds: the model's maximum less special and prompt tokens."""
        room = self._rooms.get(query)
        if room is None:
            tokenizer = model.tokenizer
            prompt = self._prompt(model, query)
            room = model.max_seq_length - tokenizer.num_special_tokens_to_add(pair=False)
            if prompt:
                room -= len(tokenizer(prompt, add_special_tokens=False, verbose=False)["input_ids"])
            room = self._rooms[query] = max(1, room)
        return room

    def _pieces(self, texts: Sequence[str], query: bool) -> tuple[list[list[str]], list[int]]:
        """Each text's windows, and every window's length in tokens (flat, in order), from one tokenisation."""
        model = self.model()
        room = self._room(model, query)
        if self.spec.window_pooling == "first":
            ids = model.tokenizer(
                list(texts), add_special_tokens=False, truncation=True, max_length=room, verbose=False
            )["input_ids"]
            return [[t] for t in texts], [len(i) for i in ids]
        pieces, lengths = split_texts_counted(
            texts, model.tokenizer, room, self.spec.window_overlap, self.spec.max_windows
        )
        return pieces, [n for window_lengths in lengths for n in window_lengths]

    def _embed(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keep = [i for i, t in enumerate(texts) if t and t.strip()]
        if not keep:
            return out
        model = self.model()
        kept = [texts[i] for i in keep]
        with self._call_lock:
            vectors = self._encode_one(model, kept[0], query) if len(kept) == 1 else None
            if vectors is None:
                pieces, lengths = self._pieces(kept, query)
                vectors = self._encode_windows(model, [w for p in pieces for w in p], lengths, query)
            else:
                pieces = [kept]
        if len(vectors) != len(keep):  # some text had several windows: average them
            counts = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
            vectors = np.add.reduceat(vectors, starts, axis=0) / counts[:, None].astype(np.float32)
        if self.spec.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1.0)
        out[keep] = vectors
        return out

    def _encode_windows(self, model: Any, flat: list[str], lengths: list[int], query: bool) -> np.ndarray:
        """Vectors of ``flat`` (windows), in forward passes of about ``batch_tokens`` padded tokens.

        Grouped by the token counts windowing already has (:func:`inference.token_batches`):
        sentence-transformers would pad ``batch_size`` windows to the longest of them, and
        passes that large ran slower per token (bench/RESULTS.md).
        """
        encode = model.encode_query if query else model.encode_document
        extra = model.max_seq_length - self._room(model, query)  # special and prompt tokens per window
        groups = inference.token_batches([n + extra for n in lengths], self.spec.batch_size, self.spec.batch_tokens)
        vectors = np.empty((len(flat), self.dim), dtype=np.float32)
        with backends.running_with(self.spec, backends.inference_threads(self.spec, len(flat))):
            for group in groups:
                vectors[group] = np.asarray(
                    encode(
                        [flat[i] for i in group], batch_size=len(group), convert_to_numpy=True, show_progress_bar=False
                    ),
                    dtype=np.float32,
                )
        return vectors

    def _encode_one(self, model: Any, text: str, query: bool) -> np.ndarray | None:
        """One text (a query) straight through the model's modules: (1, dim), or None to take the
        windowing path (a prompt, or a text that may not fit in one window).

        Why: for one text, ``encode`` and the windowing's own tokenisation cost 1-3 ms of a
        ~25 ms query. The text is tokenised once, as sentence-transformers does (truncating at
        the model's maximum); fewer tokens than that maximum means nothing was cut, i.e. the
        text fits one window, and the vector is what ``encode`` would return.
        """
        import torch

        if self._prompt(model, query) is not None:
            return None
        features = model.preprocess([text])
        ids = features.get("input_ids")
        if ids is None or (self.spec.window_pooling == "mean" and ids.shape[-1] >= model.max_seq_length):
            return None
        with backends.running_with(self.spec, backends.inference_threads(self.spec, 1)), torch.inference_mode():
            vector = model(features)["sentence_embedding"]
        return np.asarray(vector.float().cpu().numpy(), dtype=np.float32).reshape(1, -1)

    @staticmethod
    def _prompt(model: Any, query: bool) -> str | None:
        """The prompt sentence-transformers prepends (encode_query / encode_document pick the same)."""
        names = ("query",) if query else ("document", "passage", "corpus")
        for name in names:
            if name in model.prompts:
                return model.prompts[name] or None
        return None

    # --- persistence --------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        model = self.model()
        files: dict[str, str] = {}
        if self.spec.backend != "torch":
            assert self._exported is not None
            target = directory / EXPORT_DIR
            if self._exported.resolve() != target.resolve():
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(self._exported, target)
            files["model"] = f"{EXPORT_DIR}/{backends.onnx_file(self.spec)}"
        write_manifest(
            directory,
            spec=self.spec,
            dim=self.dim,
            metric=self.metric,
            files=files,
            packages=PACKAGES,
            extra={
                "model_path": str(self.source().path),
                "sentence_transformers": self.source().sentence_transformers,
                "fingerprint": self.source().fingerprint(),
                "max_seq_length": int(model.max_seq_length),
            },
        )

    @classmethod
    def load(cls, directory: Path) -> BertEmbedder:
        directory = Path(directory)
        manifest = read_manifest(directory, cls.type)
        embedder = cls(BertSpec.model_validate(manifest["spec"]))
        embedder._dim = int(manifest["dim"])
        if embedder.spec.backend == "torch":
            recorded = (manifest.get("extra") or {}).get("fingerprint")
            current = embedder.source().fingerprint()
            if recorded is not None and recorded != current:
                raise ModelFileError(
                    f"the files of model {embedder.spec.model!r} at {embedder.source().path} changed since this "
                    "space was built; its vectors would not match new queries: rebuild the space",
                    field="embedder.model",
                )
        else:
            embedder._exported = directory / EXPORT_DIR
        embedder.model()
        return embedder

    def close(self) -> None:
        """Drop the temporary ONNX export (after :meth:`save` copied it, or when discarded)."""
        if self._export_tmp is not None:
            self._export_tmp.cleanup()
            self._export_tmp = None
