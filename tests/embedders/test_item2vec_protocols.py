"""Per-user leave-last-out, the adjacent-pairs baseline, and context scoring, by hand.

These are what ``bench/bench_item2vec_real.py`` and ``vecdex item2vec evaluate
--protocol last`` measure with, so their figures rest on them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from embedders.errors import InvalidParameter
from embedders.item2vec import (
    AdjacentCooccurrenceRecommender,
    Interaction,
    Item2VecEmbedder,
    Item2VecSpec,
    VectorRecommender,
    leave_last_out,
)
from embedders.storage import MANIFEST_NAME


def ev(user: str, item: int, ts: float, weight: float = 1.0) -> Interaction:
    return Interaction(user=user, item=item, ts=ts, weight=weight)


def test_leave_last_out_holds_out_each_users_latest_event() -> None:
    log = [ev("a", 1, 10), ev("a", 2, 30), ev("a", 3, 20), ev("b", 4, 5), ev("c", 5, 1), ev("c", 6, 2, weight=-1)]
    split = leave_last_out(log)
    # a's latest is item 2 (ts 30), not the last line; b has one event (no case); c's latest is a dislike.
    assert [(c.user, c.target, [e.item for e in c.history]) for c in split.cases] == [("a", 2, [1, 3])]
    assert sorted(e.item for e in split.train) == [1, 3, 4, 5, 6], "everything but the held-out events"
    assert math.isnan(split.cutoff)


def test_adjacent_pairs_count_neighbours_in_time_order_and_fill_by_popularity() -> None:
    # u1: 1 2 3, u2: 2 3 4, u3: 5 1 (5 is popular: also u4, u5).
    log = [ev("u1", 1, 0), ev("u1", 2, 1), ev("u1", 3, 2), ev("u2", 2, 0), ev("u2", 3, 1), ev("u2", 4, 2),
           ev("u3", 5, 0), ev("u3", 1, 1), ev("u4", 5, 0), ev("u5", 5, 0)]
    rec = AdjacentCooccurrenceRecommender(log, last=1)
    # 3 sits next to 2 twice, 1 once: [3, 1]; then popularity (5 most taken).
    assert rec([ev("x", 2, 0)], 3) == [3, 1, 5]
    # Seen items never come back; only the last `last` history items count.
    assert rec([ev("x", 4, 0), ev("x", 1, 1)], 2) == [2, 5]
    two = AdjacentCooccurrenceRecommender(log, last=2)
    # 3 (next to 4), 2 and 5 (next to 1) tie at 1: lower ids first.
    assert two([ev("x", 4, 0), ev("x", 1, 1)], 2) == [2, 3]


def test_context_scoring_ranks_by_dot_with_the_context_vectors() -> None:
    ids = np.array([10, 11, 12], dtype=np.int64)
    vectors = np.array([[1, 0], [1, 0.1], [0, 1]], dtype=np.float32)
    context = np.array([[1, 0], [0.5, 0], [3, 3]], dtype=np.float32)
    assert VectorRecommender(ids, vectors)([ev("u", 10, 0)], 2) == [11, 12], "cosine: the look-alike first"
    # Context: the query (10's unit input vector, [1, 0]) dot each context vector: 11 -> 0.5, 12 -> 3.
    assert VectorRecommender(ids, vectors, context=context)([ev("u", 10, 0)], 2) == [12, 11]
    with pytest.raises(InvalidParameter):
        VectorRecommender(ids, vectors, context=context[:2])


@pytest.fixture(scope="module")
def trained() -> Item2VecEmbedder:
    log = [ev(f"u{u}", (u + j) % 12, j) for u in range(30) for j in range(6)]
    return Item2VecEmbedder(Item2VecSpec(dim=8, epochs=5, workers=1)).fit_log(log)


def test_from_embedder_scores_as_the_spec_says(trained: Item2VecEmbedder) -> None:
    ids, vectors = trained.item_vectors()
    _, context = trained.context_vectors()
    history = [ev("x", int(ids[0]), 0)]
    unit = vectors[0] / np.linalg.norm(vectors[0])
    scores = context @ unit
    scores[0] = -np.inf
    expected = [int(ids[i]) for i in np.argsort(-scores, kind="stable")[:3]]
    assert VectorRecommender.from_embedder(trained)(history, 3) == expected


def test_a_model_saved_without_context_vectors_loads_as_cosine(trained: Item2VecEmbedder, tmp_path: Path) -> None:
    trained.save(tmp_path / "m")
    manifest_path = tmp_path / "m" / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    (tmp_path / "m" / manifest["files"].pop("context_vectors")).unlink()
    del manifest["spec"]["scoring"]  # written before the field existed
    manifest_path.write_text(json.dumps(manifest))
    old = Item2VecEmbedder.load(tmp_path / "m")
    assert old.spec.scoring == "cosine" and old.metric == "cosine"
    ids, vectors = trained.item_vectors()
    mask, got = old.trained_vectors(ids)
    assert mask.all() and np.array_equal(got, vectors), "its index was built from the input vectors"
