"""The search queue of a server: requests wait on the event loop, worker threads answer them in batches.

Why not one thread-pool hop per request: under concurrent load each hop hands
a request to a thread and its answer back, and with the GIL those hand-overs
(and the index's fixed cost per call) were most of what a cheap search cost.
Here a request puts its job on a queue and awaits a future; a worker takes
its share of the jobs waiting (what waits divided by the workers, up to
``max_batch``), answers them together
(:func:`~service.query.batch_search.search_batch`), and hands the answers back
to each event loop in one call. Alone, a request costs what a hop did; under
load the hand-overs are shared and alike queries become one index call.

``workers`` threads drain the queue (default: the CPUs, up to 4), so a slow
search (a BERT query embedding) does not hold every other behind it, and
libraries that release the GIL (FAISS, torch, SQLite) still overlap.

The inline lane: when no other search is in flight, a search of a space whose
last search took under :data:`INLINE_MAX_MS` runs on the event loop itself,
answered from memory only (space loaded and caught up, filter columns
current). A hand-over costs a large share of such a search (measured: 0.7 ms
of search, 1.3 ms more with the hop; a filtered search of 2-5 ms, 1.3 ms more),
and with nothing else in flight nobody waits for the loop but requests that
arrive meanwhile, held up 5 ms at most. While others are in flight the lane
stays open to searches cheaper than :data:`INLINE_BUSY_MAX_MS` (less than a
hand-over costs: the word2vec search of bench/bench_request_path.py, 8
clients, reached 85 % of the empty route's QPS with it and 75 % without, the
two servers side by side in one run). Anything that
would need SQL work, a load or a catch-up gives up the lane
(``NeedsWorker``) and is queued; under concurrent load every costlier search
is queued and batched (an HNSW search of a big index releases the GIL: on
workers, two cores search at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
from collections import defaultdict

from .batch_search import SearchJob, search_batch
from .query_path import NeedsWorker, QueryPath

log = logging.getLogger(__name__)

INLINE_MAX_MS = 5.0
"""A space whose last search took less than this (ms) may be answered on the event loop when it is idle
(the last one, not an average: a load or a catch-up spike passes with the next search)."""


INLINE_BUSY_MAX_MS = 0.5
"""The same while other searches are in flight: only searches cheaper than a hand-over itself."""


def default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


class SearchQueue:
    """Batches concurrent searches of one process onto a few worker threads (started on first use)."""

    def __init__(self, path: QueryPath, *, workers: int | None = None, max_batch: int = 32) -> None:
        self._path = path
        self._workers = workers or default_workers()
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[SearchJob, asyncio.Future[SearchJob], asyncio.AbstractEventLoop] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._in_flight = 0
        self._cost_ms: dict[tuple[str, str | None], float] = {}
        self.inline_answers = 0
        """How many searches the inline lane answered (tests and statistics)."""

    async def search(self, job: SearchJob) -> SearchJob:
        """The job answered (``hits`` set), or its error raised here, in the request's own context."""
        self._in_flight += 1
        try:
            done = self._inline(job) if self._cheap(job, alone=self._in_flight == 1) else None
            if done is None:
                done = await self._queued(job)
        finally:
            self._in_flight -= 1
        if done.error is not None:
            raise done.error
        return done

    def _cheap(self, job: SearchJob, *, alone: bool) -> bool:
        cost = self._cost_ms.get((job.collection, job.space))
        return cost is not None and cost < (INLINE_MAX_MS if alone else INLINE_BUSY_MAX_MS)

    def _inline(self, job: SearchJob) -> SearchJob | None:
        """The job answered on the loop from memory, or None when it needs a worker (then it is reset)."""
        job.memory_only = True
        start = time.perf_counter()
        search_batch(self._path, [job])
        if isinstance(job.error, NeedsWorker):
            job.reset()
            return None
        self._record([job], time.perf_counter() - start)
        self.inline_answers += 1
        return job

    async def _queued(self, job: SearchJob) -> SearchJob:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SearchJob] = loop.create_future()
        self._start()
        self._queue.put((job, future, loop))
        return await future

    def _record(self, jobs: list[SearchJob], seconds: float) -> None:
        """Each job's share of the time its batch took, per (collection, space)."""
        share = seconds * 1000 / max(1, len(jobs))
        for job in jobs:
            self._cost_ms[(job.collection, job.space)] = share

    def _start(self) -> None:
        if len(self._threads) == self._workers:
            return
        with self._start_lock:
            while len(self._threads) < self._workers:
                thread = threading.Thread(target=self._run, name=f"vecdex-search-{len(self._threads)}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            # A fair share of what waits, not all of it: the other workers' searches then run at the same
            # time (FAISS releases the GIL), where one worker taking everything searched on one core.
            share = min(self._max_batch, -(-(self._queue.qsize() + 1) // self._workers))
            while len(batch) < share:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # another worker's stop: leave it for them
                    break
                batch.append(more)
            self._answer(batch)

    def _answer(self, batch: list[tuple[SearchJob, asyncio.Future[SearchJob], asyncio.AbstractEventLoop]]) -> None:
        jobs = [job for job, _, _ in batch]
        start = time.perf_counter()
        try:
            search_batch(self._path, jobs)
            self._record([j for j in jobs if j.error is None], time.perf_counter() - start)
        except BaseException as exc:  # a bug in the batch path: every request hears of it, none hangs
            log.exception("search batch failed")
            for job, _, _ in batch:
                job.error = job.error or exc
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[SearchJob, asyncio.Future[SearchJob]]]] = defaultdict(list)
        for job, future, loop in batch:
            by_loop[loop].append((job, future))
        for loop, answered in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed (its server stopped): nobody waits
                loop.call_soon_threadsafe(_deliver, answered)

    def stop(self) -> None:
        """Let the workers finish what they hold and end (one stop marker each)."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()


def _deliver(answered: list[tuple[SearchJob, asyncio.Future[SearchJob]]]) -> None:
    for job, future in answered:
        if not future.done():  # a request whose client went away was cancelled
            future.set_result(job)
