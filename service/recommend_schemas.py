"""Request and response schemas of recommendation queries (items collections, item2vec spaces)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from embedders.item2vec.evaluate import DEFAULT_HALF_LIFE

from .schemas import Filter, Hit, k_field, non_blank

ItemId = Annotated[str, non_blank("item id is blank")]
Strategy = Literal["average", "best_score"]


class WeightedItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ItemId = Field(max_length=256)
    weight: float = Field(1.0, gt=0, description="How much this example counts (average strategy).")

    @field_validator("weight")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("weight must be a finite number")
        return value


class RecommendRequest(BaseModel):
    """"More like these, not like those": items near the positives and away from the negatives."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"positive": ["i12", {"id": "i40", "weight": 2}], "negative": ["i7"], "k": 10},
                {"positive": ["i12"], "strategy": "best_score", "filter": {"in_stock": True}, "exclude_seen_by": "u1"},
            ]
        },
    )

    positive: list[ItemId | WeightedItem] = Field(
        min_length=1, max_length=1000, description="Item ids (or {id, weight}) to recommend from."
    )
    negative: list[ItemId] = Field(default_factory=list, max_length=1000, description="Items to steer away from.")
    k: int = k_field()
    strategy: Strategy = Field(
        "average",
        description=(
            "average: one query vector, weighted mean of the positives pushed away from the mean of the "
            "negatives; best_score: each candidate scored against every example (its best positive "
            "similarity, or minus its best negative one when a negative is closer), as Qdrant does."
        ),
    )
    filter: Filter = Field(default_factory=dict, description="Item metadata filter (the language of search filters), applied in FAISS.")
    exclude: list[ItemId] = Field(default_factory=list, max_length=10_000, description="Items never to return.")
    exclude_seen_by: str | None = Field(None, max_length=256, description="Also exclude every item this user interacted with.")
    space: str | None = Field(None, description="An item2vec space; the collection's default space when omitted.")
    snippet_chars: int = Field(300, ge=0, le=100_000)

    def weighted_positives(self) -> list[WeightedItem]:
        return [p if isinstance(p, WeightedItem) else WeightedItem(id=p) for p in self.positive]


class UserRecommendRequest(BaseModel):
    """Recommendations from a user's recent history, recent events weighing more."""

    model_config = ConfigDict(extra="forbid")

    k: int = k_field()
    history: int = Field(50, ge=1, le=10_000, description="How many of the user's latest interactions to use.")
    half_life: float = Field(
        DEFAULT_HALF_LIFE,
        gt=0,
        le=1e6,
        description="Recency weighting: an event this many events old counts half as much (1, measured on "
        "MovieLens 100k and planted logs: see embedders/item2vec/evaluate.py).",
    )
    strategy: Strategy = "average"
    filter: Filter = Field(default_factory=dict)
    exclude_seen: StrictBool = Field(True, description="Leave out every item the user already interacted with.")
    space: str | None = None
    snippet_chars: int = Field(300, ge=0, le=100_000)


class RecommendHit(Hit):
    """A recommended item. ``score``: for a context-scored item2vec space the model's probability (0-1,
    the logistic of its dot product) that the item belongs with the examples; for a cosine one, and for
    text hits, cosine similarity."""

    source: Literal["item2vec", "text"] = Field(
        description="item2vec: from interaction vectors; text: from the cold-start text space (items or "
        "examples without interactions)."
    )


class RecommendResponse(BaseModel):
    space: str
    strategy: Strategy
    cold_start_space: str | None = Field(None, description="The text space used for cold items, if any was needed.")
    cold_examples: list[str] = Field(
        default_factory=list, description="Examples with no interaction vector, served through the text space."
    )
    skipped: list[str] = Field(
        default_factory=list,
        description="Examples (or history items) left out of the query: no interaction vector in this space "
        "(not in its training data) and no text space to serve them. Only when nothing is left is the "
        "request refused (422 no_interactions).",
    )
    hits: list[RecommendHit] = Field(description="Best first: one list sorted by score, whatever the source.")
