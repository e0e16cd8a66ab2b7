"""User interactions -> the item sequences item2vec trains on.

Pure functions over in-memory records, shared by the service (which reads the
``interactions`` table) and by evaluation and tuning (which split the same
records by time). Item ids are the SQL ids of the item documents.

A user's interactions, ordered by time, are split into *sessions* wherever the
user was inactive for longer than ``gap_seconds``: a session is the unit of
context (Barkan & Koenigstein 2016 train on sets of items that belong
together; consecutive clicks hours apart usually don't). Interactions with a
weight <= 0 (e.g. "dislike", "return") are not positive evidence and are left
out of training sequences.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby


@dataclass(frozen=True, slots=True)
class Interaction:
    """One event: ``user`` touched ``item`` at ``ts`` (epoch seconds, UTC)."""

    user: str
    item: int
    ts: float
    weight: float = 1.0
    event: str | None = None


def by_user(interactions: Iterable[Interaction]) -> dict[str, list[Interaction]]:
    """Each user's interactions in time order (ties keep input order)."""
    ordered = sorted(interactions, key=lambda i: (i.user, i.ts))
    return {user: list(group) for user, group in groupby(ordered, key=lambda i: i.user)}


def split_sessions(history: Sequence[Interaction], gap_seconds: float | None) -> list[list[Interaction]]:
    """A time-ordered history cut wherever consecutive events are more than ``gap_seconds`` apart.

    ``gap_seconds=None`` keeps the whole history as one session.
    """
    if not history:
        return []
    if gap_seconds is None:
        return [list(history)]
    sessions: list[list[Interaction]] = [[history[0]]]
    for previous, current in zip(history, history[1:]):
        if current.ts - previous.ts > gap_seconds:
            sessions.append([])
        sessions[-1].append(current)
    return sessions


def _collapse(session: Sequence[Interaction]) -> list[int]:
    """A session's item ids, repeated consecutive clicks on one item collapsed to one."""
    items: list[int] = []
    for event in session:
        if not items or items[-1] != event.item:
            items.append(event.item)
    return items


def _merge_short(sessions: list[list[Interaction]], min_length: int) -> list[list[Interaction]]:
    """Sessions shorter than ``min_length`` joined to the neighbouring session nearer in time.

    A lone click between two long gaps still belongs to the user's taste; dropping it
    (as this module once did) left items with no vector at all, and a later request
    naming such an item failed. Merging repeats until every session is long enough or
    only one is left.
    """
    merged = [list(s) for s in sessions]
    while len(merged) > 1:
        short = next((n for n, s in enumerate(merged) if len(_collapse(s)) < min_length), None)
        if short is None:
            break
        if short == 0:
            target = 1
        elif short == len(merged) - 1:
            target = short - 1
        else:
            before = merged[short][0].ts - merged[short - 1][-1].ts
            after = merged[short + 1][0].ts - merged[short][-1].ts
            target = short - 1 if before <= after else short + 1
        lo, hi = sorted((short, target))
        merged[lo:hi + 1] = [merged[lo] + merged[hi]]
    return merged


def build_sequences(
    interactions: Iterable[Interaction], gap_seconds: float | None, *, min_length: int = 2
) -> list[list[int]]:
    """Training sequences of item ids: per user, per session, positive-weight events only.

    A session with fewer than ``min_length`` items joins the user's neighbouring
    session nearer in time, so no item is lost to session splitting; only a user
    whose whole (positive) history is shorter than ``min_length`` gives no sequence
    (a lone item has no context to learn from). Repeated consecutive clicks on one
    item collapse to one.
    """
    out: list[list[int]] = []
    for history in by_user(i for i in interactions if i.weight > 0).values():
        for session in _merge_short(split_sessions(history, gap_seconds), min_length):
            items = _collapse(session)
            if len(items) >= min_length:
                out.append(items)
    return out


class SequenceList:
    """A re-iterable, sized list of sequences (what :meth:`fit_interactions` expects)."""

    def __init__(self, sequences: list[list[int]]) -> None:
        self._sequences = sequences

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._sequences)

    def __len__(self) -> int:
        return len(self._sequences)
