"""The OpenAI-compatible routes, driven by the official ``openai`` client against a live uvicorn server.

What a user of the SDK sees: vectors equal to the space's own (the facade's
embedding of the same texts, a stored document's vector) in float and base64,
the model list, and refusals raised as the SDK's own exception classes
(422 -> ``UnprocessableEntityError``, 404 -> ``NotFoundError``, 401 ->
``AuthenticationError``) with vecdex's code and the field as ``param``. The key
is a vecdex API key, sent by the SDK as ``Authorization: Bearer``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.facade import Vecdex
from service.key_schemas import KeyCreate
from service.settings import Settings
from service.vector_schemas import EmbedRequest

from .conftest import FAST_W2V
from .corpus import topical_documents
from tests.live_server import serving
from tests.service.test_vectors_out import news  # noqa: F401  (the fixture)

openai = pytest.importorskip("openai")

DOCS = {d["external_id"]: d["text"] for d in topical_documents()}
TEXTS = ["the striker scored a late goal", "interest rates and the stock market", DOCS["sport-2"]]


@dataclass
class Live:
    """A running server over the test's database, an SDK client with a read key, and the server's facade."""

    port: int
    key: str
    vx: Vecdex

    def sdk(self, key: str | None = None) -> "openai.OpenAI":
        # No retries: a refusal must surface at once as its exception class.
        return openai.OpenAI(base_url=f"http://127.0.0.1:{self.port}/v1", api_key=key or self.key, max_retries=0)


@pytest.fixture
def live(news: TestClient, settings: Settings) -> Iterator[Live]:
    """uvicorn in a thread over a second app on the same database, with keys enforced (a read key made)."""
    app = create_app(settings, run_worker=False)
    vx: Vecdex = app.state.vecdex
    key = vx.keys.create(body=KeyCreate(name="sdk", scope="read")).secret
    with serving(app) as port:
        yield Live(port, key, vx)


def _space_vectors(vx: Vecdex, texts: list[str]) -> np.ndarray:
    return np.asarray(vx.vectors.embed(collection="news", space="w2v", body=EmbedRequest(texts=texts)).vectors)


def test_sdk_embeddings_equal_the_space_vectors_in_float_and_base64(live: Live) -> None:
    sdk = live.sdk()
    expected = _space_vectors(live.vx, TEXTS)
    # The SDK asks for base64 by default and decodes it itself; "float" asks for lists of numbers.
    for fmt in ("float", None):
        kwargs = {"encoding_format": fmt} if fmt else {}
        out = sdk.embeddings.create(model="news/w2v", input=TEXTS, **kwargs)
        assert out.model == "news/w2v" and out.object == "list"
        assert [d.index for d in out.data] == [0, 1, 2] and all(d.object == "embedding" for d in out.data)
        np.testing.assert_allclose(np.asarray([d.embedding for d in out.data]), expected, atol=1e-6)
    raw = sdk.embeddings.create(model="news/w2v", input=TEXTS, encoding_format="base64")
    decoded = np.stack([np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") for d in raw.data])
    np.testing.assert_allclose(decoded, expected, atol=1e-6)
    # a stored document's vector, as the index holds it, is what its text embeds to
    stored = live.vx.vectors.document_vector(collection="news", external_id="sport-2", space="w2v").vector
    np.testing.assert_allclose(np.asarray(out.data[2].embedding), np.asarray(stored), atol=1e-6)


def test_one_string_a_bare_space_name_and_usage(live: Live) -> None:
    sdk = live.sdk()
    one = sdk.embeddings.create(model="w2v", input=TEXTS[0], encoding_format="float", user="someone", dimensions=48)
    assert one.model == "news/w2v" and len(one.data) == 1 and len(one.data[0].embedding) == 48
    np.testing.assert_allclose(one.data[0].embedding, _space_vectors(live.vx, TEXTS[:1])[0], atol=1e-6)
    # usage counts the space's own tokens (its analyzer: stop words and all, as it embeds them)
    analyzed = sum(len(live.vx.core.runtimes.get(_ref(live.vx)).embedder.analyze(t)) for t in TEXTS)
    many = sdk.embeddings.create(model="news/w2v", input=TEXTS)
    assert many.usage.prompt_tokens == many.usage.total_tokens == analyzed > 0


def _ref(vx: Vecdex):  # type: ignore[no-untyped-def]
    return vx.core.searcher.path.hot.space_state("news", "w2v").ref


def test_models_lists_the_ready_text_spaces(live: Live, news: TestClient) -> None:
    assert news.post("/collections/news/spaces", json={"name": "pending", "embedder": FAST_W2V}).status_code == 202
    models = live.sdk().models.list()
    assert [m.id for m in models.data] == ["news/w2v"]  # not bm25 (keyword), not the space still pending
    model = models.data[0]
    assert model.object == "model" and model.owned_by == "vecdex"
    assert abs(model.created - time.time()) < 3600


def test_refusals_raise_the_sdk_exceptions_with_code_and_param(live: Live) -> None:
    sdk = live.sdk()
    cases = [
        ({"model": "news/nope", "input": "goal"}, openai.NotFoundError, "space_not_found", "model"),
        ({"model": "nope/w2v", "input": "goal"}, openai.NotFoundError, "collection_not_found", "model"),
        ({"model": "nothing", "input": "goal"}, openai.NotFoundError, "space_not_found", "model"),
        ({"model": "news/bm25", "input": "goal"}, openai.UnprocessableEntityError, "not_supported", "model"),
        ({"model": "news/w2v", "input": "goal", "dimensions": 12}, openai.UnprocessableEntityError, "invalid_request", "dimensions"),
        ({"model": "news/w2v", "input": [[101, 2023]]}, openai.UnprocessableEntityError, "invalid_request", "input"),
        ({"model": "news/w2v", "input": [101, 2023]}, openai.UnprocessableEntityError, "invalid_request", "input"),
        ({"model": "news/w2v", "input": ["goal", "zzzz qqqq"]}, openai.UnprocessableEntityError, "empty_text", "input[1]"),
        ({"model": "news/w2v", "input": []}, openai.UnprocessableEntityError, "invalid_request", "input"),
    ]
    for kwargs, error, code, param in cases:
        with pytest.raises(error) as caught:
            sdk.embeddings.create(encoding_format="float", **kwargs)  # type: ignore[arg-type]
        assert caught.value.code == code and caught.value.param == param, (kwargs, caught.value.body)
        assert caught.value.type == "invalid_request_error" and caught.value.body["field"] == param  # type: ignore[index]
    with pytest.raises(openai.AuthenticationError):
        live.sdk(key="not-a-key").embeddings.create(model="news/w2v", input="goal")
    with pytest.raises(openai.AuthenticationError):
        live.sdk(key="not-a-key").models.list()


def test_a_bare_name_two_collections_share_is_ambiguous(live: Live, news: TestClient, jobs: Callable[[], int]) -> None:
    assert news.post("/collections", json={"name": "more"}).status_code == 201
    assert news.post("/collections/more/documents", json={"documents": topical_documents()}).status_code == 200
    assert news.post("/collections/more/spaces", json={"name": "w2v", "embedder": FAST_W2V}).status_code == 202
    assert jobs() == 1
    sdk = live.sdk()
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk.embeddings.create(model="w2v", input="goal")
    assert caught.value.param == "model" and "ambiguous" in caught.value.message and "more, news" in caught.value.message
    assert sdk.embeddings.create(model="more/w2v", input="goal").model == "more/w2v"
    assert sorted(m.id for m in sdk.models.list().data) == ["more/w2v", "news/w2v"]


def test_vecdex_error_shape_is_kept_on_v1(news: TestClient) -> None:
    """Without the SDK: the body is vecdex's (code, message, field) plus OpenAI's type and param, vecdex's status."""
    r = news.post("/v1/embeddings", json={"model": "news/w2v", "input": "goal", "dimensions": 3})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_request" and error["field"] == error["param"] == "dimensions"
    assert error["type"] == "invalid_request_error" and "48" in error["message"]
    r = news.post("/v1/embeddings", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    # the rest of the API keeps its 422
    r = news.post("/collections/news/spaces/w2v/embed", json={"texts": ["zzzz"]})
    assert r.status_code == 422 and "type" not in r.json()["error"]
