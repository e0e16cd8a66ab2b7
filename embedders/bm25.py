"""Family "bm25": a keyword space, scored by BM25 (``bm25s``) over the shared tokenizer.

A bm25 space has no vectors: it is registered like any family (so spaces are
created, built, listed, compared and dropped the same way), but its "index" is
a :class:`KeywordIndex` that the service searches with the query *text*
(:meth:`KeywordIndex.search_text`) instead of a query vector. Because the
tokenizer is the shared one (jieba for Han text), a Chinese corpus is searched
by words exactly as the embedders see them.

Nothing is learnt from the corpus beyond its term statistics, which
:class:`KeywordIndex` recomputes, so the saved "model" is only the spec, and the
index snapshot is only a manifest recording the change id it reflects; the
service refills the index from SQL when it loads the space (see
``service.runtime.spaces``) and replays the change log after that id as for any space.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from embedders.base import EmbedderSpec, Metric, Progress
from embedders.capabilities import Capability, trains
from embedders.errors import EmptyText, ModelFileError, NotSupported
from embedders.storage import read_manifest, spec_from_manifest, write_manifest
from embedders.tokenizer import Tokenizer, TokenizerSpec

BM25Method = Literal["robertson", "atire", "bm25l", "bm25+", "lucene"]


class BM25Spec(EmbedderSpec):
    """BM25 parameters (Robertson & Zaragoza's k1 and b) and the scoring variant of ``bm25s``."""

    type: Literal["bm25"] = "bm25"
    k1: float = Field(1.5, ge=0.0, le=10.0, description="Term-frequency saturation.")
    b: float = Field(0.75, ge=0.0, le=1.0, description="Document-length normalisation (0 = none, 1 = full).")
    method: BM25Method = Field("lucene", description="bm25s scoring variant.")
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)


class BM25Embedder:
    """The bm25 family: holds the spec and the tokenizer; searching goes through :class:`KeywordIndex`.

    ``keyword`` tells the service to route searches by text; ``embed_*`` raise
    NotSupported so a vector-only path (similar-by-vector, evaluation by vectors)
    fails with a clear 4xx rather than returning nonsense.
    """

    type: ClassVar[str] = "bm25"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.KEYWORD, Capability.ANALYZE_TEXT})
    trainable: ClassVar[bool] = trains(capabilities)
    keyword: ClassVar[bool] = True
    """Kept for callers of :func:`is_keyword`; new code asks for Capability.KEYWORD."""
    spec_class: ClassVar[type[EmbedderSpec]] = BM25Spec

    def __init__(self, spec: BM25Spec | None = None) -> None:
        self.spec: BM25Spec = spec or BM25Spec()
        self._tokenizer = Tokenizer(self.spec.tokenizer)

    @property
    def dim(self) -> int:
        return 0

    @property
    def metric(self) -> Metric:
        return "ip"

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer

    def analyze(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)

    def fit(self, corpus: Any, progress: Progress | None = None) -> BM25Embedder:
        return self

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        raise NotSupported("a bm25 space has no vectors; search it by text", field="space")

    def embed_query(self, text: str) -> np.ndarray:
        raise NotSupported("a bm25 space has no vectors; search it by text", field="space")

    def new_index(self) -> KeywordIndex:
        return KeywordIndex(self.spec)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_manifest(directory, spec=self.spec, dim=0, metric=self.metric, files={}, packages=("bm25s", "jieba"))

    @classmethod
    def load(cls, directory: Path) -> BM25Embedder:
        manifest = read_manifest(Path(directory), expected_type=cls.type)
        return cls(spec_from_manifest(BM25Spec, manifest, Path(directory)))


KEYWORD_MANIFEST = "keyword_index.json"


