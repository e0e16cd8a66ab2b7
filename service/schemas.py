"""Pydantic request/response schemas of the HTTP API and the CLI (Create/Public split).

Validation lives here so the API, the CLI and file ingest reject the same
input with the same message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

def non_blank(message: str) -> AfterValidator:
    """A validator refusing strings of only white space, with the message the API and ingest report."""

    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(message)
        return value

    return AfterValidator(check)


MAX_EXTERNAL_ID = 256
MAX_TEXT_CHARS = 1_000_000


class DocumentIn(BaseModel):
    """A document to upsert; the same ``external_id`` in a collection replaces it."""

    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[str, non_blank("external_id is blank")] = Field(
        min_length=1, max_length=MAX_EXTERNAL_ID, description="Your id; unique in the collection."
    )
    text: Annotated[str, non_blank("text is empty")] = Field(
        max_length=MAX_TEXT_CHARS, description="The text to embed; must contain a non-space character."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="JSON object; scalar fields can be filtered on.")


# ----------------------------------------------------------------------------- collections



Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Letters, digits, '_', '.', '-'; starts with a letter or digit (it appears in URLs).",
    ),
]
Scalar = str | int | float | bool


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: Literal["documents", "items"] = "documents"
    description: str | None = Field(None, max_length=10_000)


class CollectionPublic(BaseModel):
    name: str
    kind: str
    description: str | None
    document_count: int
    default_space: str | None
    metadata_schema: dict[str, str]
    created_at: datetime


class DocumentsUpsert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentIn] = Field(min_length=1, description="At most VECDEX_MAX_BATCH documents per request.")


class UpsertResult(BaseModel):
    created: int
    updated: int
    unchanged: int


class DocumentPublic(BaseModel):
    id: int
    external_id: str
    text: str
    metadata: dict[str, Any]
    content_hash: str
    created_at: datetime
    updated_at: datetime


class DocumentPage(BaseModel):
    items: list[DocumentPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= to get the next page; null on the last page.")


# ----------------------------------------------------------------------------- search


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, non_blank("query is empty")] = Field(min_length=1, max_length=100_000)
    k: int = Field(10, description="Number of results, 1..VECDEX_MAX_K.")
    filter: dict[str, Scalar] = Field(default_factory=dict, description="Equality on metadata fields, ANDed.")
    space: str | None = Field(None, description="Space name; the collection's default space when omitted.")
    snippet_chars: int = Field(300, ge=0, le=100_000)


class SimilarRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = 10
    filter: dict[str, Scalar] = Field(default_factory=dict)
    space: str | None = None
    snippet_chars: int = Field(300, ge=0, le=100_000)


class Hit(BaseModel):
    id: int
    external_id: str
    score: float
    text: str
    metadata: dict[str, Any]


class SearchResponse(BaseModel):
    space: str
    hits: list[Hit]


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
    k: int = 10


class AnalogyResponse(BaseModel):
    space: str
    results: list[WordScore]


class TokensRequest(BaseModel):
    """Ask a contextual space (bilstm) for each token's vector in this sentence."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, non_blank("text is empty")] = Field(min_length=1, max_length=10_000)
    neighbors: int = Field(0, ge=0, le=100, description="Also return this many nearest vocabulary words per token.")
    vectors: bool = Field(True, description="Include the vectors themselves.")


class TokenVector(BaseModel):
    token: str
    vector: list[float] | None = None
    neighbors: list[WordScore] | None = None


class TokensResponse(BaseModel):
    space: str
    tokens: list[TokenVector]
