"""lsa: words that share documents share axes, so a query finds a document it shares no word with.

Two topics, two axes: the truncated SVD keeps what separates the topics and drops what varies inside one.
"""

from __future__ import annotations

import numpy as np

from embedders.base import ListCorpus
from embedders.lsa import LSAEmbedder, LSASpec

FIRE = ["fire smoke blaze firefighters", "blaze smoke bushfire", "fire firefighters bushfire smoke", "bushfire blaze fire"]
VOTE = ["election vote party ballot", "party vote campaign", "ballot election campaign", "vote party election"]


def _model(**spec: object) -> LSAEmbedder:
    docs = [*FIRE, *VOTE] * 3
    return LSAEmbedder(LSASpec(dim=2, min_count=1, max_df=1.0, **spec)).fit(ListCorpus(enumerate(docs, 1)))


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_a_query_meets_documents_through_shared_contexts() -> None:
    model = _model()
    unseen = model.embed_documents(["firefighters smoke"])[0]  # no "blaze" in it
    other = model.embed_documents(["campaign ballot"])[0]
    query = model.embed_query("blaze")
    assert _cos(query, unseen) > 0.8 and _cos(query, other) < 0.2


def test_the_same_seed_gives_the_same_vectors_and_documents_without_known_words_are_zero() -> None:
    a, b = _model(seed=3), _model(seed=3)
    texts = ["fire and smoke", "vote for the party", "nothing known here"]
    np.testing.assert_allclose(a.embed_documents(texts), b.embed_documents(texts), atol=1e-6)
    assert not a.embed_documents(texts)[2].any()
