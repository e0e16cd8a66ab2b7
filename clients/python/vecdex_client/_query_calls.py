"""The calls that read a collection through its spaces: search, hybrid, compare, similar, vectors,
and the item2vec recommendations (with the interactions they learn from).

Shared by both clients like :mod:`._calls`. A query is ``query`` (text, embedded by the space) or
``vector`` (your own, for a ``vectors`` space or a query embedded elsewhere), not both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import _models as m
from ._calls import Call, Filter, _body, _c, _one, _seg


def search(
    collection: str,
    query: str | None = None,
    *,
    vector: Sequence[float] | None = None,
    k: int | None = None,
    offset: int | None = None,
    filter: Filter | None = None,
    space: str | None = None,
    snippet_chars: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> Call[m.SearchResponse]:
    """The ``k`` best documents in one space (the collection's default when ``space`` is None), after
    skipping ``offset``; ``snippet_chars=0`` returns whole texts; ``params`` tunes the index
    (``{"ef_search": 128}``, ``{"nprobe": 16}``)."""
    body = _body(query=query, vector=list(vector) if vector is not None else None, k=k, offset=offset,
                 filter=dict(filter) if filter else None, space=space, snippet_chars=snippet_chars,
                 params=dict(params) if params else None)
    return Call("POST", f"{_c(collection)}/search", _one(m.SearchResponse), body)


def hybrid(
    collection: str,
    query: str | None = None,
    *,
    vector: Sequence[float] | None = None,
    spaces: Sequence[str] | None = None,
    fusion: str | None = None,
    weights: Mapping[str, float] | None = None,
    rrf_k: float | None = None,
    k: int | None = None,
    offset: int | None = None,
    candidates: int | None = None,
    filter: Filter | None = None,
    snippet_chars: int | None = None,
) -> Call[m.HybridResponse]:
    """One ranking fused from several spaces (``fusion``: ``rrf`` or ``weighted``), each hit with its
    rank and score per space."""
    body = _body(query=query, vector=list(vector) if vector is not None else None,
                 spaces=list(spaces) if spaces else None, fusion=fusion, weights=dict(weights) if weights else None,
                 rrf_k=rrf_k, k=k, offset=offset, candidates=candidates, filter=dict(filter) if filter else None,
                 snippet_chars=snippet_chars)
    return Call("POST", f"{_c(collection)}/hybrid", _one(m.HybridResponse), body)


def compare(
    collection: str,
    query: str | None = None,
    *,
    vector: Sequence[float] | None = None,
    spaces: Sequence[str] | None = None,
    k: int | None = None,
    filter: Filter | None = None,
    snippet_chars: int | None = None,
) -> Call[m.CompareResponse]:
    """The same query in several spaces side by side, with their pairwise top-k overlap."""
    body = _body(query=query, vector=list(vector) if vector is not None else None,
                 spaces=list(spaces) if spaces else None, k=k, filter=dict(filter) if filter else None,
                 snippet_chars=snippet_chars)
    return Call("POST", f"{_c(collection)}/compare", _one(m.CompareResponse), body)


def similar(
    collection: str,
    external_id: str,
    *,
    k: int | None = None,
    offset: int | None = None,
    filter: Filter | None = None,
    space: str | None = None,
    snippet_chars: int | None = None,
) -> Call[m.SearchResponse]:
    """The documents nearest to a stored one (itself excluded)."""
    body = _body(k=k, offset=offset, filter=dict(filter) if filter else None, space=space, snippet_chars=snippet_chars)
    return Call("POST", f"{_c(collection)}/documents/{_seg(external_id)}/similar", _one(m.SearchResponse), body)


def embed(collection: str, space: str, texts: Sequence[str], *, kind: str | None = None) -> Call[m.EmbedResponse]:
    """The space's vectors for these texts, in order: ``kind`` ``query`` (default) or ``document``
    (what a stored document of that text gets)."""
    body = _body(texts=list(texts), kind=kind)
    return Call("POST", f"{_c(collection)}/spaces/{_seg(space)}/embed", _one(m.EmbedResponse), body)


def document_vector(collection: str, external_id: str, *, space: str | None = None) -> Call[m.DocumentVector]:
    """A stored document's vector in a space (the default one when None)."""
    path = f"{_c(collection)}/documents/{_seg(external_id)}/vectors"
    return Call("GET", path, _one(m.DocumentVector), params=_body(space=space))


def ingest_interactions(
    collection: str, interactions: Iterable[Mapping[str, Any]], *, unknown_items: str | None = None
) -> Call[m.InteractionsIngested]:
    """Events ``{"user", "item", "timestamp", "event"?, "weight"?}`` of an items collection;
    ``unknown_items``: ``reject`` (default: a 422 naming the first) or ``create``."""
    body = _body(interactions=[dict(i) for i in interactions], unknown_items=unknown_items)
    return Call("POST", f"{_c(collection)}/interactions", _one(m.InteractionsIngested), body)


def recommend(
    collection: str,
    positive: Sequence[str | Mapping[str, Any]],
    *,
    negative: Sequence[str] | None = None,
    k: int | None = None,
    strategy: str | None = None,
    filter: Filter | None = None,
    exclude: Sequence[str] | None = None,
    exclude_seen_by: str | None = None,
    space: str | None = None,
    snippet_chars: int | None = None,
) -> Call[m.RecommendResponse]:
    """Items like the ``positive`` examples (ids, or ``{"id", "weight"}``) and unlike the ``negative`` ones."""
    body = _body(positive=[p if isinstance(p, str) else dict(p) for p in positive],
                 negative=list(negative) if negative else None, k=k, strategy=strategy,
                 filter=dict(filter) if filter else None, exclude=list(exclude) if exclude else None,
                 exclude_seen_by=exclude_seen_by, space=space, snippet_chars=snippet_chars)
    return Call("POST", f"{_c(collection)}/recommend", _one(m.RecommendResponse), body)


def recommend_for_user(
    collection: str,
    user: str,
    *,
    k: int | None = None,
    history: int | None = None,
    half_life: float | None = None,
    strategy: str | None = None,
    filter: Filter | None = None,
    exclude_seen: bool | None = None,
    space: str | None = None,
    snippet_chars: int | None = None,
) -> Call[m.RecommendResponse]:
    """Items for a user from their recent history (the last ``history`` events, ``half_life`` decay)."""
    body = _body(k=k, history=history, half_life=half_life, strategy=strategy,
                 filter=dict(filter) if filter else None, exclude_seen=exclude_seen, space=space,
                 snippet_chars=snippet_chars)
    return Call("POST", f"{_c(collection)}/users/{_seg(user)}/recommend", _one(m.RecommendResponse), body)


def similar_items(collection: str, item: str, *, k: int | None = None, space: str | None = None) -> Call[m.RecommendResponse]:
    """The items nearest to one item in its item2vec space."""
    return Call("GET", f"{_c(collection)}/items/{_seg(item)}/similar", _one(m.RecommendResponse),
                params=_body(k=k, space=space))
