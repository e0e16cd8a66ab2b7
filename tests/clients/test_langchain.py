"""The LangChain adapter against a live server: LangChain's own standard VectorStore integration
suite (``langchain-tests``) with a LangChain embedding stored in a ``vectors`` space, and the
adapter over a vecdex text space (vecdex embeds; the filter language goes through)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import VectorStoreIntegrationTests

import vecdex_client as vc
from vecdex_client.langchain import VecdexVectorStore
from tests.clients.conftest import Server
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents


class TestVecdexStandard(VectorStoreIntegrationTests):
    """Each test gets an empty store: a fresh collection with its ``vectors`` space, deleted after."""

    @pytest.fixture()
    def vectorstore(self, server: Server) -> Iterator[VecdexVectorStore]:  # type: ignore[override]
        name = f"lc-{uuid.uuid4().hex[:10]}"
        client = vc.Client(server.url, api_key=server.admin_key)
        store = VecdexVectorStore.create(name, client=client, embedding=self.get_embeddings(), timeout=60)
        try:
            yield store
        finally:
            client.delete_collection(name)
            client.close()


@pytest.fixture(scope="module")
def text_store(server: Server) -> Iterator[VecdexVectorStore]:
    """A collection whose default space is a word2vec space: the server embeds texts and queries."""
    name = "lc-text"
    with vc.Client(server.url, api_key=server.admin_key) as client:
        client.create_collection(name)
        client.upsert_documents(name, topical_documents())
        client.wait_for_job(client.create_space(name, "w2v", FAST_W2V).job.id, timeout=120, poll=0.05)
        yield VecdexVectorStore(name, client=client)
        client.delete_collection(name)


def test_vecdex_embeds_when_no_embedding_is_given(text_store: VecdexVectorStore) -> None:
    assert text_store.embeddings is None and text_store.space is None
    hits = text_store.similarity_search("the striker scored a late goal", k=3)
    assert [d.metadata["topic"] for d in hits] == ["sport"] * 3
    # page_content is the whole stored text, not a snippet
    by_id = {d["external_id"]: d["text"] for d in topical_documents()}
    assert all(d.page_content == by_id[d.id] for d in hits)
    even_markets = text_store.similarity_search(
        "the striker scored a late goal", k=4, filter={"and": [{"topic": "markets"}, {"even": True}]}
    )
    assert len(even_markets) == 4 and all(d.metadata["topic"] == "markets" and d.metadata["even"] for d in even_markets)


def test_new_texts_are_embedded_by_the_server_and_found(text_store: VecdexVectorStore) -> None:
    ids = text_store.add_texts(["the goalkeeper saved a penalty in the match"], [{"topic": "sport", "new": True}])
    try:
        (found,) = text_store.get_by_ids(ids)
        assert found.metadata == {"topic": "sport", "new": True}
        hits = text_store.similarity_search("goalkeeper penalty", k=1, filter={"new": {"exists": True}})
        assert [d.id for d in hits] == ids
    finally:
        text_store.delete(ids)
    assert text_store.get_by_ids(ids) == []


async def test_async_search_and_relevance_scores(text_store: VecdexVectorStore) -> None:
    sync = text_store.similarity_search_with_score("interest rates and the stock market", k=3)
    got = await text_store.asimilarity_search_with_score("interest rates and the stock market", k=3)
    assert [(d.id, round(s, 5)) for d, s in got] == [(d.id, round(s, 5)) for d, s in sync]
    assert all(d.metadata["topic"] == "markets" for d, _ in got)
    scored = text_store.similarity_search_with_relevance_scores("interest rates", k=3)
    assert all(0.0 <= s <= 1.0 for _, s in scored)


def test_delete_without_ids_is_refused(text_store: VecdexVectorStore) -> None:
    with pytest.raises(ValueError, match="needs ids"):
        text_store.delete()
    with pytest.raises(ValueError, match="2 metadatas for 1 texts"):
        text_store.add_texts(["x"], [{}, {}])
    assert isinstance(Document(page_content="x"), Document)
