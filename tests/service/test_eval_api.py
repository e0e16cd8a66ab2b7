"""``POST /collections/{name}/evaluations``: metrics on a known ranking, the same figures as the CLI's runner,
runs listed afterwards, and bad input refused with its field and nothing stored (SQLite and PostgreSQL).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy.stats import spearmanr

from service.evaluation.formats import Query
from service.evaluation.runner import Evaluator
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

JSON = dict[str, Any]
URL = "/collections/topics/evaluations"


def _space(client: TestClient, jobs: Callable[[], int], name: str, spec: JSON) -> None:
    r = client.post("/collections/topics/spaces", json={"name": name, "embedder": spec})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    assert client.get(f"/collections/topics/spaces/{name}").json()["status"] == "ready"


@pytest.fixture
def topics(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    """The topical corpus with two ready spaces: a small word2vec (word vectors) and bm25 (keyword, no vectors)."""
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post("/collections/topics/documents", json={"documents": topical_documents()}).status_code == 200
    _space(client, jobs, "w2v", FAST_W2V)
    _space(client, jobs, "kw", {"type": "bm25"})
    return client


def _evaluator(client: TestClient) -> Evaluator:
    """The runner `vecdex eval` uses, over the app's own database and searcher."""
    state = client.app.state.vecdex.core  # type: ignore[attr-defined]
    return Evaluator(state.db, state.searcher)


def _ranking(client: TestClient, text: str, space: str = "w2v") -> list[str]:
    r = client.post("/collections/topics/search", json={"query": text, "k": 20, "space": space})
    assert r.status_code == 200, r.text
    return [h["external_id"] for h in r.json()["hits"]]


