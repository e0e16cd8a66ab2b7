"""A bilstm (ELMo-style) space through the API: topical search and contextual token vectors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient

from tests.service.corpus import topical_documents

# Small enough to train in seconds on 2 cores; still a real 2-layer BiLSTM LM over a char CNN.
TINY_BILSTM = {
    "type": "bilstm",
    "char_dim": 8,
    "filters": [[1, 16], [2, 16], [3, 32]],
    "projection_dim": 32,
    "hidden_dim": 48,
    "num_layers": 2,
    "epochs": 12,
    "patience": 12,
    "min_count": 1,
    "batch_size": 8,
    "seed": 3,
    "threads": 1,  # tests run two at a time on 2 cores
}


def test_bilstm_space_search_and_tokens(client: TestClient, jobs: Callable[[], int]) -> None:
    client.post("/collections", json={"name": "topics"})
    client.post("/collections/topics/documents", json={"documents": topical_documents()})
    r = client.post("/collections/topics/spaces", json={"name": "elmo", "embedder": TINY_BILSTM})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    job = client.get(f"/jobs/{r.json()['job']['id']}").json()
    assert job["status"] == "succeeded", job
    assert job["metrics"] and "heldout_perplexity" in job["metrics"], job["metrics"]

    for query, topic in (("the striker scored a goal in the stadium", "sport"), ("investors fear inflation and rates", "markets")):
        hits = client.post("/collections/topics/search", json={"query": query, "k": 5, "space": "elmo"}).json()["hits"]
        assert len(hits) == 5
        assert sum(h["metadata"]["topic"] == topic for h in hits) >= 4, hits

    def bank(text: str) -> np.ndarray:
        r = client.post("/collections/topics/spaces/elmo/tokens", json={"text": text, "neighbors": 3})
        assert r.status_code == 200, r.text
        tokens = r.json()["tokens"]
        assert all(len(t["neighbors"]) == 3 for t in tokens)
        return np.array(next(t["vector"] for t in tokens if t["token"] == "bank"))

    a, b = bank("the central bank raised interest rates"), bank("the team bank on the striker to score")
    assert a.shape == b.shape and not np.allclose(a, b)

    r = client.post("/collections/topics/spaces/elmo/tokens", json={"text": "   "})
    assert r.status_code == 422 and r.json()["error"]["field"] == "text"
