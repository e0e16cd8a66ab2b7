"""Recommendations through the API on an items collection with a planted interaction log.

Items fall in four groups (music, camping, kitchen, garden); users move inside
groups. An item2vec space trained on the log must recommend within the group,
negatives must push their group down, filters apply, seen items are left out,
and an item nobody interacted with is served through a BERT text space.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from embedders.item2vec.synthetic import planted_log
from tests.service.conftest import post_log

GROUPS = {
    "music": ["electric guitar", "grand piano", "violin", "drum kit", "trumpet", "flute", "cello", "saxophone",
              "harp", "clarinet", "banjo", "ukulele"],
    "camping": ["dome tent", "sleeping bag", "hiking backpack", "camping lantern", "compass", "water canteen",
                "hammock", "camping stove", "sleeping pad", "trekking poles", "headlamp", "water filter"],
    "kitchen": ["frying pan", "saucepan", "chef knife", "cutting board", "blender", "toaster", "kettle", "whisk",
                "colander", "spatula", "soup ladle", "oven mitt"],
    "garden": ["shovel", "rake", "garden hoe", "watering can", "pruning shears", "wheelbarrow", "garden hose",
               "flower seeds", "lawn mower", "trowel", "planter pot", "fertilizer"],
}
NAMES = list(GROUPS)
ITEM2VEC = {"type": "item2vec", "dim": 32, "epochs": 30, "workers": 1, "seed": 3}


@pytest.fixture
def shop(client: TestClient, jobs: Callable[[], int]) -> dict[str, str]:
    """The collection 'shop' with 48 items, ~2,400 interactions and a ready item2vec space 'i2v'.

    Returns each item's group by external id.
    """
    log, group_of = planted_log(n_users=120, n_groups=4, items_per_group=12, sessions_per_user=4, seed=5)
    items, group_by_ext = [], {}
    position: dict[int, int] = {}
    for item_id in sorted(group_of):
        g = group_of[item_id]
        title = GROUPS[NAMES[g]][position.setdefault(g, 0)]
        position[g] += 1
        ext = f"i{item_id}"
        group_by_ext[ext] = NAMES[g]
        items.append({"external_id": ext, "text": title, "metadata": {"group": NAMES[g], "in_stock": item_id % 2 == 0}})
    assert client.post("/collections", json={"name": "shop", "kind": "items"}).status_code == 201
    assert client.post("/collections/shop/documents", json={"documents": items}).status_code == 200
    post_log(client, log)
    r = client.post("/collections/shop/spaces", json={"name": "i2v", "embedder": ITEM2VEC})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    job = client.get(f"/jobs/{r.json()['job']['id']}").json()
    assert job["status"] == "succeeded", job
    return group_by_ext


def _recommend(client: TestClient, **body: object) -> dict:
    r = client.post("/collections/shop/recommend", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _in_group(groups: dict[str, str], hits: list[dict], group: str) -> int:
    return sum(groups[h["external_id"]] == group for h in hits)


def test_similar_items_are_in_the_same_group(client: TestClient, shop: dict[str, str]) -> None:
    good = 0
    for ext, group in list(shop.items())[::6]:
        r = client.get(f"/collections/shop/items/{ext}/similar", params={"k": 5})
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert ext not in {h["external_id"] for h in hits} and len(hits) == 5
        assert all(h["source"] == "item2vec" for h in hits)
        good += _in_group(shop, hits, group)
    assert good >= 0.8 * 5 * len(list(shop)[::6]), good


@pytest.mark.parametrize("strategy", ["average", "best_score"])
def test_positives_negatives_filter_and_exclusions(client: TestClient, shop: dict[str, str], strategy: str) -> None:
    music = [e for e, g in shop.items() if g == "music"]
    camping = [e for e, g in shop.items() if g == "camping"]
    mixed = _recommend(client, positive=music[:2] + camping[:2], k=12, strategy=strategy)["hits"]
    assert not {h["external_id"] for h in mixed} & set(music[:2] + camping[:2])
    with_camping = _in_group(shop, mixed, "camping")
    assert with_camping >= 3, mixed
    pushed = _recommend(client, positive=music[:2] + camping[:2], negative=camping[2:4], k=12, strategy=strategy)["hits"]
    assert not {h["external_id"] for h in pushed} & set(camping[2:4])
    assert _in_group(shop, pushed, "camping") < with_camping, (with_camping, pushed)
    assert _in_group(shop, pushed, "music") >= 6

    # Filter inside FAISS, explicit exclusions, weights.
    stocked = _recommend(
        client, positive=[{"id": music[0], "weight": 2.0}, music[1]], filter={"in_stock": True}, k=5,
        exclude=[music[2]], strategy=strategy,
    )["hits"]
    assert len(stocked) == 5 and all(h["metadata"]["in_stock"] is True for h in stocked)
    assert music[2] not in {h["external_id"] for h in stocked}


def test_recommend_for_user_uses_recent_history_and_skips_seen(client: TestClient, shop: dict[str, str]) -> None:
    from collections import Counter

    hist = client.get("/collections/shop/users/u7/history", params={"limit": 4}).json()
    _, count = Counter(shop[h["item"]] for h in hist).most_common(1)[0]
    assert count >= 3, "planted sessions stay in their group (p_stay 0.9)"
    # The next item stays in the latest item's group (p_stay 0.9), and the latest item weighs most
    # (half-life 1 event): that group leads the list.
    latest = max(hist, key=lambda h: h["timestamp"])
    recent_group = shop[latest["item"]]
    r = client.post("/collections/shop/users/u7/recommend", json={"k": 5})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    seen = {h["item"] for h in client.get("/collections/shop/users/u7/history", params={"limit": 1000}).json()}
    assert len(hits) == 5 and not {h["external_id"] for h in hits} & seen
    assert _in_group(shop, hits, recent_group) >= 3, (recent_group, hits)
    r = client.post("/collections/shop/users/nobody/recommend", json={"k": 5})
    assert r.status_code == 404 and r.json()["error"]["code"] == "user_not_found"


def test_cold_item_is_recommended_through_the_text_space(
    client: TestClient, jobs: Callable[[], int], shop: dict[str, str]
) -> None:
    new = {"external_id": "new-guitar", "text": "acoustic guitar", "metadata": {"group": "music", "in_stock": True}}
    assert client.post("/collections/shop/documents", json={"documents": [new]}).status_code == 200
    # Without a text space the cold item cannot be an example.
    r = client.post("/collections/shop/recommend", json={"positive": ["new-guitar"], "k": 5})
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_interactions"
    assert r.json()["error"]["field"] == "positive[0]"

    assert client.post("/collections/shop/spaces", json={"name": "titles", "embedder": {"type": "bert"}}).status_code == 202
    spec = {**ITEM2VEC, "cold_start_space": "titles"}
    assert client.post("/collections/shop/spaces", json={"name": "i2v-cold", "embedder": spec}).status_code == 202
    assert jobs() == 2
    out = _recommend(client, positive=["new-guitar"], k=5, space="i2v-cold")
    assert out["cold_start_space"] == "titles" and out["cold_examples"] == ["new-guitar"]
    assert all(h["source"] == "text" for h in out["hits"])
    assert _in_group(shop, out["hits"], "music") >= 4, out["hits"]
    # Warm music examples: the cold guitar (no interactions) shows up, marked as coming from text.
    music = [e for e, g in shop.items() if g == "music"]
    warm = _recommend(client, positive=music[:3], k=10, space="i2v-cold")["hits"]
    sources = {h["external_id"]: h["source"] for h in warm}
    assert sources.get("new-guitar") == "text", warm
    assert "item2vec" in sources.values()


def test_recommendation_errors(client: TestClient, jobs: Callable[[], int], shop: dict[str, str]) -> None:
    item = next(iter(shop))
    cases = [
        ({"positive": ["nope"]}, 404, "item_not_found", "positive[0]"),
        ({"positive": [item], "negative": ["nope"]}, 404, "item_not_found", "negative[0]"),
        ({"positive": []}, 422, None, "positive"),
        ({"positive": [item], "k": 0}, 422, "invalid_k", "k"),
        ({"positive": [{"id": item, "weight": -1}]}, 422, None, None),
        ({"positive": [item], "filter": {"colour": "red"}}, 422, "unknown_filter_field", "filter.colour"),
    ]
    for body, status, code, field in cases:
        r = client.post("/collections/shop/recommend", json=body)
        assert r.status_code == status, (body, r.text)
        if code:
            assert r.json()["error"]["code"] == code, r.text
        if field:
            assert r.json()["error"]["field"] == field, r.text
    # Text search on an item2vec space, and recommendations on a text space, are refused clearly.
    r = client.post("/collections/shop/search", json={"query": "guitar", "space": "i2v"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_supported"
    assert client.post("/collections/shop/spaces", json={"name": "titles", "embedder": {"type": "bert"}}).status_code == 202
    jobs()
    r = client.post("/collections/shop/recommend", json={"positive": [item], "space": "titles"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_supported"


def test_item2vec_space_needs_an_items_collection_with_interactions(client: TestClient) -> None:
    client.post("/collections", json={"name": "docs"})
    client.post("/collections/docs/documents", json={"documents": [{"external_id": "a", "text": "some text"}]})
    r = client.post("/collections/docs/spaces", json={"name": "i2v", "embedder": ITEM2VEC})
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_an_items_collection"
    client.post("/collections", json={"name": "empty-shop", "kind": "items"})
    client.post("/collections/empty-shop/documents", json={"documents": [{"external_id": "x"}, {"external_id": "y"}]})
    r = client.post("/collections/empty-shop/spaces", json={"name": "i2v", "embedder": ITEM2VEC})
    assert r.status_code == 422 and r.json()["error"]["code"] == "corpus_too_small", r.text
    assert client.get("/collections/empty-shop/spaces").json() == []
