"""Planted interaction logs: known structure to test and tune item2vec against.

Items belong to latent groups (think genres). Each user prefers a few groups; each
session picks one of them and walks mostly inside it, sometimes jumping to any
item. Popularity inside a group is Zipf-like, so "recommend the most popular
items" is a real baseline that a model must beat by learning the groups, and
nearest neighbours of an item should be its group mates.
"""

from __future__ import annotations

import numpy as np

from embedders.item2vec.sequences import Interaction

FIRST_ITEM_ID = 101
"""Item ids start here, so that code confusing ids with row positions fails."""


def planted_log(
    n_users: int = 400,
    n_groups: int = 8,
    items_per_group: int = 25,
    sessions_per_user: int = 6,
    session_length: int = 5,
    p_stay: float = 0.9,
    seed: int = 0,
    start_ts: float = 1_700_000_000.0,
    *,
    zipf_exponent: float = 1.0,
    groups_per_user: float = 0.3,
    p_repeat: float = 0.1,
) -> tuple[list[Interaction], dict[int, int]]:
    """A time-ordered interaction log with planted item groups.

    Args:
        n_users: users ``"u0"``, ``"u1"``, ...
        n_groups: latent item groups.
        items_per_group: items per group; ids are consecutive from :data:`FIRST_ITEM_ID`.
        sessions_per_user: sessions per user.
        session_length: mean session length (each is drawn from about half to one
            and a half times this, at least 2).
        p_stay: probability that the next item of a session comes from the
            session's group (else any item, uniformly).
        seed: everything random derives from it.
        start_ts: epoch seconds of the earliest possible event.
        zipf_exponent: popularity inside a group is proportional to 1 / rank**exponent.
        groups_per_user: Dirichlet concentration of a user's group preference;
            small values make users stick to one or two groups.
        p_repeat: chance that a draw of an item the user already touched is kept
            (otherwise it is drawn again, up to 50 times): users mostly discover new
            items, as with films or books, so next-item evaluation that excludes seen
            items has something to find.

    Returns:
        The interactions sorted by time (sessions at least an hour apart, events within
        a session 5 s to 5 min apart; users start at different times over a week), and
        each item's group.
    """
    if n_users < 1 or n_groups < 1 or items_per_group < 2 or sessions_per_user < 1 or session_length < 2:
        raise ValueError("planted_log needs users, groups, >= 2 items per group, sessions, and sessions of >= 2")
    if not (0.0 <= p_stay <= 1.0 and 0.0 <= p_repeat <= 1.0):
        raise ValueError(f"p_stay and p_repeat must be probabilities, got {p_stay}, {p_repeat}")
    rng = np.random.default_rng(seed)
    n_items = n_groups * items_per_group
    item_ids = np.arange(FIRST_ITEM_ID, FIRST_ITEM_ID + n_items, dtype=np.int64)
    group_of_item = {int(item_ids[g * items_per_group + j]): g for g in range(n_groups) for j in range(items_per_group)}
    # Zipf popularity inside each group, over a random order of its items (so id order means nothing).
    ranks = np.arange(1, items_per_group + 1, dtype=np.float64)
    zipf = ranks**-zipf_exponent
    zipf /= zipf.sum()
    members = [rng.permutation(item_ids[g * items_per_group : (g + 1) * items_per_group]) for g in range(n_groups)]

    events: list[Interaction] = []
    week = 7 * 24 * 3600.0
    low, high = max(2, session_length // 2), session_length + session_length // 2
    for u in range(n_users):
        user = f"u{u}"
        preference = rng.dirichlet(np.full(n_groups, groups_per_user))
        ts = start_ts + float(rng.uniform(0.0, week))
        seen: set[int] = set()
        for s in range(sessions_per_user):
            if s:
                ts += 3600.0 + float(rng.exponential(86_400.0))  # more than an hour, a day on average
            group = int(rng.choice(n_groups, p=preference))
            length = int(rng.integers(low, high + 1))
            current = -1
            for position in range(length):
                if position:
                    ts += float(rng.uniform(5.0, 300.0))
                for _ in range(50):
                    if rng.random() < p_stay:
                        item = int(rng.choice(members[group], p=zipf))
                    else:
                        item = int(item_ids[rng.integers(n_items)])
                    if item != current and (item not in seen or rng.random() < p_repeat):
                        break
                if item == current:  # no immediate repeats: they carry no signal
                    continue
                current = item
                seen.add(item)
                events.append(Interaction(user=user, item=item, ts=ts))
    events.sort(key=lambda e: (e.ts, e.user))
    return events, group_of_item
