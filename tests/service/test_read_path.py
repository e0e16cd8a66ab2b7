"""The query path off the write path: a search does not wait while a write of its process embeds.

A write applies its changes to the loaded spaces before it is acknowledged (so
its client reads its own write). A query arriving meanwhile answers from the
state before that write, as it would have a moment earlier, instead of waiting
for the embedding; once the write returns, every query sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents


def _search(client: TestClient, query: str) -> list[str]:
    r = client.post("/collections/t/search", json={"query": query, "k": 50})
    assert r.status_code == 200, r.text
    return [h["external_id"] for h in r.json()["hits"]]


def test_a_search_does_not_wait_for_a_write_that_is_embedding(client: TestClient, jobs: Callable[[], int]) -> None:
    docs = topical_documents()
    assert client.post("/collections", json={"name": "t"}).status_code == 201
    assert client.post("/collections/t/documents", json={"documents": docs}).status_code == 200
    assert client.post("/collections/t/spaces", json={"name": "w", "embedder": FAST_W2V}).status_code == 202
    assert jobs() == 1
    query = docs[0]["text"]
    before = _search(client, query)  # loads the space in this process
    runtime = next(iter(client.app.state.vecdex.core.runtimes._cache.values()))  # type: ignore[attr-defined]

    embedding, release = threading.Event(), threading.Event()
    original = runtime.embedder.embed_documents

    def slow_embed(texts: Any) -> Any:
        embedding.set()
        assert release.wait(30), "the test never released the write"
        return original(texts)

    runtime.embedder.embed_documents = slow_embed  # type: ignore[method-assign]
    new = {"external_id": "late", "text": query + " " + docs[1]["text"], "metadata": {}}  # new text: embedded
    written: list[int] = []
    writer = threading.Thread(
        target=lambda: written.append(client.post("/collections/t/documents", json={"documents": [new]}).status_code)
    )
    writer.start()
    try:
        assert embedding.wait(30), "the write never started embedding"
        found: list[list[str]] = []
        reader = threading.Thread(target=lambda: found.append(_search(client, query)))
        reader.start()
        reader.join(20)
        # The search answered while the write was still embedding (it would hang here if it waited).
        assert not reader.is_alive() and found == [before]
        assert "late" not in found[0]
    finally:
        release.set()
        writer.join(30)
    assert written == [200]
    assert "late" in _search(client, query)  # acknowledged: seen by the next query
