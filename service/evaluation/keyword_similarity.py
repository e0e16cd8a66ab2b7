"""Document similarity in a keyword (bm25) space, for the similarity evaluation.

A keyword space has no vectors to take a cosine of; it is scored with the symmetric,
self-normalised BM25 similarity that ``/similar`` ranks by
(:meth:`embedders.bm25.KeywordIndex.similarities`, :mod:`service.query.keyword_similar`), so the
figure measures what users of ``/similar`` on that space get. A document with no word in the
space (not in its index) leaves its pairs unscored (missing), as a zero vector does in a dense
space.

Its scores are not cosines (about 1 for a near copy, and not bounded by 1), so a keyword space
is not folded into the combined similarity (:mod:`.combine`), which averages clipped cosines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from embedders.errors import EmptyText


def keyword_pair_scores(
    index: object, pairs: Sequence[tuple[str, str, float]], doc_ids: Mapping[str, int]
) -> list[float | None]:
    """sim(a, b) per gold pair (None where a document is not in the index), one index row per first document."""
    rows: dict[str, dict[int, float | None]] = {}
    for a in dict.fromkeys(a for a, _, _ in pairs):
        others = [doc_ids[b] for x, b, _ in pairs if x == a]
        try:
            scores = index.similarities(doc_ids[a], others)  # type: ignore[attr-defined]
        except EmptyText:
            scores = [None] * len(others)
        rows[a] = dict(zip(others, scores))
    return [rows[a][doc_ids[b]] for a, b, _ in pairs]
