"""Query-aware snippets: a hit shows the window of its document with the most of the query's terms,
where that window starts (``text_offset``) and where each term is in it (``highlights``); on search,
hybrid and compare, over HTTP, on both dialects. The window choice itself is tested on plain strings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.query.snippets import best_snippet, query_terms, snippet_for
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

C = "/collections/long"
FILLER = " ".join(f"the football season went on and the fans sang song number {i}." for i in range(40))
LONG = (
    f"{FILLER} Then the central bank raised interest rates and the stock market fell. {FILLER} "
    "Late on, the goalkeeper saved a penalty."
)


def _marked(text: str, hit: dict[str, Any]) -> list[str]:
    return [text[h["start"]:h["end"]].lower() for h in hit["highlights"]]


# ----------------------------------------------------------------------------- the window, on strings


def test_terms_drop_stop_words_and_repeat_once() -> None:
    assert query_terms("The Bank and THE bank rates") == ("bank", "rates")
    assert "的" not in query_terms("词向量的训练") and "训练" in query_terms("词向量的训练")
    assert query_terms(None) == () and query_terms("the of and") == ()


def test_the_window_holds_the_most_distinct_terms() -> None:
    cut = best_snippet(LONG, query_terms("interest rates stock market"), 120)
    assert len(cut.text) <= 120 and LONG[cut.offset:cut.offset + len(cut.text)] == cut.text
    marked = [cut.text[a:b].lower() for a, b in cut.highlights]
    assert {"interest", "rates", "stock", "market"} <= set(marked)
    # it opens at the sentence that holds them, not mid-word
    assert cut.text.startswith("Then the central bank")


def test_whole_words_only_and_case_kept() -> None:
    text = "Goalkeepers train; the GOAL came late, a goal-line goal."
    cut = snippet_for(text, "goal", 0)
    assert [text[a:b] for a, b in cut.highlights] == ["GOAL", "goal", "goal"]
    assert cut.highlights[0][0] == text.index("GOAL")


def test_chinese_terms_are_found_inside_words_as_written() -> None:
    text = "本文介绍词向量的训练方法。" * 3 + "语言模型可以使用词向量。"
    cut = snippet_for(text, "语言模型", 12)
    # jieba cuts the query in two; the two touching marks are one
    assert [cut.text[a:b] for a, b in cut.highlights] == ["语言模型"] and cut.offset > 30


def test_no_term_in_the_text_keeps_the_prefix() -> None:
    cut = snippet_for(LONG, "volcano eruption", 50)
    assert cut.text == LONG[:50] and cut.offset == 0 and cut.highlights == ()
    assert snippet_for(LONG, None, 50).text == LONG[:50]


# ----------------------------------------------------------------------------- over HTTP


@pytest.fixture
def long_collection(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    docs = topical_documents() + [{"external_id": "long", "text": LONG, "metadata": {"topic": "mixed"}}]
    assert client.post("/collections", json={"name": "long"}).status_code == 201
    assert client.post(f"{C}/documents", json={"documents": docs}).status_code == 200
    for name, spec in (("kw", {"type": "bm25"}), ("w2v", FAST_W2V)):
        assert client.post(f"{C}/spaces", json={"name": name, "embedder": spec, "make_default": name == "kw"}).status_code == 202
    assert jobs() == 2
    return client


def _hit(resp: Any, external_id: str) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    hits = body["hits"] if "hits" in body else [h for hits in body["results"].values() for h in hits]
    return next(h for h in hits if h["external_id"] == external_id)


def test_search_shows_the_matching_window_with_offsets(long_collection: TestClient) -> None:
    hit = _hit(long_collection.post(f"{C}/search", json={"query": "goalkeeper penalty", "k": 21, "snippet_chars": 80}), "long")
    assert hit["text_offset"] > len(FILLER) and len(hit["text"]) <= 80
    assert LONG[hit["text_offset"]:hit["text_offset"] + len(hit["text"])] == hit["text"]
    assert _marked(hit["text"], hit) == ["goalkeeper", "penalty"]
    # the whole text (snippet_chars 0): every occurrence, offsets into the whole document
    whole = _hit(long_collection.post(f"{C}/search", json={"query": "penalty", "k": 21, "snippet_chars": 0}), "long")
    assert whole["text"] == LONG and whole["text_offset"] == 0 and _marked(LONG, whole) == ["penalty"]


def test_a_short_document_is_whole_with_its_terms_marked(long_collection: TestClient) -> None:
    resp = long_collection.post(f"{C}/search", json={"query": "the striker scored", "k": 1, "space": "w2v"})
    (hit,) = resp.json()["hits"]
    assert hit["text_offset"] == 0 and set(_marked(hit["text"], hit)) <= {"striker", "scored"} and hit["highlights"]


def test_a_vector_query_has_the_prefix_and_no_highlights(long_collection: TestClient) -> None:
    vec = long_collection.post(f"{C}/spaces/w2v/embed", json={"text": "penalty"}).json()["vectors"][0]
    resp = long_collection.post(f"{C}/search", json={"vector": vec, "k": 21, "space": "w2v", "snippet_chars": 40})
    hit = _hit(resp, "long")
    assert hit["text"] == LONG[:40] and hit["text_offset"] == 0 and hit["highlights"] == []


def test_hybrid_and_compare_highlight_too(long_collection: TestClient) -> None:
    body = {"query": "interest rates", "k": 21, "spaces": ["kw", "w2v"], "snippet_chars": 100}
    for route in ("hybrid", "compare"):
        hit = _hit(long_collection.post(f"{C}/{route}", json=body), "long")
        assert hit["text"].startswith("Then the central bank"), (route, hit["text"])
        assert _marked(hit["text"], hit) == ["interest", "rates"], route


def test_the_fast_matcher_finds_what_the_regex_finds() -> None:
    """occurrences() looks terms up with str.find; the regex (kept for texts whose lower-casing changes
    length) is the definition: both must agree on every text."""
    import random

    from service.query import snippets

    rng = random.Random(5)
    pieces = ["goal", "Goal", "GOALS", "goalkeeper", "_goal", "goal_", "2goal", "goal-line", "词向量", "向量", "模型",
              "GPT模型", "market", "stock market", "rates", " ", " ", ", ", ".\n", "é", "bank", "banks"]
    terms_pool = ["goal", "market", "stock", "向量", "词向量", "gpt", "bank", "rates", "模型"]
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        terms = tuple(rng.sample(terms_pool, rng.randint(1, 5)))
        pattern = snippets._pattern(terms)
        want = [(m.start(), m.end(), m.group().lower()) for m in pattern.finditer(text)]
        assert snippets.occurrences(text, terms) == want, (text, terms)
    # a text whose lower-casing changes length takes the regex path and keeps exact offsets
    text = "İstanbul bank"
    assert [text[a:b] for a, b, _ in snippets.occurrences(text, ("bank",))] == ["bank"]
