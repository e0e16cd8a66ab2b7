"""vecdex_client against a live server: the sync and async clients give the same answers as the
server's own facade, raise refusals as the exception of their status with the server's code and
field, quote ids in URLs, and bind every call (so the two clients cannot drift apart)."""

from __future__ import annotations

import inspect

import pytest

import vecdex_client as vc
from vecdex_client import _calls, _query_calls
from service.schemas import SearchRequest
from tests.clients.conftest import Server
from tests.live_server import free_port
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

C = "news"


@pytest.fixture(scope="module")
def news(server: Server) -> Server:
    """A collection of sport and market documents with a word2vec space, made through the client."""
    with vc.Client(server.url, api_key=server.admin_key) as client:
        assert client.create_collection(C, description="sport and markets").name == C
        assert client.upsert_documents(C, topical_documents()).created == 20
        created = client.create_space(C, "w2v", FAST_W2V)
        assert created.space.name == "w2v" and created.job.kind
        job = client.wait_for_job(created.job.id, timeout=120, poll=0.05)
        assert job.status == "succeeded" and job.finished
    return server


@pytest.fixture
def client(news: Server) -> vc.Client:
    with vc.Client(news.url, api_key=news.admin_key) as c:
        yield c


def test_search_over_http_equals_the_facade(news: Server, client: vc.Client) -> None:
    got = client.search(C, "the striker scored a late goal", k=5, space="w2v")
    assert isinstance(got, vc.SearchResponse) and isinstance(got.hits[0], vc.Hit)
    want = news.vx.queries.search(collection=C, body=SearchRequest(query="the striker scored a late goal", k=5))
    assert [(h.external_id, round(h.score, 5)) for h in got.hits] == [
        (h.external_id, round(h.score, 5)) for h in want.hits
    ]
    assert all(h.external_id.startswith("sport") for h in got.hits[:3])
    page2 = client.search(C, "the striker scored a late goal", k=5, offset=5)
    assert [h.external_id for h in page2.hits] == [h.external_id for h in news.vx.queries.search(
        collection=C, body=SearchRequest(query="the striker scored a late goal", k=5, offset=5)).hits]


async def test_the_async_client_answers_like_the_sync_one(news: Server, client: vc.Client) -> None:
    async with vc.AsyncClient(news.url, api_key=news.admin_key) as aclient:
        a = await aclient.search(C, "interest rates and the stock market", k=4)
        s = client.search(C, "interest rates and the stock market", k=4)
        assert a == s and a.hits[0].external_id.startswith("market")
        assert (await aclient.get_collection(C)) == client.get_collection(C)
        vec = await aclient.embed(C, "w2v", ["goal"])
        assert vec.vectors == client.embed(C, "w2v", ["goal"]).vectors and vec.dim == FAST_W2V["dim"]
        with pytest.raises(vc.NotFoundError):
            await aclient.get_document(C, "nope")


def test_documents_round_trip_by_id_with_awkward_ids(client: vc.Client) -> None:
    ids = ["with space", "q?x#y", "100%", "zürich-東京"]
    docs = [{"external_id": i, "text": f"the goal of the match {n}", "metadata": {"n": n}} for n, i in enumerate(ids)]
    assert client.upsert_documents(C, docs).created == 4
    try:
        assert [client.get_document(C, i).external_id for i in ids] == ids
        fetched = client.fetch_documents(C, [ids[2], "absent", ids[0]])
        assert [d.external_id for d in fetched.items] == [ids[2], ids[0]] and fetched.missing == ["absent"]
        patched = client.patch_document(C, ids[1], metadata={"n": None, "tag": "x"})
        assert patched.metadata == {"tag": "x"}
        assert client.document_vector(C, ids[3], space="w2v").dim == FAST_W2V["dim"]
        client.delete_document(C, ids[3])
        with pytest.raises(vc.NotFoundError) as err:
            client.delete_document(C, ids[3])
        assert err.value.code == "document_not_found" and err.value.status == 404
    finally:
        gone = client.delete_documents(C, ids)
    assert gone.deleted == ids[:3] and gone.missing == [ids[3]]
    assert client.get_collection(C).document_count == 20


def test_paging_through_documents(client: vc.Client) -> None:
    seen, cursor = [], None
    while True:
        page = client.list_documents(C, cursor=cursor, limit=7)
        seen += [d.external_id for d in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(d["external_id"] for d in topical_documents())


def test_refusals_are_exceptions_with_the_code_and_field(news: Server, client: vc.Client) -> None:
    with pytest.raises(vc.UnprocessableEntityError) as err:
        client.search(C, "goal", k=0)
    assert err.value.status == 422 and err.value.field == "k" and err.value.code
    with pytest.raises(vc.NotFoundError) as nf:
        client.search("nowhere", "goal")
    assert nf.value.code == "collection_not_found"
    with pytest.raises(vc.ConflictError) as conflict:
        client.create_collection(C)
    assert conflict.value.status == 409
    with vc.Client(news.url, api_key="not-a-key") as stranger:
        with pytest.raises(vc.AuthenticationError):
            stranger.list_collections()
    with vc.Client(f"http://127.0.0.1:{free_port()}", timeout=2) as nobody:
        with pytest.raises(vc.APIConnectionError):
            nobody.health()
    # one tree: everything the client raises is a VecdexError
    assert issubclass(vc.APIConnectionError, vc.VecdexError) and issubclass(vc.NotFoundError, vc.APIError)


def test_a_cancelled_job_raises_job_failed(client: vc.Client) -> None:
    created = client.create_space(C, "slow", {**FAST_W2V, "epochs": 10000})  # a minute of training
    cancelled = client.cancel_job(created.job.id)
    assert cancelled.cancel_requested or cancelled.status == "cancelled"
    try:
        with pytest.raises(vc.JobFailedError) as err:
            client.wait_for_job(created.job.id, timeout=60, poll=0.05)
        assert err.value.job.status == "cancelled"
    finally:
        client.delete_space(C, "slow")
    assert "slow" not in {s.name for s in client.list_spaces(C)}


def test_every_call_is_bound_on_both_clients_with_its_signature() -> None:
    calls = {
        name: fn
        for module in (_calls, _query_calls)
        for name, fn in vars(module).items()
        if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ == module.__name__
    }
    assert len(calls) > 25
    for name, fn in calls.items():
        for cls in (vc.Client, vc.AsyncClient):
            method = getattr(cls, name, None)
            assert method is not None, f"{cls.__name__}.{name} is missing"
            assert list(inspect.signature(method).parameters) == list(inspect.signature(fn).parameters)
            assert inspect.iscoroutinefunction(method) == (cls is vc.AsyncClient)
