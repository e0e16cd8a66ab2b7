"""Session splitting never loses an item: a session too short to train on joins its nearest neighbour.

The issue (MovieLens): 544 items that appeared in training got no vector, because
they were alone in a 30-minute session and such sessions were dropped.
"""

from __future__ import annotations

from embedders.item2vec import Interaction, Item2VecEmbedder, Item2VecSpec, build_sequences

HOUR = 3600.0


def ev(user: str, item: int, ts: float) -> Interaction:
    return Interaction(user=user, item=item, ts=ts)


def test_a_lone_item_joins_the_nearer_session() -> None:
    # u: [1, 2] ... 1 h ... [3] ... 5 h ... [4, 5]: item 3 is nearer the first session.
    events = [ev("u", 1, 0), ev("u", 2, 60), ev("u", 3, 60 + HOUR), ev("u", 4, 60 + 6 * HOUR), ev("u", 5, 120 + 6 * HOUR)]
    assert build_sequences(events, 1800.0) == [[1, 2, 3], [4, 5]]
    # ... and the later one when that is nearer.
    events[2] = ev("u", 3, 60 + 5.5 * HOUR)
    assert build_sequences(events, 1800.0) == [[1, 2], [3, 4, 5]]


def test_lone_first_and_last_items_are_kept() -> None:
    events = [ev("u", 7, 0), ev("u", 1, 5 * HOUR), ev("u", 2, 5 * HOUR + 60), ev("u", 8, 20 * HOUR)]
    # [7] has only a later neighbour, [8] only an earlier one.
    assert build_sequences(events, 1800.0) == [[7, 1, 2, 8]]


def test_every_session_of_single_clicks_still_trains() -> None:
    # A user who never clicks twice within the gap: each session alone is too short; together they train.
    events = [ev("v", i, i * 10 * HOUR) for i in range(1, 6)]
    assert build_sequences(events, 1800.0) == [[1, 2, 3, 4, 5]]
    # A user with one distinct item has no context at all: no sequence (no item of theirs is lost to splitting).
    assert build_sequences([ev("w", 9, 0), ev("w", 9, 10 * HOUR)], 1800.0) == []


def test_every_item_in_a_trained_log_gets_a_vector() -> None:
    events = []
    for u in range(6):
        t = u * 100 * HOUR
        events += [ev(f"u{u}", 1, t), ev(f"u{u}", 2, t + 60), ev(f"u{u}", 3, t + 120)]
        events.append(ev(f"u{u}", 100 + u, t + 3 * HOUR))  # alone in its own 30-minute session
    spec = Item2VecSpec(dim=8, epochs=2, workers=1, session_gap_minutes=30)
    ids, _ = Item2VecEmbedder(spec).fit_log(events).item_vectors()
    assert set(ids.tolist()) == {1, 2, 3} | {100 + u for u in range(6)}
