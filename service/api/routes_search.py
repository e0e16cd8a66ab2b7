"""Search, "more like this", word neighbours and analogies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..schemas import (
    AnalogyRequest,
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
from .deps import SearcherDep

router = APIRouter(tags=["search"])


@router.post("/collections/{name}/search", response_model=SearchResponse)
def search(name: str, body: SearchRequest, searcher: SearcherDep) -> SearchResponse:
    """Nearest documents to a text; ``filter`` restricts by metadata equality inside the index,
    ``params`` trades recall for speed on this request (efSearch / nprobe / exact)."""
    space, hits = searcher.search(name, body.query, body.k, body.filter, body.space, body.snippet_chars, body.params)
    return SearchResponse(space=space, hits=hits)


@router.post("/collections/{name}/compare", response_model=CompareResponse)
def compare(name: str, body: CompareRequest, searcher: SearcherDep) -> CompareResponse:
    """The same query in several spaces side by side, with the Jaccard overlap of each pair's top-k ids."""
    results, overlap = searcher.compare(name, body.query, body.k, body.filter, body.spaces, body.snippet_chars)
    return CompareResponse(results=results, overlap=overlap)


@router.post("/collections/{name}/hybrid", response_model=HybridResponse)
def hybrid(name: str, body: HybridRequest, searcher: SearcherDep) -> HybridResponse:
    """One ranking fused from several spaces (RRF or weighted normalised scores), e.g. bm25 + word2vec."""
    spaces, hits = searcher.hybrid(
        name,
        body.query,
        body.k,
        body.filter,
        body.spaces,
        body.fusion,
        body.weights,
        body.rrf_k,
        body.candidates,
        body.snippet_chars,
    )
    return HybridResponse(fusion=body.fusion, spaces=spaces, hits=hits)


@router.post("/collections/{name}/documents/{external_id}/similar", response_model=SearchResponse)
def similar(name: str, external_id: str, body: SimilarRequest, searcher: SearcherDep) -> SearchResponse:
    """More like this: neighbours of a stored document, itself excluded."""
    space, hits = searcher.similar(name, external_id, body.k, body.filter, body.space, body.snippet_chars)
    return SearchResponse(space=space, hits=hits)


@router.get("/collections/{name}/spaces/{space}/words/{word}/neighbors", response_model=WordNeighbors)
def word_neighbors(
    name: str, space: str, word: str, searcher: SearcherDep, k: Annotated[int, Query()] = 10
) -> WordNeighbors:
    """Nearest words in a word2vec space; 404 ``out_of_vocabulary`` for an unknown word."""
    space_name, neighbors = searcher.word_neighbors(name, space, word, k)
    return WordNeighbors(space=space_name, word=word, neighbors=neighbors)


@router.post("/collections/{name}/spaces/{space}/words/analogy", response_model=AnalogyResponse)
def analogy(name: str, space: str, body: AnalogyRequest, searcher: SearcherDep) -> AnalogyResponse:
    """Words nearest to sum(positive) - sum(negative), e.g. king + woman - man."""
    space_name, results = searcher.analogy(name, space, body.positive, body.negative, body.k)
    return AnalogyResponse(space=space_name, results=results)


@router.post("/collections/{name}/spaces/{space}/tokens", response_model=TokensResponse)
def contextual_tokens(name: str, space: str, body: TokensRequest, searcher: SearcherDep) -> TokensResponse:
    """Contextual vectors of each token of a sentence in a bilstm space (the same word differs by context)."""
    space_name, tokens = searcher.contextual_tokens(name, space, body.text, body.neighbors, body.vectors)
    return TokensResponse(space=space_name, tokens=tokens)