def _post(client: TestClient, body: JSON) -> JSON:
    r = client.post(URL, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _by_space(run: JSON) -> dict[str, JSON]:
    return {r["space"]: r for r in run["results"]}


# ----------------------------------------------------------------------------- retrieval


SPORT = "the striker scored a goal for the football team"
MARKETS = "the bank raised interest rates and shares fell"


def test_retrieval_on_a_known_ranking(topics: TestClient) -> None:
    # q1's judgements are placed on w2v's own ranking: grade 2 at rank 2, grade 1 at rank 4, grade 1 below
    # the search depth (10), grade 0 at rank 1. q2's one relevant document is its top hit; q3 is not judged.
    first, second = _ranking(topics, SPORT), _ranking(topics, MARKETS)
    assert len(first) == 20
    qrels = {
        "q1": {first[1]: 2, first[3]: 1, first[15]: 1, first[0]: 0},
        "q2": {second[0]: 1},
    }
    queries = [{"id": "q1", "text": SPORT}, {"id": "q2", "text": MARKETS}, {"id": "q3", "text": "a penalty"}]
    run = _post(
        topics,
        {"task": "retrieval", "queries": queries, "qrels": qrels, "k": [2, 10], "spaces": ["w2v"], "dataset": "tiny"},
    )
    assert run["task"] == "retrieval" and run["dataset"] == "tiny"
    (result,) = run["results"]
    assert result["space"] == "w2v" and result["embedder_type"] == "word2vec" and result["status"] == "ok"
    assert result["reason"] is None and isinstance(result["evaluation_id"], int)
    # By hand (the metrics' unit test case): q1 recall@2 = 1/3, recall@10 = 2/3, RR = 1/2, AP = (1/2 + 2/4) / 3,
    # nDCG@10 = (2/log2 3 + 1/log2 5) / (2 + 1/log2 3 + 1/log2 4); q2 scores 1 everywhere.
    ndcg_q1 = (2 / math.log2(3) + 1 / math.log2(5)) / (2 + 1 / math.log2(3) + 0.5)
    metrics = result["metrics"]
    assert metrics["queries"] == 2
    assert metrics["recall@2"] == pytest.approx((1 / 3 + 1) / 2)
    assert metrics["recall@10"] == pytest.approx((2 / 3 + 1) / 2)
    assert metrics["mrr@10"] == pytest.approx(0.75)
    assert metrics["ndcg@10"] == pytest.approx((ndcg_q1 + 1) / 2)
    assert metrics["map"] == pytest.approx(2 / 3)
    assert result["params"] == {
        "k": [2, 10],
        "depth": 10,
        "queries": 3,
        "judged_queries": 2,
        "unknown_judged_documents": 0,
    }

    listed = topics.get(URL).json()
    assert [(e["id"], e["space"], e["task"], e["dataset"]) for e in listed] == [
        (result["evaluation_id"], "w2v", "retrieval", "tiny")
    ]
    assert listed[0]["metrics"] == metrics and listed[0]["params"] == result["params"]


def test_retrieval_matches_the_cli_runner(topics: TestClient) -> None:
    qrels = {
        "q1": {f"sport-{i}": 2 if i < 3 else 1 for i in range(10)} | {"no-such-doc": 1},
        "q2": {f"market-{i}": 1 for i in range(10)},
    }
    queries = [{"id": "q1", "text": SPORT}, {"id": "q2", "text": MARKETS}]
    run = _post(topics, {"task": "retrieval", "queries": queries, "qrels": qrels, "k": 5})
    assert run["dataset"] == "retrieval"
    api = _by_space(run)
    assert list(api) == ["w2v", "kw"]
    cli = _evaluator(topics).retrieval("topics", [Query(**q) for q in queries], qrels, [5])
    for expected in cli:
        got = api[expected.space]
        assert got["status"] == expected.status == "ok"
        assert got["metrics"] == pytest.approx(expected.metrics)
        assert got["params"] == expected.params
        assert got["params"]["k"] == [5] and got["params"]["unknown_judged_documents"] == 1
    # Both requests stored one run per space; the API's are the first two, with the ids it returned.
    listed = topics.get(URL, params={"task": "retrieval"}).json()
    assert [e["id"] for e in listed[:2]] == [api["w2v"]["evaluation_id"], api["kw"]["evaluation_id"]]
    assert len(listed) == 4


# ----------------------------------------------------------------------------- similarity


PAIRS = [
    ("sport-0", "sport-1", 1.0),
    ("sport-0", "market-0", 0.0),
    ("market-1", "market-2", 1.0),
    ("sport-2", "market-3", 0.0),
    ("sport-4", "sport-5", 0.9),
    ("market-5", "sport-6", 0.1),
    ("sport-7", "market-7", 0.3),
]


def _cosines(client: TestClient, pairs: list[tuple[str, str, float]], space: str = "w2v") -> list[float]:
    """Each pair's score as the service serves it: the "more like this" score in the space (in a keyword
    space a document sharing no word is not a hit: 0)."""
    out = []
    for a, b, _ in pairs:
        hits = client.post(f"/collections/topics/documents/{a}/similar", json={"k": 19, "space": space}).json()["hits"]
        scores = {h["external_id"]: h["score"] for h in hits}
        out.append(scores[b] if space == "w2v" else scores.get(b, 0.0))
    return out


def test_similarity_pairs_and_matrix(topics: TestClient) -> None:
    body = {"task": "similarity", "pairs": [{"a": a, "b": b, "score": s} for a, b, s in PAIRS]}
    run = _post(topics, body)
    assert run["task"] == "similarity" and run["dataset"] == "similarity"
    results = _by_space(run)
    # A keyword space is scored by the symmetric BM25 similarity its /similar serves (not combined).
    kw = results["kw"]
    gold = [s for _, _, s in PAIRS]
    assert kw["status"] == "ok" and kw["evaluation_id"] is not None and kw["params"]["similarity"] == "bm25 symmetric"
    served_kw = _cosines(topics, PAIRS, space="kw")
    assert kw["metrics"]["pearson"] == pytest.approx(float(np.corrcoef(gold, served_kw)[0, 1]), abs=1e-5)
    assert not any(r["space"] == "kw" or "kw+" in r["space"] or "+kw" in r["space"] for r in run["results"]
                   if r["embedder_type"] == "combination")
    w2v = results["w2v"]
    served = _cosines(topics, PAIRS)
    assert w2v["metrics"]["pearson"] == pytest.approx(float(np.corrcoef(gold, served)[0, 1]), abs=1e-5)
    assert w2v["metrics"]["spearman"] == pytest.approx(float(spearmanr(gold, served).statistic), abs=1e-5)
    assert w2v["metrics"]["pairs"] == 7 and w2v["metrics"]["missing_rate"] == 0
    assert w2v["params"] == {"pairs": 7, "documents": 13}

    # A matrix with ids is its upper triangle as pairs.
    ids = ["sport-0", "sport-1", "market-0", "market-4"]
    matrix = [[1, 0.9, 0.1, 0.2], [0.9, 1, 0.3, 0.0], [0.1, 0.3, 1, 0.8], [0.2, 0.0, 0.8, 1]]
    triangle = [{"a": ids[i], "b": ids[j], "score": matrix[i][j]} for i in range(4) for j in range(i + 1, 4)]
    by_matrix = _by_space(_post(topics, {"task": "similarity", "ids": ids, "matrix": matrix, "spaces": ["w2v"]}))
    by_pairs = _by_space(_post(topics, {"task": "similarity", "pairs": triangle, "spaces": ["w2v"]}))
    assert by_matrix["w2v"]["metrics"] == pytest.approx(by_pairs["w2v"]["metrics"])
    assert by_matrix["w2v"]["params"] == {"pairs": 6, "documents": 4}

    # Without ids the rows are the collection's documents in insertion order (as a matrix file without a header).
    order = [d["external_id"] for d in topical_documents()]
    rng = np.random.default_rng(3)
    full = rng.random((20, 20))
    full = ((full + full.T) / 2).round(3).tolist()
    no_ids = _by_space(_post(topics, {"task": "similarity", "matrix": full, "spaces": ["w2v"]}))
    named = _by_space(_post(topics, {"task": "similarity", "ids": order, "matrix": full, "spaces": ["w2v"]}))
    assert no_ids["w2v"]["metrics"] == pytest.approx(named["w2v"]["metrics"])
    assert no_ids["w2v"]["params"] == {"pairs": 190, "documents": 20}

    cli = _evaluator(topics).similarity("topics", PAIRS, ["w2v"])
    assert w2v["metrics"] == pytest.approx(cli[0].metrics)
    assert len(topics.get(URL, params={"task": "similarity"}).json()) == 7  # kw's run is stored too


# ----------------------------------------------------------------------------- words


WORD_PAIRS = [("striker", "goal", 8), ("stadium", "fans", 7), ("bank", "shares", 7), ("striker", "inflation", 1)]
ANALOGIES = [
    ("sport", "striker", "goal", "goalkeeper", "penalty"),
    ("markets", "bank", "shares", "zebra", "unicorn"),
    ("markets", "bank", "rates", "market", "shares"),
]


def test_words_matches_the_cli_runner(topics: TestClient) -> None:
    pairs = WORD_PAIRS + [("zebra", "unicorn", 5)]
    body = {
        "task": "words",
        "word_pairs": [{"a": a, "b": b, "score": s} for a, b, s in pairs],
        "analogies": [dict(zip(("section", "a", "b", "c", "d"), q)) for q in ANALOGIES],
    }
    results = _by_space(_post(topics, body))
    assert results["kw"]["status"] == "not applicable" and results["kw"]["evaluation_id"] is None
    metrics = results["w2v"]["metrics"]
    assert metrics["wordsim_oov_rate"] == pytest.approx(0.2) and metrics["wordsim_pairs"] == 4
    assert metrics["analogy_questions"] == 2 and metrics["analogy_oov"] == 1
    assert set(metrics["sections"]) == {"sport", "markets"}
    assert metrics["sections"]["markets"]["oov"] == 1
    cli = _evaluator(topics).words("topics", [(a, b, float(s)) for a, b, s in pairs], ANALOGIES, ["w2v"])
    assert metrics == cli[0].metrics  # the same vectors, the same code: identical figures

    # One part alone; the section defaults when omitted.
    only = _by_space(
        _post(topics, {"task": "words", "analogies": [{"a": "striker", "b": "goal", "c": "bank", "d": "shares"}]})
    )
    assert set(only["w2v"]["metrics"]["sections"]) == {"analogies"}
    assert "wordsim_spearman" not in only["w2v"]["metrics"]


def test_words_with_gensim_defaults(topics: TestClient) -> None:
    # The CLI's defaults: gensim's bundled wordsim353.tsv and questions-words.txt fill what the body omits.
    run = _post(topics, {"task": "words", "use_gensim_defaults": True, "spaces": ["w2v"]})
    assert run["dataset"] == "wordsim353.tsv+questions-words.txt"
    (result,) = run["results"]
    assert result["params"] == {"word_pairs": 353, "analogies": 19544}
    mixed = _post(
        topics,
        {
            "task": "words",
            "use_gensim_defaults": True,
            "spaces": ["w2v"],
            "word_pairs": [{"a": a, "b": b, "score": s} for a, b, s in WORD_PAIRS],
        },
    )
    assert mixed["dataset"] == "word_pairs+questions-words.txt"
    assert mixed["results"][0]["params"] == {"word_pairs": 4, "analogies": 19544}


# ----------------------------------------------------------------------------- bad input


QUERIES = [{"id": "q1", "text": SPORT}, {"id": "q2", "text": MARKETS}]
QRELS = {"q1": {"sport-0": 1}, "q2": {"market-0": 1}}
RETRIEVAL = {"task": "retrieval", "queries": QUERIES, "qrels": QRELS}
SIMILARITY = {"task": "similarity", "pairs": [{"a": "sport-0", "b": "sport-1", "score": 1}]}

BAD: list[tuple[str, str, JSON, int, str, str | None]] = [
    # (case, url, body, status, code, field)
    ("no task", URL, {"queries": QUERIES, "qrels": QRELS}, 422, "invalid_request", "task"),
    ("unknown task", URL, {**RETRIEVAL, "task": "ranking"}, 422, "invalid_request", "task"),
    ("unknown field", URL, {**RETRIEVAL, "query": "x"}, 422, "invalid_request", "query"),
    ("no queries", URL, {**RETRIEVAL, "queries": []}, 422, "invalid_request", "queries"),
    (
        "blank text",
        URL,
        {**RETRIEVAL, "queries": QUERIES + [{"id": "q3", "text": "x"}, {"id": "q4", "text": "  "}]},
        422,
        "invalid_request",
        "queries[3].text",
    ),
    ("query without text", URL, {**RETRIEVAL, "queries": [{"id": "q1"}]}, 422, "invalid_request", "queries[0].text"),
    (
        "too many queries",
        URL,
        {**RETRIEVAL, "queries": [{"id": f"q{i}", "text": "goal"} for i in range(10_001)]},
        422,
        "invalid_request",
        "queries",
    ),
    (
        "duplicate query id",
        URL,
        {**RETRIEVAL, "queries": QUERIES + [{"id": "q1", "text": "again"}]},
        422,
        "invalid_request",
        "queries[2].id",
    ),
    ("no qrels", URL, {**RETRIEVAL, "qrels": {}}, 422, "invalid_request", "qrels"),
    (
        "unknown query in qrels",
        URL,
        {**RETRIEVAL, "qrels": {**QRELS, "q9": {"sport-1": 1}}},
        422,
        "invalid_request",
        "qrels.q9",
    ),
    ("empty judgements", URL, {**RETRIEVAL, "qrels": {**QRELS, "q2": {}}}, 422, "invalid_request", "qrels.q2"),
    (
        "grade not an integer",
        URL,
        {**RETRIEVAL, "qrels": {"q1": {"sport-0": "high"}}},
        422,
        "invalid_request",
        "qrels.q1.sport-0",
    ),
    ("k zero", URL, {**RETRIEVAL, "k": 0}, 422, "invalid_k", "k"),
    ("k above max_k", URL, {**RETRIEVAL, "k": [10, 100_000]}, 422, "invalid_k", "k"),
    ("no spaces", URL, {**RETRIEVAL, "spaces": []}, 422, "invalid_request", "spaces"),
    ("unknown space", URL, {**RETRIEVAL, "spaces": ["w2v", "nope"]}, 404, "space_not_found", "space"),
    (
        "unknown collection",
        "/collections/nope/evaluations",
        RETRIEVAL,
        404,
        "collection_not_found",
        "collection",
    ),
    ("pairs and matrix", URL, {**SIMILARITY, "matrix": [[1, 0], [0, 1]]}, 422, "invalid_request", "pairs"),
    ("neither pairs nor matrix", URL, {"task": "similarity"}, 422, "invalid_request", "pairs"),
    ("no pairs", URL, {**SIMILARITY, "pairs": []}, 422, "invalid_request", "pairs"),
    (
        "score not a number",
        URL,
        {**SIMILARITY, "pairs": SIMILARITY["pairs"] + [{"a": "sport-0", "b": "sport-2", "score": "high"}]},
        422,
        "invalid_request",
        "pairs[1].score",
    ),
    (
        "unknown document",
        URL,
        {**SIMILARITY, "pairs": [{"a": "sport-0", "b": "nope", "score": 1}]},
        422,
        "document_not_found",
        "pairs",
    ),
    (
        "ragged matrix",
        URL,
        {"task": "similarity", "ids": ["sport-0", "sport-1"], "matrix": [[1, 0], [0, 1, 2]]},
        422,
        "invalid_request",
        "matrix[1]",
    ),
    (
        "ids do not fit the matrix",
        URL,
        {"task": "similarity", "ids": ["sport-0"], "matrix": [[1, 0], [0, 1]]},
        422,
        "invalid_request",
        "ids",
    ),
    (
        "duplicate id in the matrix",
        URL,
        {"task": "similarity", "ids": ["sport-0", "sport-0"], "matrix": [[1, 0], [0, 1]]},
        422,
        "invalid_request",
        "ids[1]",
    ),
    (
        "matrix without ids is not the collection's size",
        URL,
        {"task": "similarity", "matrix": [[1, 0], [0, 1]]},
        422,
        "invalid_input",
        "matrix",
    ),
    ("ids without matrix", URL, {**SIMILARITY, "ids": ["sport-0"]}, 422, "invalid_request", "ids"),
    ("nothing to evaluate words on", URL, {"task": "words"}, 422, "invalid_request", "word_pairs"),
    (
        "analogy missing a word",
        URL,
        {"task": "words", "analogies": [{"a": "x", "b": "y", "c": "z"}]},
        422,
        "invalid_request",
        "analogies[0].d",
    ),
    (
        "reserved section",
        URL,
        {"task": "words", "analogies": [{"section": "total", "a": "x", "b": "y", "c": "z", "d": "w"}]},
        422,
        "invalid_request",
        "analogies[0].section",
    ),
]


def test_bad_input_names_the_field_and_stores_nothing(topics: TestClient) -> None:
    _post(topics, RETRIEVAL)  # something to keep
    before = topics.get(URL).json()
    assert len(before) == 2
    for case, url, body, status, code, field in BAD:
        r = topics.post(url, json=body)
        assert r.status_code == status, (case, r.text)
        err = r.json()["error"]
        assert (err["code"], err["field"]) == (code, field), (case, err)
        assert err["message"], case
        if field and code == "invalid_request":
            assert field in err["message"], (case, err)
        assert topics.get(URL).json() == before, case


def test_a_space_failing_mid_run_stores_nothing(topics: TestClient) -> None:
    # "late" is created but its build job never runs: pending. Named after a ready space, the request fails
    # after w2v was evaluated, and w2v's run must not be left behind.
    r = topics.post("/collections/topics/spaces", json={"name": "late", "embedder": FAST_W2V})
    assert r.status_code == 202
    r = topics.post(URL, json={**RETRIEVAL, "spaces": ["w2v", "late"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "space_not_ready", r.text
    assert r.json()["error"]["field"] == "space"
    assert topics.get(URL).json() == []
    # Not named, it is reported and skipped; the others run and are stored.
    results = _by_space(_post(topics, RETRIEVAL))
    assert results["late"]["status"] == "not ready" and results["late"]["evaluation_id"] is None
    assert results["late"]["reason"] == "space is pending" and results["late"]["metrics"] is None
    assert {e["space"] for e in topics.get(URL).json()} == {"w2v", "kw"}


def test_openapi_documents_each_task(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    post = schema["paths"]["/collections/{name}/evaluations"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "task"
    assert set(body["discriminator"]["mapping"]) == {"retrieval", "similarity", "words"}
