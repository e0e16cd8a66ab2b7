"""Recommendations over item2vec spaces: from examples, for a user, and similar items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..recommend_schemas import RecommendRequest, RecommendResponse, UserRecommendRequest
from ..schemas import K_BOUNDS
from .deps import VecdexDep
from .responses import ModelResponse, answer
from .openapi import errors

router = APIRouter(tags=["recommend"])


@router.post("/collections/{name}/recommend", response_model=RecommendResponse, operation_id="recommend", responses=errors(404, 409))
async def recommend(name: str, body: RecommendRequest, vx: VecdexDep) -> ModelResponse:
    """Items like the positives and unlike the negatives (``average`` or ``best_score``), filter applied in FAISS."""
    return await answer(vx.recommend.from_examples, collection=name, body=body)


@router.post("/collections/{name}/users/{user}/recommend", response_model=RecommendResponse, operation_id="recommend_for_user", responses=errors(404, 409))
async def recommend_for_user(name: str, user: str, body: UserRecommendRequest, vx: VecdexDep) -> ModelResponse:
    """From the user's latest interactions, recent ones weighing more; seen items left out by default."""
    return await answer(vx.recommend.for_user, collection=name, user=user, body=body)


@router.get("/collections/{name}/items/{item}/similar", response_model=RecommendResponse, operation_id="similar_items", responses=errors(404, 409))
async def similar_items(
    name: str,
    item: str,
    vx: VecdexDep,
    k: Annotated[int, Query(json_schema_extra=K_BOUNDS)] = 10,
    space: Annotated[str | None, Query()] = None,
) -> ModelResponse:
    """Items most similar to one item (its neighbours in the item2vec space; text space if it is cold)."""
    return await answer(vx.recommend.similar_item, collection=name, item=item, k=k, space=space)
