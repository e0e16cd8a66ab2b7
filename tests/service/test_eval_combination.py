"""The combined document similarity of an evaluation: the weighted mean of each space's clipped cosine,
equal weights by default, fitted ones on request (with a held-out figure), the same through the API as by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.evaluation import combine as c
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

URL = "/collections/topics/evaluations"


def test_fused_clips_negative_cosines_and_averages_the_spaces_that_scored_a_pair() -> None:
    predicted = {"a": [0.8, -0.4, None, None], "b": [0.2, 0.6, 0.5, None]}
    got = c.fused(predicted, {"a": 0.75, "b": 0.25})
    assert got[:3] == pytest.approx([0.75 * 0.8 + 0.25 * 0.2, 0.25 * 0.6, 0.5]) and got[3] is None
    assert c.fused(predicted, {"a": 0.0, "b": 1.0})[:3] == pytest.approx([0.2, 0.6, 0.5])  # weight 0: left out


def test_fitting_finds_the_space_that_explains_the_gold_and_reports_a_held_out_figure() -> None:
    rng = np.random.default_rng(5)
    ids = [f"d{i}" for i in range(24)]
    pairs = [(ids[i], ids[j], 0.0) for i in range(24) for j in range(i + 1, 24)]
    good = rng.random(len(pairs))
    noise = rng.random(len(pairs))
    pairs = [(a, b, float(g)) for (a, b, _), g in zip(pairs, good * 2 + 0.1)]
    predicted: dict[str, list[float | None]] = {"good": list(good), "noise": list(noise)}
    fitted = c.combine(pairs, predicted, fit=True)
    equal = c.combine(pairs, predicted)
    assert fitted is not None and equal is not None
    assert fitted.weights["good"] > 0.99 and sum(fitted.weights.values()) == pytest.approx(1.0)
    assert fitted.metrics["pearson"] == pytest.approx(1.0)
    assert fitted.metrics["pearson"] > equal.metrics["pearson"]
    assert equal.weights == {"good": 0.5, "noise": 0.5} and equal.held_out is None
    assert fitted.held_out is not None and fitted.held_out["pearson"] == pytest.approx(1.0)
    assert c.combine(pairs, {"good": list(good)}) is None  # one space: nothing to combine


def _space(client: TestClient, jobs: Callable[[], int], name: str, spec: dict[str, Any]) -> None:
    r = client.post("/collections/topics/spaces", json={"name": name, "embedder": spec})
    assert r.status_code == 202, r.text
    assert jobs() == 1


def test_the_api_reports_the_combination_of_what_each_space_serves(client: TestClient, jobs: Callable[[], int]) -> None:
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post("/collections/topics/documents", json={"documents": topical_documents()}).status_code == 200
    _space(client, jobs, "w2v", FAST_W2V)
    _space(client, jobs, "tf", {"type": "tfidf", "min_count": 1})
    pairs = [("sport-0", "sport-1", 1.0), ("sport-0", "market-0", 0.0), ("market-1", "market-2", 0.9),
             ("sport-2", "market-3", 0.1), ("sport-4", "sport-5", 0.8), ("market-5", "sport-6", 0.2)]
    body = {"task": "similarity", "pairs": [{"a": a, "b": b, "score": s} for a, b, s in pairs]}
    r = client.post(URL, json=body)
    assert r.status_code == 200, r.text
    results = {x["space"]: x for x in r.json()["results"]}
    combo = results["w2v+tf"]
    assert combo["embedder_type"] == "combination" and combo["evaluation_id"] is None  # reported, not stored
    assert combo["params"]["weights"] == {"w2v": 0.5, "tf": 0.5} and combo["params"]["fitted"] is False

    def served(space: str, a: str, b: str) -> float:
        hits = client.post(f"/collections/topics/documents/{a}/similar", json={"k": 19, "space": space}).json()["hits"]
        return {h["external_id"]: h["score"] for h in hits}[b]

    by_hand = [np.mean([max(served(s, a, b), 0.0) for s in ("w2v", "tf")]) for a, b, _ in pairs]
    gold = [g for _, _, g in pairs]
    assert combo["metrics"]["pearson"] == pytest.approx(float(np.corrcoef(gold, by_hand)[0, 1]), abs=1e-5)

    r = client.post(URL, json={**body, "fit_weights": True})
    combo = {x["space"]: x for x in r.json()["results"]}["w2v+tf"]
    assert combo["params"]["fitted"] is True and sum(combo["params"]["weights"].values()) == pytest.approx(1.0)
    assert combo["metrics"]["pearson"] >= results["w2v+tf"]["metrics"]["pearson"] - 1e-9
    stored = client.get(URL, params={"task": "similarity"}).json()
    assert sorted(x["space"] for x in stored) == ["tf", "tf", "w2v", "w2v"]
    assert client.post(URL, json={**body, "fit_weights": "yes"}).status_code == 422
