""""More like this" in a keyword (bm25) space: a symmetric, self-normalised BM25 similarity.

Running a document's own text as a BM25 query (what ``/similar`` did before) is asymmetric
and unnormalised: the scores of a long query grow with its length, and a long candidate holding
many of the query's terms outranks a short one that is about the same thing. Here each stored
document is scored by :meth:`embedders.bm25.KeywordIndex.similarities`,

    sim(a, b) = ( bm25(a->b) / bm25(a->a) + bm25(b->a) / bm25(b->b) ) / 2,

each direction divided by its query document's self-score, the two directions averaged; it is 1
for the document itself. The ranking is exact over the whole index - no candidate pool to miss
a neighbour: the backward direction only needs the postings of the document's own terms, so the
whole ranking costs about one BM25 search. The filter and the exclusion of the document itself
are applied as in a search.
"""

from __future__ import annotations

import numpy as np

from ..runtime.spaces import SpaceRuntime


def keyword_similar(
    runtime: SpaceRuntime, doc_id: int, k: int, allowed: np.ndarray | None
) -> list[tuple[int, float]]:
    """The ``k`` (doc id, symmetric similarity) nearest to stored document ``doc_id``, itself excluded.

    Raises:
        EmptyText: the document has no word in the space (so nothing to compare it by).
    """
    if allowed is not None:
        allowed = allowed[allowed != doc_id]
        if len(allowed) == 0:
            return []
    return runtime.index.similar_to(doc_id, k, allowed_ids=allowed, exclude=doc_id)  # type: ignore[union-attr]
