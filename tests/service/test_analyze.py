"""POST /collections/{c}/spaces/{s}/analyze: the tokens a text space trains and queries on, on both dialects."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.service.conftest import FAST_W2V

TEXTS = [
    "词向量是大语言模型的基础，我们可以在自己的语料上训练词向量。",
    "大语言模型和词向量都把词语变成向量。",
    "检索系统用词向量和关键词一起找文档。",
    "The word vectors of a corpus are trained on its own text.",
]
TOKENIZER = {"stopwords": "english+chinese", "user_words": ["词向量", "大语言模型"]}


def _collection(client: TestClient) -> None:
    assert client.post("/collections", json={"name": "zh"}).status_code == 201
    docs = [{"external_id": f"d{i}", "text": t} for i, t in enumerate(TEXTS)]
    assert client.post("/collections/zh/documents", json={"documents": docs}).status_code == 200


def _space(client: TestClient, name: str, embedder: dict) -> None:
    r = client.post("/collections/zh/spaces", json={"name": name, "embedder": embedder})
    assert r.status_code in (201, 202), r.text


def test_a_keyword_and_a_word2vec_space_show_their_own_tokens(client: TestClient, jobs: Callable[[], int]) -> None:
    _collection(client)
    _space(client, "kw", {"type": "bm25", "tokenizer": TOKENIZER})
    _space(client, "plain", {"type": "bm25"})
    _space(client, "w2v", {**FAST_W2V, "min_count": 1, "tokenizer": TOKENIZER})
    jobs()
    text = {"text": "词向量是大语言模型的基础"}
    for space in ("kw", "w2v"):
        r = client.post(f"/collections/zh/spaces/{space}/analyze", json=text)
        assert r.status_code == 200, r.text
        assert r.json() == {"space": space, "tokens": ["词向量", "大语言模型", "基础"]}
    plain = client.post("/collections/zh/spaces/plain/analyze", json=text).json()["tokens"]
    assert "词向量" not in plain and "是" in plain and "的" in plain  # jieba's default cut, nothing dropped
    # The analysed tokens are what search matches on: the user word is findable as one term.
    hits = client.post("/collections/zh/search", json={"query": "词向量", "space": "kw", "k": 4}).json()["hits"]
    assert {h["external_id"] for h in hits} == {"d0", "d1", "d2"}


def test_bad_requests_name_the_problem(client: TestClient, jobs: Callable[[], int]) -> None:
    _collection(client)
    _space(client, "given", {"type": "vectors", "dim": 3})
    jobs()
    r = client.post("/collections/zh/spaces/given/analyze", json={"text": "词向量"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_supported"
    assert r.json()["error"]["field"] == "space"
    r = client.post("/collections/zh/spaces/nope/analyze", json={"text": "x"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "space_not_found"
    r = client.post("/collections/zh/spaces/given/analyze", json={"text": ""})
    assert r.status_code == 422 and "text" in r.text
    r = client.post("/collections/zh/spaces", json={"name": "bad", "embedder": {"type": "bm25", "tokenizer": {"user_words": ["ok"]}}})
    assert r.status_code == 422 and "user_words[0]" in r.text
