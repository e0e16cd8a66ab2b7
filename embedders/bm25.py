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
from dataclasses import dataclass
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
        self._pairwise: _Pairwise | None = None

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

    # -- document-document similarity (symmetric, self-normalised) -----------------

    def similar_to(
        self, doc_id: int, k: int, allowed_ids: np.ndarray | None = None, exclude: int | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` stored documents most like stored document ``doc_id`` by :meth:`similarities`, best first.

        Exact over the whole index (no candidate pool): the symmetric score of every document costs
        about one BM25 search with the document's tokens (two gathers over the postings of its
        terms). Documents scoring 0 (no shared term under the idf-only variants) are not hits.

        Raises:
            EmptyText: ``doc_id`` is not in the index (its text has no token).
        """
        state, pos = self._state_of(doc_id)
        sims = state.row(pos)
        ids = state.ids
        keep = sims > 0
        if allowed_ids is not None:
            keep &= np.isin(ids, np.asarray(allowed_ids, dtype=np.int64))
        if exclude is not None:
            keep &= ids != exclude
        candidates = np.flatnonzero(keep)
        order = candidates[np.lexsort((ids[candidates], -sims[candidates]))][:k]
        return [(int(ids[i]), float(sims[i])) for i in order]

    def similarities(self, doc_id: int, others: Sequence[int] | np.ndarray) -> list[float | None]:
        """The symmetric similarity of stored document ``doc_id`` to each of ``others``.

        sim(a, b) = ( bm25(a->b) / bm25(a->a) + bm25(b->a) / bm25(b->b) ) / 2, where bm25(q->d) is
        the score of document d for document q's tokens as the query (what :meth:`search_text`
        gives for q's text). Each direction is divided by its query's self-score, so long
        documents no longer dominate (a query's raw scores grow with its length), and the mean of
        the two directions makes it symmetric; sim(a, a) = 1, sim = 0 for documents sharing no
        term (under the variants without a non-occurrence term). A ratio can exceed 1 when the
        other document is a shorter one holding the query's terms (BM25's length normalisation
        favours it over the query document itself), so the score is "about 1 for a near copy",
        not a bound. A direction whose self-score is not positive (a document of terms with
        zero idf) counts 0. Why this form: it is BM25 itself, in both directions - dividing a
        query's scores by the query document's score against itself is a common way to make
        query-by-document BM25 scores comparable across queries of different lengths - so
        ``/similar`` keeps ranking by what a search of the document's text would weigh, minus
        the length bias. The other usual symmetric form, the cosine of the two BM25 weight
        vectors (Whissell & Clarke 2011, for clustering), drops the query-side term counts; on
        Lee it scores a little higher (Pearson 0.582 vs 0.569 here, 0.551 for the asymmetric
        raw score; bench/eval_lee_bm25.py).

        None for an id of ``others`` that is not in the index.

        Raises:
            EmptyText: ``doc_id`` is not in the index (its text has no token).
        """
        state, pos = self._state_of(doc_id)
        sims = state.row(pos)
        where = state.positions(np.asarray(others, dtype=np.int64))
        return [None if p < 0 else float(sims[p]) for p in where]

    def _state_of(self, doc_id: int) -> tuple[_Pairwise, int]:
        with self._lock:
            self._refresh()
            if self._retriever is None or int(doc_id) not in self._tokens:
                raise EmptyText(f"document {int(doc_id)} has no word in this keyword space", field="external_id")
            if self._pairwise is None:
                self._pairwise = _Pairwise.build(self._retriever, self._ids, self._tokens)
            state = self._pairwise
        return state, int(state.positions(np.asarray([doc_id], dtype=np.int64))[0])

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
        self._pairwise = None
        self._dirty = False


@dataclass(frozen=True)
class _Pairwise:
    """The index's BM25 weights and term counts as sparse (document x term) matrices, for document-document scores.

    ``weights`` is bm25s's own score matrix (the one :meth:`KeywordIndex.search_text` sums), read as
    CSC without a copy; ``counts`` holds each document's term counts (its weight as a query, since
    bm25s counts a repeated query term once per occurrence); ``nonocc`` the per-term score every
    document gets under bm25l/bm25+ (else None); ``self_scores`` bm25(d->d) for every document.
    Built once per re-index, on the first similarity call after it.
    """

    ids: np.ndarray
    order: np.ndarray
    weights: Any  # CSC: a term's column is its postings
    counts: Any  # CSC
    weight_rows: Any  # the same two as CSR: a document's row is its terms
    count_rows: Any
    nonocc: np.ndarray | None
    nonocc_as_query: np.ndarray | None  # per document: the non-occurrence part of bm25(d -> anything)
    self_scores: np.ndarray

    @classmethod
    def build(cls, retriever: Any, ids: np.ndarray, tokens: Mapping[int, list[str]]) -> _Pairwise:
        from scipy import sparse

        raw = retriever.scores
        n_docs, n_terms = int(raw["num_docs"]), len(raw["indptr"]) - 1
        weights = sparse.csc_matrix(
            (np.asarray(raw["data"], dtype=np.float64), raw["indices"], raw["indptr"]), shape=(n_docs, n_terms)
        )
        vocab = retriever.vocab_dict
        rows: list[int] = []
        cols: list[int] = []
        for row, doc_id in enumerate(ids):
            term_ids = [vocab[t] for t in tokens[int(doc_id)] if t in vocab and vocab[t] < n_terms]
            rows.extend([row] * len(term_ids))
            cols.extend(term_ids)
        counts = sparse.csc_matrix(
            (np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n_docs, n_terms)
        )  # duplicates are summed: term counts
        nonocc = getattr(retriever, "nonoccurrence_array", None)
        nonocc = None if nonocc is None else np.asarray(nonocc, dtype=np.float64)[:n_terms]
        nonocc_as_query = None if nonocc is None else np.asarray(counts @ nonocc, dtype=np.float64)
        self_scores = np.asarray(counts.multiply(weights).sum(axis=1), dtype=np.float64).ravel()
        if nonocc_as_query is not None:
            self_scores += nonocc_as_query
        return cls(
            ids, np.argsort(ids, kind="stable"), weights, counts, weights.tocsr(), counts.tocsr(),
            nonocc, nonocc_as_query, self_scores,
        )

    def positions(self, doc_ids: np.ndarray) -> np.ndarray:
        """Row of each id, -1 for one not in the index."""
        if len(self.ids) == 0:
            return np.full(len(doc_ids), -1, dtype=np.int64)
        sorted_ids = self.ids[self.order]
        at = np.minimum(np.searchsorted(sorted_ids, doc_ids), len(sorted_ids) - 1)
        return np.where(sorted_ids[at] == doc_ids, self.order[at], -1).astype(np.int64)

    def row(self, pos: int) -> np.ndarray:
        """sim(document at ``pos``, every document) - see :meth:`KeywordIndex.similarities`."""
        query = self.count_rows[pos]  # 1 x terms: the document's term counts, its weight as a query
        terms = query.indices
        q_counts = np.asarray(query.data, dtype=np.float64)
        q_weights = np.asarray(self.weight_rows[pos][:, terms].todense(), dtype=np.float64).ravel()
        forward = self.weights[:, terms] @ q_counts  # bm25(a->b) for every b: a's search
        backward = self.counts[:, terms] @ q_weights  # bm25(b->a) for every b: only a's terms score
        if self.nonocc is not None and self.nonocc_as_query is not None:
            forward = forward + float(q_counts @ self.nonocc[terms])
            backward = backward + self.nonocc_as_query
        own = self.self_scores[pos]
        with np.errstate(divide="ignore", invalid="ignore"):
            back = np.where(self.self_scores > 0, backward / self.self_scores, 0.0)
        fwd = forward / own if own > 0 else np.zeros_like(forward)
        return np.asarray(0.5 * (fwd + back), dtype=np.float64).ravel()


def is_keyword(embedder: object) -> bool:
    """Whether a family is searched by text through a :class:`KeywordIndex` (bm25)."""
    return Capability.KEYWORD in getattr(embedder, "capabilities", ())
