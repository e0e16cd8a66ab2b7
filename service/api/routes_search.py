"""Search, "more like this", compare, hybrid, word neighbours, analogies, contextual tokens and text analysis."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..schemas import (
    AnalogyRequest,
    AnalogyResponse,
    AnalyzeRequest,
    AnalyzeResponse,
    CompareRequest,
    CompareResponse,
    HybridRequest,
    HybridResponse,
    SearchRequest,
    SearchResponse,
    SimilarRequest,
    TokensRequest,
    TokensResponse,
    K_BOUNDS,
    WordNeighbors,
)
from ..similar_schemas import CombinedSimilarRequest, CombinedSimilarResponse
from .deps import VecdexDep
from .responses import ModelResponse, answer
from .openapi import errors

router = APIRouter(tags=["search"])
QUERY_ERRORS = errors(404, 409)
"""Unknown collection, space, document or word (404); a space not ready or not loadable here (409)."""


@router.post("/collections/{name}/search", response_model=SearchResponse, operation_id="search", responses=QUERY_ERRORS)
async def search(name: str, body: SearchRequest, vx: VecdexDep) -> ModelResponse:
    """Nearest documents to a text; ``filter`` restricts by metadata equality inside the index,
    ``params`` trades recall for speed on this request (efSearch / nprobe / exact)."""
    return ModelResponse(await vx.queries.search_queued(collection=name, body=body))


@router.post("/collections/{name}/compare", response_model=CompareResponse, operation_id="compare_spaces", responses=QUERY_ERRORS)
async def compare(name: str, body: CompareRequest, vx: VecdexDep) -> ModelResponse:
    """The same query in several spaces side by side, with the Jaccard overlap of each pair's top-k ids."""
    return await answer(vx.queries.compare, collection=name, body=body)


@router.post("/collections/{name}/hybrid", response_model=HybridResponse, operation_id="hybrid_search", responses=QUERY_ERRORS)
async def hybrid(name: str, body: HybridRequest, vx: VecdexDep) -> ModelResponse:
    """One ranking fused from several spaces (RRF or weighted normalised scores), e.g. bm25 + word2vec."""
    return await answer(vx.queries.hybrid, collection=name, body=body)


@router.post("/collections/{name}/documents/{external_id}/similar", response_model=SearchResponse, operation_id="similar_documents", responses=QUERY_ERRORS)
async def similar(name: str, external_id: str, body: SimilarRequest, vx: VecdexDep) -> ModelResponse:
    """More like this: neighbours of a stored document, itself excluded."""
    return await answer(vx.queries.similar, collection=name, external_id=external_id, body=body)


@router.post("/collections/{name}/documents/{external_id}/similar/combined", response_model=CombinedSimilarResponse, operation_id="similar_documents_combined", responses=QUERY_ERRORS)
async def similar_combined(name: str, external_id: str, body: CombinedSimilarRequest, vx: VecdexDep) -> ModelResponse:
    """More like this by the combined similarity of several vector spaces (e.g. bert + word2vec + tfidf)."""
    return await answer(vx.queries.similar_combined, collection=name, external_id=external_id, body=body)


@router.get("/collections/{name}/spaces/{space}/words/{word}/neighbors", response_model=WordNeighbors, operation_id="word_neighbors", responses=QUERY_ERRORS)
async def word_neighbors(name: str, space: str, word: str, vx: VecdexDep, k: Annotated[int, Query(json_schema_extra=K_BOUNDS)] = 10) -> ModelResponse:
    """Nearest words in a word2vec space; 404 ``out_of_vocabulary`` for an unknown word."""
    return await answer(vx.queries.word_neighbors, collection=name, space=space, word=word, k=k)


@router.post("/collections/{name}/spaces/{space}/words/analogy", response_model=AnalogyResponse, operation_id="word_analogy", responses=QUERY_ERRORS)
async def analogy(name: str, space: str, body: AnalogyRequest, vx: VecdexDep) -> ModelResponse:
    """Words nearest to sum(positive) - sum(negative), e.g. king + woman - man."""
    return await answer(vx.queries.analogy, collection=name, space=space, body=body)


@router.post("/collections/{name}/spaces/{space}/tokens", response_model=TokensResponse, operation_id="contextual_tokens", responses=QUERY_ERRORS)
async def contextual_tokens(name: str, space: str, body: TokensRequest, vx: VecdexDep) -> ModelResponse:
    """Contextual vectors of each token of a sentence in a bilstm space (the same word differs by context)."""
    return await answer(vx.queries.tokens, collection=name, space=space, body=body)


@router.post("/collections/{name}/spaces/{space}/analyze", response_model=AnalyzeResponse, operation_id="analyze_text", responses=QUERY_ERRORS)
async def analyze_text(name: str, space: str, body: AnalyzeRequest, vx: VecdexDep) -> ModelResponse:
    """The tokens a text space makes of a text (its stop words, user words and segmentation applied):
    `{"text": "词向量是大语言模型的基础"}` -> `{"tokens": ["词向量", "大语言模型", "基础"]}` with Chinese stop words
    and those two user words. Spaces of families that do not read text (item2vec, vectors) answer 422."""
    return await answer(vx.queries.analyze, collection=name, space=space, body=body)
