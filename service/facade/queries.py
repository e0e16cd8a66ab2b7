"""Use cases that read a space: search, more like this, compare, hybrid, words and tokens."""

from __future__ import annotations

from typing import Any

from ..schemas import (
    AnalogyRequest,
    AnalyzeRequest,
    AnalyzeResponse,
    AnalogyResponse,
    CompareRequest,
    CompareResponse,
    HybridRequest,
    HybridResponse,
    SearchRequest,
    SearchResponse,
    SimilarRequest,
    TokensRequest,
    TokensResponse,
    WordNeighbors,
)
from ..query.batch_search import SearchJob
from ..query.combined_similar import combined_similar
from ..similar_schemas import CombinedSimilarRequest, CombinedSimilarResponse
from ..query.query_path import Query
from .core import Core


class Queries:
    """Every query over a collection's spaces, in the public request/response schemas."""

    def __init__(self, core: Core) -> None:
        self._searcher = core.searcher

    def search(self, *, collection: str, body: SearchRequest) -> SearchResponse:
        """Nearest documents to a text query (or a given vector), filter applied inside the index; ``offset``
        pages through the ranking (the index is asked for ``k + offset``)."""
        space, hits = self._searcher.search(*_search_args(collection, body))
        return SearchResponse(space=space, hits=hits)

    async def search_queued(self, *, collection: str, body: SearchRequest) -> SearchResponse:
        """:meth:`search` for a server: queued with the searches arriving at the same time and answered in
        one batch by the search workers (the event loop waits; no thread-pool hop per request)."""
        job = SearchJob(*_search_args(collection, body))
        done = await self._searcher.search_queued(job)
        return SearchResponse(space=done.space_name, hits=done.hits)

    def similar(self, *, collection: str, external_id: str, body: SimilarRequest) -> SearchResponse:
        """More like this: neighbours of a stored document, itself excluded."""
        space, hits = self._searcher.similar(
            collection, external_id, body.k, body.filter, body.space, body.snippet_chars, body.offset
        )
        return SearchResponse(space=space, hits=hits)

    def similar_combined(
        self, *, collection: str, external_id: str, body: CombinedSimilarRequest
    ) -> CombinedSimilarResponse:
        """More like this by the combined similarity of several vector spaces (equal weights unless given)."""
        spaces, weights, source, hits = combined_similar(
            self._searcher.path, collection, external_id, body.k, body.spaces, body.weights, body.candidates,
            body.filter, body.snippet_chars, body.offset,
        )
        return CombinedSimilarResponse(spaces=spaces, weights=weights, weights_from=source, hits=hits)

    def compare(self, *, collection: str, body: CompareRequest) -> CompareResponse:
        """The same query in several spaces side by side, with each pair's top-k overlap."""
        results, overlap = self._searcher.compare(
            collection, Query.of(body.query, body.vector), body.k, body.filter, body.spaces, body.snippet_chars
        )
        return CompareResponse(results=results, overlap=overlap)

    def hybrid(self, *, collection: str, body: HybridRequest) -> HybridResponse:
        """One ranking fused from several spaces' (RRF or weighted normalised scores)."""
        spaces, hits = self._searcher.hybrid(
            collection,
            Query.of(body.query, body.vector),
            body.k,
            body.filter,
            body.spaces,
            body.fusion,
            body.weights,
            body.rrf_k,
            body.candidates,
            body.snippet_chars,
            body.offset,
        )
        return HybridResponse(fusion=body.fusion, spaces=spaces, hits=hits)

    def word_neighbors(self, *, collection: str, space: str, word: str, k: int = 10) -> WordNeighbors:
        space_name, neighbors = self._searcher.word_neighbors(collection, space, word, k)
        return WordNeighbors(space=space_name, word=word, neighbors=neighbors)

    def analogy(self, *, collection: str, space: str, body: AnalogyRequest) -> AnalogyResponse:
        space_name, results = self._searcher.analogy(collection, space, body.positive, body.negative, body.k)
        return AnalogyResponse(space=space_name, results=results)

    def analyze(self, *, collection: str, space: str, body: AnalyzeRequest) -> AnalyzeResponse:
        """How a text space cuts this text into the tokens it trains and queries on."""
        space_name, tokens = self._searcher.analyze(collection, space, body.text)
        return AnalyzeResponse(space=space_name, tokens=tokens)

    def tokens(self, *, collection: str, space: str, body: TokensRequest) -> TokensResponse:
        """Contextual vectors (and nearest words) of each token of a sentence in a bilstm space."""
        space_name, tokens = self._searcher.contextual_tokens(collection, space, body.text, body.neighbors, body.vectors)
        return TokensResponse(space=space_name, tokens=tokens)


def _search_args(collection: str, body: SearchRequest) -> tuple[Any, ...]:
    """A search request as the searcher's positional arguments (and a queued :class:`SearchJob`'s fields):
    collection, query, k, filter, space, snippet length, index params, offset."""
    return (
        collection, Query.of(body.query, body.vector), body.k, body.filter, body.space, body.snippet_chars,
        body.params, body.offset,
    )
