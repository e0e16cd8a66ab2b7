"""A BERT space through the API: paraphrase search, offline-only models, no re-embedding of unchanged text."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from embedders.bert import BertEmbedder

# Ten documents on unrelated subjects, and for each a paraphrased query that shares no
# word with it (checked below): only a model of meaning, not of words, finds them.
PARAPHRASES: list[tuple[str, str]] = [
    ("The feline dozed on the sunny windowsill all afternoon.", "a cat napping by a bright window"),
    ("Heavy rainfall caused the river to overflow, flooding several villages.", "towns were underwater after storms swelled a stream"),
    ("The surgeon performed a delicate heart operation that lasted eight hours.", "doctor did lengthy cardiac surgery"),
    ("Shares tumbled on Wall Street as investors feared a recession.", "stock prices dropped amid worries about an economic downturn"),
    ("The toddler giggled while splashing in the bathtub.", "a laughing infant playing with water during a bath"),
    ("Our flight was delayed for three hours because of fog at the airport.", "planes left late owing to poor visibility"),
    ("She baked a chocolate cake for her grandmother's birthday.", "dessert prepared to celebrate an elderly relative turning ninety"),
    ("The striker scored twice and his team won the championship final.", "footballer netted two goals, clinching a cup"),
    ("Engineers repaired the broken bridge before winter arrived.", "workers fixed a damaged overpass ahead of cold months"),
    ("The orchestra played Beethoven's ninth symphony to a packed concert hall.", "musicians performed classical masterpieces before full audiences"),
]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_paraphrases_share_no_words() -> None:
    for document, query in PARAPHRASES:
        assert not _words(document) & _words(query), (document, query)


@pytest.fixture
def bert_collection(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    client.post("/collections", json={"name": "para"})
    docs = [{"external_id": f"d{i}", "text": text, "metadata": {"n": i}} for i, (text, _) in enumerate(PARAPHRASES)]
    assert client.post("/collections/para/documents", json={"documents": docs}).status_code == 200
    r = client.post("/collections/para/spaces", json={"name": "bert", "embedder": {"type": "bert"}})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    job = client.get(f"/jobs/{r.json()['job']['id']}").json()
    assert job["status"] == "succeeded", job
    space = client.get("/collections/para/spaces/bert").json()
    assert (space["dim"], space["metric"], space["status"]) == (384, "cosine", "ready")
    return client


def test_paraphrased_queries_find_their_documents(bert_collection: TestClient) -> None:
    client = bert_collection
    for i, (_, query) in enumerate(PARAPHRASES):
        r = client.post("/collections/para/search", json={"query": query, "k": 3, "space": "bert"})
        assert r.status_code == 200, r.text
        assert r.json()["hits"][0]["external_id"] == f"d{i}", (query, r.json()["hits"])
    # analyze shows the model's own word pieces (lower-cased, a rare word split into pieces)
    r = client.post("/collections/para/spaces/bert/analyze", json={"text": "Bushfires near Sydney"})
    assert r.status_code == 200 and r.json()["tokens"][0] == "bush" and "##fires" in r.json()["tokens"], r.text


def test_updates_embed_only_changed_text(bert_collection: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    client = bert_collection
    client.post("/collections/para/search", json={"query": "warm-up", "k": 1, "space": "bert"})  # space loaded
    embedded: list[str] = []
    original = BertEmbedder.embed_documents

    def counting(self: BertEmbedder, texts):  # type: ignore[no-untyped-def]
        embedded.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(BertEmbedder, "embed_documents", counting)
    # Same text again: nothing to embed. A copy of an existing text under a new id: its stored vector is reused.
    same = [{"external_id": "d0", "text": PARAPHRASES[0][0], "metadata": {"n": 0}}]
    assert client.post("/collections/para/documents", json={"documents": same}).status_code == 200
    copy = [{"external_id": "copy", "text": PARAPHRASES[1][0]}]
    assert client.post("/collections/para/documents", json={"documents": copy}).status_code == 200
    assert embedded == []
    # One changed document: exactly one text embedded, and search sees the new text.
    new_text = "A violinist tuned her instrument backstage before the recital."
    changed = [{"external_id": "d9", "text": new_text, "metadata": {"n": 9}}]
    assert client.post("/collections/para/documents", json={"documents": changed}).status_code == 200
    client.post("/collections/para/search", json={"query": "x", "k": 1, "space": "bert"})
    assert embedded == [new_text]
    hits = client.post(
        "/collections/para/search", json={"query": "a musician preparing a string instrument", "k": 1, "space": "bert"}
    ).json()["hits"]
    assert hits[0]["external_id"] == "d9"
    hits = client.post("/collections/para/search", json={"query": PARAPHRASES[1][1], "k": 2, "space": "bert"}).json()["hits"]
    assert {h["external_id"] for h in hits} == {"d1", "copy"}


def test_model_not_available_offline_is_a_422_and_writes_nothing(client: TestClient) -> None:
    client.post("/collections", json={"name": "c"})
    client.post("/collections/c/documents", json={"documents": [{"external_id": "a", "text": "some text"}]})
    r = client.post(
        "/collections/c/spaces", json={"name": "b", "embedder": {"type": "bert", "model": "acme/never-downloaded"}}
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "model_unavailable" and error["field"] == "embedder.model"
    assert "not available offline" in error["message"]
    assert client.get("/collections/c/spaces").json() == []
    assert client.get("/jobs").json() == []


def test_rebuild_after_one_change_embeds_exactly_one(
    bert_collection: TestClient, jobs: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = bert_collection
    embedded: list[str] = []
    original = BertEmbedder.embed_documents

    def counting(self: BertEmbedder, texts):  # type: ignore[no-untyped-def]
        embedded.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(BertEmbedder, "embed_documents", counting)
    new_text = "Volunteers planted hundreds of oak trees along the motorway."
    changed = [{"external_id": "d4", "text": new_text, "metadata": {"n": 4}}]
    assert client.post("/collections/para/documents", json={"documents": changed}).status_code == 200
    r = client.post("/collections/para/spaces/bert/rebuild")
    assert r.status_code == 202, r.text
    assert jobs() == 1
    job = client.get(f"/jobs/{r.json()['job']['id']}").json()
    assert job["status"] == "succeeded", job
    assert (job["metrics"]["embedded"], job["metrics"]["reused"]) == (1, len(PARAPHRASES) - 1)
    assert embedded == [new_text]
    assert client.get("/collections/para/spaces/bert").json()["generation"] == 1
    hits = client.post(
        "/collections/para/search", json={"query": "people putting saplings beside a highway", "k": 1, "space": "bert"}
    ).json()["hits"]
    assert hits[0]["external_id"] == "d4"
    assert embedded == [new_text]  # the rebuilt space serves stored vectors: nothing embedded again
