"""Recommendations over item2vec spaces: from examples, for a user, and similar items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ..recommend import Recommender
from ..recommend_schemas import RecommendRequest, RecommendResponse, UserRecommendRequest
from .deps import State

router = APIRouter(tags=["recommend"])


def _recommender(state: State) -> Recommender:
    return Recommender(state.db, state.runtimes, state.settings.max_k)


RecommenderDep = Annotated[Recommender, Depends(_recommender)]


@router.post("/collections/{name}/recommend", response_model=RecommendResponse)
def recommend(name: str, body: RecommendRequest, recommender: RecommenderDep) -> RecommendResponse:
    """Items like the positives and unlike the negatives (``average`` or ``best_score``), filter applied in FAISS."""
    return recommender.recommend(name, body)


@router.post("/collections/{name}/users/{user}/recommend", response_model=RecommendResponse)
def recommend_for_user(
    name: str, user: str, body: UserRecommendRequest, recommender: RecommenderDep
) -> RecommendResponse:
    """From the user's latest interactions, recent ones weighing more; seen items left out by default."""
    return recommender.for_user(name, user, body)


@router.get("/collections/{name}/items/{item}/similar", response_model=RecommendResponse)
def similar_items(
    name: str,
    item: str,
    recommender: RecommenderDep,
    k: Annotated[int, Query()] = 10,
    space: Annotated[str | None, Query()] = None,
) -> RecommendResponse:
    """Items most similar to one item (its neighbours in the item2vec space; text space if it is cold)."""
    return recommender.similar_item(name, item, k, {}, space, 300)
