"""Searches answered together equal the same searches answered one by one, each with its own error.

The server queues concurrent searches and answers them in batches
(service.query.batching): alike queries share one index call, every hit one
hydration read. Nothing of that may show in an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexers.base import SearchParams
from service.errors import VecdexError
from service.query.batch_search import SearchJob, search_batch
from service.query import batching
from service.query.batching import SearchQueue
from service.query.query_path import Query
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents


@pytest.fixture
def searcher(client: TestClient, jobs: Callable[[], int]) -> Any:
    docs = topical_documents()
    assert client.post("/collections", json={"name": "t"}).status_code == 201
    assert client.post("/collections/t/documents", json={"documents": docs}).status_code == 200
    for name, embedder in (("w", FAST_W2V), ("kw", {"type": "bm25"})):
        assert client.post("/collections/t/spaces", json={"name": name, "embedder": embedder}).status_code == 202
    assert jobs() == 2
    return client.app.state.vecdex.core.searcher  # type: ignore[attr-defined]


def _jobs() -> list[SearchJob]:
    texts = ["striker goal match", "interest rates inflation", "stock market shares", "striker goal match", "goal"]
    out = [SearchJob("t", Query(text=t), 5, {}, "w", 40) for t in texts]  # alike: one index call
    out += [SearchJob("t", Query(text=texts[0]), 3, {}, "w", 0)]  # another k, whole texts
    out += [SearchJob("t", Query(text=texts[1]), 5, {}, "w", 10, SearchParams(exact=True))]  # other params
    out += [SearchJob("t", Query(text=texts[0]), 4, {"topic": "sport"}, "w", 40)]  # filtered: alone
    out += [SearchJob("t", Query(text=texts[2]), 5, {}, "kw", 40)]  # keyword
    out += [SearchJob("t", Query(text="zzzz qqqq"), 5, {}, "w", 40)]  # nothing known: its own error
    out += [SearchJob("t", Query.of(None, [0.1, 0.2]), 5, {}, "w", 40)]  # wrong length: its own error
    out += [SearchJob("t", Query(text=texts[0]), 5, {}, "nope", 40)]  # unknown space
    out += [SearchJob("t", Query(text=texts[0]), 0, {}, "w", 40)]  # invalid k
    return out


def _outcome(job: SearchJob) -> Any:
    if job.error is not None:
        assert isinstance(job.error, VecdexError), job.error
        return ("error", job.error.code, job.error.field)
    return (job.space_name, [(h.external_id, round(h.score, 5), h.text, h.metadata) for h in job.hits])


def test_a_batch_answers_each_search_as_alone(searcher: Any) -> None:
    alone = []
    for job in _jobs():
        search_batch(searcher.path, [job])
        alone.append(_outcome(job))
    together = _jobs()
    search_batch(searcher.path, together)
    assert [_outcome(j) for j in together] == alone
    # the cases are what they say: answers with hits, and four distinct errors
    errors = [o for o in alone if o[0] == "error"]
    assert len(errors) == 4 and len({e[1] for e in errors}) == 4
    assert all(o[1] for o in alone if o[0] != "error")
    # snippets are cut per search although the batch read the whole texts (job 5 asked for them)
    assert all(len(h[2]) <= 40 for h in alone[0][1]) and any(len(h[2]) > 40 for h in alone[5][1])


def test_waiting_searches_are_shared_between_the_workers(searcher: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight searches waiting for two workers: neither takes them all, and the two batches overlap in time
    (an index search releases the GIL, so both cores search), each answer still its own."""
    import threading
    import time

    spans: list[tuple[float, float, int]] = []
    lock = threading.Lock()
    real = batching.search_batch

    def recorded(path: Any, jobs: Any) -> None:
        start = time.perf_counter()
        time.sleep(0.05)  # a slow index call
        real(path, jobs)
        with lock:
            spans.append((start, time.perf_counter(), len(jobs)))

    monkeypatch.setattr(batching, "search_batch", recorded)
    queue = SearchQueue(searcher.path, workers=2)
    texts = ["striker goal match", "interest rates inflation", "stock market shares", "goal"] * 2

    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        jobs = [SearchJob("t", Query(text=t), 5, {}, "w", 40) for t in texts]
        futures = [loop.create_future() for _ in jobs]
        for job, future in zip(jobs, futures):  # all waiting before any worker starts
            queue._queue.put((job, future, loop))
        queue._start()
        return [_outcome(await f) for f in futures]

    try:
        got = asyncio.run(main())
    finally:
        queue.stop()
    alone = []
    for t in texts:
        job = SearchJob("t", Query(text=t), 5, {}, "w", 40)
        search_batch(searcher.path, [job])
        alone.append(_outcome(job))
    assert got == alone
    assert sum(n for _, _, n in spans) == 8 and max(n for _, _, n in spans) <= 4
    first, second = sorted(spans)[:2]
    assert second[0] < first[1], f"the first two batches ran one after the other: {spans}"


def test_the_queue_answers_concurrent_requests_with_their_own_results(searcher: Any) -> None:
    expected = []
    for job in _jobs():
        search_batch(searcher.path, [job])
        expected.append(_outcome(job))
    queue = SearchQueue(searcher.path, workers=2, max_batch=8)

    async def ask(job: SearchJob) -> Any:
        try:
            return _outcome(await queue.search(job))
        except VecdexError as exc:  # raised in the request's own context
            assert exc is job.error
            return _outcome(job)

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(ask(j) for j in _jobs() * 3)))

    try:
        got = asyncio.run(main())
    finally:
        queue.stop()
    assert got == expected * 3


def test_the_inline_lane_answers_alone_from_memory_and_hands_over_what_needs_sql(
    searcher: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing else in flight, a space whose last search was cheap is answered on the event loop;
    a write by another process (the space must catch up first) or a filter whose columns are not
    current yet goes to a worker, and gets the same answer an inline search gives afterwards."""
    from service.facade import Vecdex
    from service.schemas import DocumentIn

    # Any space counts as cheap here: what is tested is that only memory answers inline, not the threshold
    # (a loaded machine or PostgreSQL round trips can take a search past the 2 ms one).
    monkeypatch.setattr(batching, "INLINE_MAX_MS", 60_000.0)
    queue = SearchQueue(searcher.path, workers=1)
    job = lambda **kw: SearchJob("t", Query(text="striker goal"), 5, kw.get("where", {}), "w", 40)  # noqa: E731

    def ask(**kw: Any) -> tuple[Any, bool]:
        before = queue.inline_answers
        done = asyncio.run(queue.search(job(**kw)))
        return _outcome(done), queue.inline_answers > before

    def inline_soon(**kw: Any) -> Any:
        for _ in range(5):  # the first searches after a load or catch-up cost more: a worker answers them
            outcome, inline = ask(**kw)
            if inline:
                return outcome
        raise AssertionError("the inline lane never answered")

    try:
        first, inline = ask()
        assert not inline  # nothing known of this space yet: a worker loads it
        assert inline_soon() == first
        other = Vecdex(settings)  # another process writes: this one must catch up, a worker's job
        try:
            other.documents.write(collection="t", documents=[DocumentIn(external_id="late", text="striker goal goal")])
        finally:
            other.close()
        late, inline = ask()
        assert not inline and "late" in [h[0] for h in late[1]]
        assert inline_soon() == late
        filtered, inline = ask(where={"topic": "sport"})  # the columns load (in a worker) on first use
        assert not inline and filtered[1] and all(h[3]["topic"] == "sport" for h in filtered[1])
        assert inline_soon(where={"topic": "sport"}) == filtered
    finally:
        queue.stop()
