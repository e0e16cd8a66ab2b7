"""Request and response of the combined "more like this" (``POST .../documents/{id}/similar/combined``)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .filter_schemas import Filter
from .schema_types import K_BOUNDS, k_field
from .schemas import FILTER_DOC, Hit, offset_field


class CombinedSimilarRequest(BaseModel):
    """Neighbours of a stored document by the combined similarity of several vector spaces."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"k": 10, "spaces": ["bert", "w2v", "tfidf"]}]},
    )

    k: int = k_field()
    offset: int = offset_field()
    spaces: list[str] = Field(
        min_length=2, max_length=16, description="Two or more vector spaces of the collection (no keyword space)."
    )
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="Space -> weight (>= 0); default: the collection's fitted weights (`vecdex eval similarity "
        "--fit-weights`) if they cover these spaces, else equal.",
        json_schema_extra={"additionalProperties": {"type": "number", "minimum": 0}},
    )
    candidates: int | None = Field(
        None,
        description="Neighbours taken from each space before combining, at least k + offset; default max(k + offset, 50).",
        json_schema_extra=K_BOUNDS,
    )
    filter: Filter = Field(default_factory=dict, description=FILTER_DOC)
    snippet_chars: int = Field(300, ge=0, le=100_000)

    @field_validator("weights")
    @classmethod
    def _weights_not_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [name for name, w in value.items() if not math.isfinite(w) or w < 0]
        if bad:
            raise ValueError(f"weights must be finite and >= 0 (got {', '.join(bad)})")
        return value


class CombinedHit(Hit):
    scores: dict[str, float] = Field(description="The cosine of the two documents in each space that has both.")


class CombinedSimilarResponse(BaseModel):
    spaces: list[str]
    weights: dict[str, float]
    weights_from: Literal["request", "collection", "equal"] = Field(
        description="request: as sent; collection: fitted by a similarity evaluation (fit_weights); equal: neither."
    )
    hits: list[CombinedHit]
