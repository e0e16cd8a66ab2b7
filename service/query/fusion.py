"""Comparing and fusing the rankings of several spaces (pure functions, no SQL).

Rankings are lists of ``(doc_id, score)``, best first, one per space. Fusion
returns ``(doc_id, fused_score, {space: (rank, score)})`` best first.

* RRF (Cormack, Clarke & Buettcher 2009): ``sum_s w_s / (rrf_k + rank_s)`` with
  1-based ranks; it ignores score scales, which is why it is the default for
  mixing BM25 with cosine similarities.
* weighted: each space's scores min-max normalised to [0, 1] over its own list
  (all equal -> 1), then ``sum_s w_s * norm_s``; a document a space did not
  return counts 0 there.

Ties are broken by the best rank among the spaces with a positive weight, then
by id, so a space of weight 0 never reorders the others.

Combining *similarities* (two documents, several spaces) is :func:`clipped_mean`: the
weighted mean of each space's cosine clipped at 0 (why: service.evaluation.combine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

Ranking = Sequence[tuple[int, float]]
Fused = list[tuple[int, float, dict[str, tuple[int, float]]]]


def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    """|A & B| / |A | B| of two id lists (as sets); 1.0 when both are empty."""
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 1.0


def overlaps(ids: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """``"a|b"`` -> Jaccard of their id lists, for each pair of spaces in the given order."""
    return {f"{a}|{b}": jaccard(ids[a], ids[b]) for a, b in combinations(ids, 2)}


def _normalised(ranking: Ranking) -> list[float]:
    if not ranking:
        return []
    scores = [s for _, s in ranking]
    lo, hi = min(scores), max(scores)
    return [1.0 if hi == lo else (s - lo) / (hi - lo) for s in scores]


def fuse(
    rankings: Mapping[str, Ranking],
    method: str,
    weights: Mapping[str, float] | None = None,
    rrf_k: float = 60.0,
) -> Fused:
    """Fuse per-space rankings (see the module docstring); every candidate is returned, best first."""
    weights = weights or {}
    fused: dict[int, float] = {}
    seen: dict[int, dict[str, tuple[int, float]]] = {}
    for space, ranking in rankings.items():
        w = float(weights.get(space, 1.0))
        contributions = (
            [w / (rrf_k + rank) for rank in range(1, len(ranking) + 1)]
            if method == "rrf"
            else [w * n for n in _normalised(ranking)]
        )
        for rank, ((doc_id, score), part) in enumerate(zip(ranking, contributions), start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + part
            seen.setdefault(doc_id, {})[space] = (rank, score)
    inf = float("inf")

    def key(doc_id: int) -> tuple[float, float, int]:
        ranks = [r for s, (r, _) in seen[doc_id].items() if float(weights.get(s, 1.0)) > 0]
        return (-fused[doc_id], min(ranks, default=inf), doc_id)

    return [(d, fused[d], seen[d]) for d in sorted(fused, key=key)]


def clipped_mean(cosines: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """Weighted mean of ``max(cosine, 0)`` over the spaces with a cosine and a positive weight (None: none)."""
    total = mass = 0.0
    for space, value in cosines.items():
        w = weights.get(space, 0.0)
        if value is not None and w > 0:
            total += w * max(value, 0.0)
            mass += w
    return total / mass if mass > 0 else None
