"""The symmetric, self-normalised BM25 document similarity: in the index, in ``/similar`` on a keyword
space, and in the similarity evaluation (where a bm25 space now gets a figure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from embedders.bm25 import BM25Spec, KeywordIndex
from embedders.errors import EmptyText
from tests.service.conftest import FAST_W2V

JSON = dict[str, Any]

LONG = ("zebra stripes savanna grazing " * 6) + " ".join(
    "lions hunt at dawn while tourists watch from jeeps and guides explain the migration across the plains "
    "rivers crocodiles wildebeest".split() * 6
)
FILLER = [
    "the bank raised interest rates",
    "the striker scored a late goal",
    "markets fell on inflation fears",
    "the orchestra played a quiet symphony",
    "rain is expected over the weekend",
    "a new bridge opened downtown",
]
# "q" is short; "near" is short and shares two of its four words; "long" holds all four, many times,
# among many others: q's text as a BM25 query ranks "long" first, the symmetric similarity "near".
PLANTED = {"q": "zebra stripes savanna grazing", "near": "zebra stripes herd", "long": LONG}
PLANTED |= {f"f{i}": t for i, t in enumerate(FILLER)}


def _index(method: str = "lucene") -> tuple[KeywordIndex, dict[str, int]]:
    index = KeywordIndex(BM25Spec(method=method))  # type: ignore[arg-type]
    ids = {name: i + 1 for i, name in enumerate(PLANTED)}
    index.add_texts(list(ids.values()), list(PLANTED.values()))
    return index, ids


def _matrix(index: KeywordIndex, ids: list[int]) -> np.ndarray:
    return np.array([index.similarities(a, ids) for a in ids], dtype=np.float64)


@pytest.mark.parametrize("method", ["lucene", "robertson", "atire", "bm25l", "bm25+"])
def test_symmetric_self_normalised_and_equal_to_the_formula_over_search_text(method: str) -> None:
    index, named = _index(method)
    ids = list(named.values())
    sims = _matrix(index, ids)
    assert np.allclose(sims, sims.T, atol=1e-12)  # sim(a, b) == sim(b, a)
    assert np.allclose(np.diag(sims), 1.0)  # sim(a, a) == 1
    # By hand: bm25(a->b) is what search_text gives for a's text.
    texts = list(PLANTED.values())
    raw = np.zeros((len(ids), len(ids)))
    for i, text in enumerate(texts):
        scores = dict(index.search_text(text, len(ids)))
        raw[i] = [scores.get(d, 0.0) for d in ids]
    own = np.diag(raw)
    assert np.allclose(sims, 0.5 * (raw / own[:, None] + raw.T / own[None, :]))


def test_the_symmetric_form_prefers_the_short_neighbour_the_asymmetric_one_misses() -> None:
    index, ids = _index()
    names = {v: k for k, v in ids.items()}
    asymmetric = [names[d] for d, _ in index.search_text(PLANTED["q"], 3, exclude=ids["q"])]
    assert asymmetric[0] == "long"
    symmetric = index.similar_to(ids["q"], 3, exclude=ids["q"])
    assert [names[d] for d, _ in symmetric] == ["near", "long"]  # only documents sharing a word
    assert symmetric[0][1] == pytest.approx(index.similarities(ids["q"], [ids["near"]])[0])


def test_unknown_ids_and_changes() -> None:
    index, ids = _index()
    assert index.similarities(ids["q"], [ids["near"], 999])[1] is None
    with pytest.raises(EmptyText):
        index.similar_to(999, 3)
    before = index.similarities(ids["q"], [ids["near"]])[0]
    index.add_texts([ids["near"]], ["zebra stripes savanna grazing"])  # an edit: a copy of q now
    assert index.similarities(ids["q"], [ids["near"]])[0] == pytest.approx(1.0) != before
    index.remove([ids["near"]])
    assert index.similarities(ids["q"], [ids["near"]]) == [None]


# ----------------------------------------------------------------------------- through the API


def _space(client: TestClient, jobs: Callable[[], int], name: str, spec: JSON) -> None:
    r = client.post("/collections/planted/spaces", json={"name": name, "embedder": spec})
    assert r.status_code == 202, r.text
    assert jobs() == 1


@pytest.fixture
def planted(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    assert client.post("/collections", json={"name": "planted"}).status_code == 201
    docs = [
        {"external_id": k, "text": t, "metadata": {"kind": "filler" if k.startswith("f") else "animals"}}
        for k, t in PLANTED.items()
    ]
    assert client.post("/collections/planted/documents", json={"documents": docs}).status_code == 200
    _space(client, jobs, "kw", {"type": "bm25"})
    return client


def _similar(client: TestClient, doc: str, **extra: Any) -> list[JSON]:
    r = client.post(f"/collections/planted/documents/{doc}/similar", json={"space": "kw", **extra})
    assert r.status_code == 200, r.text
    assert r.json()["space"] == "kw"
    return r.json()["hits"]


def test_similar_on_bm25_ranks_by_the_symmetric_similarity(planted: TestClient) -> None:
    hits = _similar(planted, "q", k=5)
    assert [h["external_id"] for h in hits] == ["near", "long"]  # not itself; only documents sharing a word
    assert hits[0]["score"] > hits[1]["score"] > 0
    # Symmetric as served: near's neighbour q has the same score.
    back = {h["external_id"]: h["score"] for h in _similar(planted, "near", k=5)}
    assert back["q"] == pytest.approx(hits[0]["score"])
    assert [h["external_id"] for h in _similar(planted, "q", k=1)] == ["near"]  # k is honoured
    # The filter is kept; the document itself stays out even when the filter lets it in.
    assert _similar(planted, "q", k=5, filter={"kind": "filler"}) == []
    assert [h["external_id"] for h in _similar(planted, "q", k=5, filter={"kind": "animals"})] == ["near", "long"]
    assert planted.post("/collections/planted/documents/nope/similar", json={"space": "kw"}).status_code == 404
    # A document with no word in the space: a typed 4xx, not an empty 200.
    blank = {"external_id": "blank", "text": "?! ...", "metadata": {"kind": "filler"}}
    assert planted.post("/collections/planted/documents", json={"documents": [blank]}).status_code == 200
    r = planted.post("/collections/planted/documents/blank/similar", json={"space": "kw"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_text", r.text


def test_the_similarity_evaluation_scores_a_bm25_space(planted: TestClient, jobs: Callable[[], int]) -> None:
    _space(planted, jobs, "w2v", {**FAST_W2V, "min_count": 1})
    pairs = [("q", "near", 0.9), ("q", "long", 0.5), ("q", "f0", 0.0), ("near", "f1", 0.1), ("long", "f2", 0.2),
             ("f0", "f2", 0.3)]
    r = planted.post(
        "/collections/planted/evaluations",
        json={"task": "similarity", "pairs": [{"a": a, "b": b, "score": s} for a, b, s in pairs]},
    )
    assert r.status_code == 200, r.text
    results = {x["space"]: x for x in r.json()["results"]}
    kw = results["kw"]
    assert kw["status"] == "ok" and kw["evaluation_id"] is not None
    assert isinstance(kw["metrics"]["pearson"], float) and kw["metrics"]["pairs"] == 6
    # The figure is the one of the scores /similar serves (0 for a pair sharing no word).
    served = []
    for a, b, _ in pairs:
        served.append({h["external_id"]: h["score"] for h in _similar(planted, a, k=20)}.get(b, 0.0))
    gold = [s for _, _, s in pairs]
    assert kw["metrics"]["pearson"] == pytest.approx(float(np.corrcoef(gold, served)[0, 1]), abs=1e-6)
    # A keyword space is kept out of the combined (cosine) similarity: one vector space, no combination.
    assert results["w2v"]["status"] == "ok" and not any("+" in name for name in results)
