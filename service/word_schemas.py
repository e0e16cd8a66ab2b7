"""Schemas of the word and token queries (word neighbours, analogies, contextual tokens).

Split out of :mod:`service.schemas` (which re-exports every name, so imports from there keep working)
to keep that module under the project's 500-line limit; these depend only on the shared field types.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from .schema_types import k_field, non_blank


class WordScore(BaseModel):
    word: str
    score: float


class WordNeighbors(BaseModel):
    space: str
    word: str
    neighbors: list[WordScore]


class AnalogyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    positive: list[str] = Field(min_length=1, description="Words to add (a and b in a + b - c).")
    negative: list[str] = Field(default_factory=list, description="Words to subtract (c).")
    k: int = k_field()


class AnalogyResponse(BaseModel):
    space: str
    results: list[WordScore]


class TokensRequest(BaseModel):
    """Ask a contextual space (bilstm) for each token's vector in this sentence."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, non_blank("text is empty")] = Field(min_length=1, max_length=10_000)
    neighbors: int = Field(0, ge=0, le=100, description="Also return this many nearest vocabulary words per token.")
    vectors: StrictBool = Field(True, description="Include the vectors themselves.")


class TokenVector(BaseModel):
    token: str
    vector: list[float] | None = None
    neighbors: list[WordScore] | None = None


class TokensResponse(BaseModel):
    space: str
    tokens: list[TokenVector]
