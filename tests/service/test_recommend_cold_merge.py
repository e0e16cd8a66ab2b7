"""With a cold-start text space, item2vec and text hits compete on score in one list.

The issue: the fusion reserved half of every list for items without interactions
(reciprocal-rank fusion interleaves two lists whatever their scores) and the scores
shown were not in order. Now every hit earns its place by score.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from embedders.item2vec.synthetic import planted_log
from service.query.recommend import Ranked, Recommender
from tests.service.conftest import post_log

TITLES = [
    ["electric guitar", "grand piano", "violin", "drum kit", "trumpet", "flute", "cello", "saxophone"],
    ["dome tent", "sleeping bag", "hiking backpack", "camping lantern", "compass", "hammock", "headlamp", "canteen"],
]
SPEC = {"type": "item2vec", "dim": 16, "epochs": 30, "workers": 1, "seed": 3}


def test_merge_sorts_by_score_and_keeps_each_item_once() -> None:
    rankings = [
        Ranked("item2vec", [(1, 0.9), (2, 0.8), (3, 0.7), (6, 0.2)]),
        Ranked("text", [(5, 0.95), (4, 0.5), (2, 0.85)]),
    ]
    merged = Recommender._merge(rankings, 5)
    assert merged == [(5, 0.95, "text"), (1, 0.9, "item2vec"), (2, 0.85, "text"), (3, 0.7, "item2vec"),
                      (4, 0.5, "text")]
    # No source is given a share: weak text hits do not displace stronger item2vec ones.
    weak = [Ranked("item2vec", [(1, 0.9), (2, 0.8), (3, 0.7)]), Ranked("text", [(4, 0.1), (5, 0.05)])]
    assert [i for i, _, _ in Recommender._merge(weak, 3)] == [1, 2, 3]
    # Ties: sources in order, each source's own ranking kept.
    tied = [Ranked("item2vec", [(1, 0.5), (2, 0.5)]), Ranked("text", [(3, 0.5)])]
    assert [i for i, _, _ in Recommender._merge(tied, 3)] == [1, 2, 3]
    assert Recommender._merge([], 3) == []


def test_cold_start_hits_come_in_score_order(client: TestClient, jobs: Callable[[], int]) -> None:
    log, group_of = planted_log(n_users=60, n_groups=2, items_per_group=8, sessions_per_user=3, seed=4)
    seen: dict[int, int] = {}
    docs = []
    for item in sorted(group_of):
        g = group_of[item]
        docs.append({"external_id": f"i{item}", "text": TITLES[g][seen.setdefault(g, 0)]})
        seen[g] += 1
    docs += [{"external_id": "new-banjo", "text": "acoustic banjo"}, {"external_id": "new-tent", "text": "tunnel tent"}]
    assert client.post("/collections", json={"name": "shop", "kind": "items"}).status_code == 201
    assert client.post("/collections/shop/documents", json={"documents": docs}).status_code == 200
    post_log(client, log)
    assert client.post("/collections/shop/spaces", json={"name": "titles", "embedder": {"type": "bert"}}).status_code == 202
    spec = {**SPEC, "cold_start_space": "titles"}
    assert client.post("/collections/shop/spaces", json={"name": "i2v", "embedder": spec}).status_code == 202
    assert jobs() == 2
    music = [f"i{i}" for i, g in sorted(group_of.items()) if g == 0]
    for n, body in enumerate(({"positive": music[:3], "k": 10}, {"positive": music[:2] + ["new-banjo"], "k": 10})):
        r = client.post("/collections/shop/recommend", json={**body, "space": "i2v"})
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        scores = [h["score"] for h in hits]
        assert len(hits) == 10 and scores == sorted(scores, reverse=True), hits
        sources = [h["source"] for h in hits]
        assert "item2vec" in sources
        if n == 0:  # warm examples: text only finds the items without interactions
            assert {h["external_id"] for h in hits if h["source"] == "text"} <= {"new-banjo", "new-tent"}
