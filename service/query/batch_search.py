"""Several searches answered together: one index call per group of alike queries, one hydration read.

Why: a server under concurrent load pays, per request, a hand-over to a worker
thread and back, and the index's fixed cost per call. Searches that arrive
together are answered here in one go on one thread (``service.query.batching``
queues them): the unfiltered queries of one space with the same ``k`` and
search parameters become one FAISS call over a matrix of query vectors (HNSW
and IVF answer each row exactly as they would alone, and FAISS spreads rows
over its threads), and every hit of the batch is hydrated by one SQL read.

Each search keeps its own outcome: a failure (unknown space, empty query
text, a vector of the wrong length) is that search's error, not the batch's.
Results equal those of :meth:`~service.query.search.Searcher.search` one by one.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexers.base import SearchParams

from ..observability import metrics
from ..schemas import Hit
from .query_path import Query, QueryPath, check_k, check_offset, make_hit, text_length


@dataclass
class SearchJob:
    """One search of a batch, and, once answered, its space and hits or its error."""

    collection: str
    query: Query
    k: int
    where: dict[str, Any]
    space: str | None
    snippet: int
    params: SearchParams | None = None
    offset: int = 0
    """Best hits skipped (paging): the index is asked for ``k + offset`` and the first ``offset`` dropped."""
    started: float = field(default_factory=time.perf_counter)
    memory_only: bool = False
    """Answer only from memory (see ``QueryPath.resolve``); the error is then ``NeedsWorker`` if that cannot be."""
    space_name: str = ""
    pairs: list[tuple[int, float]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    passages: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    """A chunked space's best passages (number, score) per document hit."""
    error: BaseException | None = None
    _runtime: Any = None
    _allowed: np.ndarray | None = None
    _vector: np.ndarray | None = None
    _version: int | None = None  # the data version its space state was read under (SQLite)

    @property
    def depth(self) -> int:
        """How many hits the index is asked for: the page and every hit before it."""
        return self.k + self.offset

    def reset(self) -> None:
        """Forget an attempt (a ``memory_only`` one that needed a worker), to run the search again."""
        self.memory_only, self.error, self.space_name, self.pairs, self.hits = False, None, "", [], []
        self.passages = {}
        self._runtime = self._allowed = self._vector = self._version = None


def search_batch(path: QueryPath, jobs: Sequence[SearchJob]) -> None:
    """Answer every job in place (``space_name`` + ``hits``, or ``error``)."""
    live = [j for j in jobs if _prepare(path, j)]
    groups: dict[tuple[Any, ...], list[SearchJob]] = defaultdict(list)
    for job in live:
        if job._vector is not None and job._allowed is None and job._runtime.passages is None:
            params = job.params.model_dump_json() if job.params is not None else None
            groups[(id(job._runtime), job.depth, params)].append(job)
        else:
            _alone(path, job)
    for members in groups.values():
        _together(members)
    _hydrate(path, [j for j in live if j.error is None])
    for job in live:
        if job.error is None:
            runtime = job._runtime
            if runtime.keyword:
                kind, backend = "bm25", "keyword"
            else:
                kind, backend = runtime.index.kind, runtime.index.backend
            metrics.observe_search(job.collection, job.space_name, kind, backend, time.perf_counter() - job.started)


def _prepare(path: QueryPath, job: SearchJob) -> bool:
    """Resolve the space, the filter and (dense spaces) the query vector; False once the job has failed."""
    try:
        check_k(job.k, path.max_k)
        check_offset(job.k, job.offset, path.max_k)
        state, runtime, allowed = path.resolve_state(job.collection, job.space, job.where, memory_only=job.memory_only)
        job.space_name, job._runtime, job._allowed, job._version = state.ref.name, runtime, allowed, state.version
        if not runtime.keyword and not (allowed is not None and len(allowed) == 0):
            job._vector = path.query_vector(runtime, job.query)
        return True
    except Exception as exc:  # this job's error, answered to its own request
        job.error = exc
        return False


def _alone(path: QueryPath, job: SearchJob) -> None:
    """A keyword or filtered search, as ``Searcher.search`` runs it (the vector embedded once, in ``_prepare``)."""
    try:
        if job._vector is None:
            pairs = path.ranked(job._runtime, job.query, job.depth, job._allowed, job.params)
        elif job._runtime.passages is not None:  # a chunked space: documents with their best passages
            found = job._runtime.passages.search_documents(job._vector, job.depth, job._allowed, job.params)
            pairs = [(h.doc_id, h.score) for h in found]
            job.passages = {h.doc_id: h.passages for h in found}
        else:
            pairs = path.nearest(job._runtime, job._vector, job.depth, job._allowed, job.params)
        job.pairs = pairs[job.offset :]
    except Exception as exc:
        job.error = exc


def _together(members: list[SearchJob]) -> None:
    """One index call for queries of one space, depth (``k + offset``) and parameters (no filter)."""
    first = members[0]
    try:
        queries = np.stack([j._vector for j in members]).astype(np.float32, copy=False)
        scores, ids = first._runtime.index.search(queries, first.depth, params=first.params)
    except Exception:  # the same failure would hit each alone; let each find its own error
        for job in members:
            job.pairs = []
            try:
                job.pairs = QueryPath.nearest(job._runtime, job._vector, job.depth, None, job.params)[job.offset :]
            except Exception as exc:
                job.error = exc
        return
    for row, job in enumerate(members):
        job.pairs = [(int(i), float(s)) for i, s in zip(ids[row], scores[row]) if i >= 0][job.offset :]


def _hydrate(path: QueryPath, jobs: list[SearchJob]) -> None:
    """Every job's hits from one read: the longest text any job needs (the whole text for a job that
    highlights or shows all of it), cut per job."""
    wanted = list(dict.fromkeys(i for job in jobs for i, _ in job.pairs))
    if not wanted:
        return
    lengths = [0 if j.passages else text_length(j.query.text, j.snippet) for j in jobs]
    length = 0 if 0 in lengths else max(lengths)
    try:
        versions = {j._version for j in jobs}
        rows = path.hot.hit_rows(wanted, length, versions.pop() if len(versions) == 1 else None)
    except Exception as exc:
        for job in jobs:
            job.error = exc
        return
    for job in jobs:
        chunking = job._runtime.passages.chunking if job.passages else None
        job.hits = [
            make_hit(i, s, rows[i], job.query.text, job.snippet, job.passages.get(i), chunking)
            for i, s in job.pairs
            if i in rows
        ]