class KeywordIndex:
    """Document id -> tokens, with a BM25 index over them rebuilt lazily after changes.

    ``bm25s`` indexes are static (its term statistics are baked into a sparse
    matrix), so ``add``/``remove`` only edit the token table and mark the index
    dirty; the next search re-indexes the whole table (tokens are kept, so
    only changed documents are re-tokenized). Measured roughly: 10,000
    documents of 30 tokens take ~1.3 s to tokenize once and ~1.5 s to
    re-index, on one shared core; a search on a clean index takes well under
    a millisecond. So the first search after a burst of writes pays one
    re-index, searches without writes in between pay nothing: fine for
    collections of up to some tens of thousands of documents with occasional
    writes; a write-heavy large collection would want an incremental engine.
    Thread-safe: one lock around the table and the rebuild.
    """

    kind: ClassVar[str] = "bm25"

    def __init__(self, spec: BM25Spec, extra: Mapping[str, Any] | None = None) -> None:
        self.spec = spec
        self.tokenizer = Tokenizer(spec.tokenizer)
        self._tokens: dict[int, list[str]] = {}
        self._extra: dict[str, Any] = dict(extra or {})
        self._lock = threading.Lock()
        self._retriever: Any = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._dirty = True

    # -- the VectorIndex-like surface the service uses ------------------------------

    @property
    def dim(self) -> int:
        return 0

    @property
    def metric(self) -> Metric:
        return "ip"

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self._extra)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, doc_id: int) -> bool:
        return int(doc_id) in self._tokens

    def add_texts(self, ids: Sequence[int], texts: Sequence[str]) -> list[int]:
        """Insert or replace documents; returns the ids left out because they have no token."""
        empty: list[int] = []
        with self._lock:
            for doc_id, text in zip(ids, texts):
                tokens = self.tokenizer.tokenize(text)
                if tokens:
                    self._tokens[int(doc_id)] = tokens
                else:
                    self._tokens.pop(int(doc_id), None)
                    empty.append(int(doc_id))
            self._dirty = True
        return empty

    def remove(self, ids: np.ndarray | Sequence[int]) -> int:
        with self._lock:
            removed = sum(self._tokens.pop(int(i), None) is not None for i in ids)
            if removed:
                self._dirty = True
        return removed

    def search_text(
        self, query: str, k: int, allowed_ids: np.ndarray | None = None, exclude: int | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` best (id, BM25 score) pairs for a text, best first; documents scoring 0 are not hits.

        Raises:
            EmptyText: the query has no token.
        """
        tokens = self.tokenizer.tokenize(query)
        if not tokens:
            raise EmptyText("the query has no word to search for", field="query")
        with self._lock:
            self._refresh()
            retriever, ids = self._retriever, self._ids
        if retriever is None:
            return []
        scores = np.asarray(retriever.get_scores(tokens), dtype=np.float64)
        keep = scores > 0
        if allowed_ids is not None:
            keep &= np.isin(ids, np.asarray(allowed_ids, dtype=np.int64))
        if exclude is not None:
            keep &= ids != exclude
        candidates = np.flatnonzero(keep)
        # Best score first; equal scores by id, so results are deterministic.
        order = candidates[np.lexsort((ids[candidates], -scores[candidates]))][:k]
        return [(int(ids[i]), float(scores[i])) for i in order]

    def save(self, directory: Path, extra: Mapping[str, Any] | None = None) -> None:
        """Write the manifest (spec, size, ``extra``); the tokens are refilled from SQL on load."""
        if extra is not None:
            self._extra = dict(extra)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / KEYWORD_MANIFEST
        tmp = path.with_name(path.name + ".tmp")
        body = {"kind": self.kind, "spec": self.spec.model_dump(mode="json"), "size": len(self), "extra": self._extra}
        tmp.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        """An empty index with the saved spec and ``extra``; the caller refills it."""
        path = Path(directory) / KEYWORD_MANIFEST
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            return cls(BM25Spec.model_validate(body["spec"]), extra=body.get("extra") or {})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"no readable keyword index at {directory}: {exc}", field="index") from exc

    # -- internals ---------------------------------------------------------------------

    def _refresh(self) -> None:
        """Re-index the token table if it changed (caller holds the lock)."""
        if not self._dirty:
            return
        import bm25s

        ids = np.fromiter(self._tokens, dtype=np.int64, count=len(self._tokens))
        if len(ids) == 0:
            self._retriever = None
        else:
            retriever = bm25s.BM25(k1=self.spec.k1, b=self.spec.b, method=self.spec.method)
            retriever.index([self._tokens[int(i)] for i in ids], show_progress=False)
            self._retriever = retriever
        self._ids = ids
        self._dirty = False


def is_keyword(embedder: object) -> bool:
    """Whether a family is searched by text through a :class:`KeywordIndex` (bm25)."""
    return Capability.KEYWORD in getattr(embedder, "capabilities", ())
