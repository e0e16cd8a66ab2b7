"""Pydantic request/response schemas of the HTTP API and the CLI (Create/Public split).

Validation lives here so the API, the CLI and file ingest reject the same
input with the same message.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from indexers.base import SearchParams

from .analyze_schemas import AnalyzeRequest, AnalyzeResponse  # noqa: F401 (re-exported: the public schemas live here)
from .hit_schemas import Highlight, Hit, PassageHit  # noqa: F401 (re-exported: the public schemas live here)
from .filter_schemas import Filter  # noqa: F401 (re-exported: recommend_schemas imports it from here)
from .word_schemas import (  # noqa: F401 (re-exported: the public schemas live here)
    AnalogyRequest,
    AnalogyResponse,
    TokenVector,
    TokensRequest,
    TokensResponse,
    WordNeighbors,
    WordScore,
)
from .input_checks import ExternalIdChecks, json_value, sql_text, sql_text_or_none
from .schema_types import (  # K_BOUNDS, NOT_BLANK, k_field, non_blank are used through this module too
    EXACTLY_ONE_QUERY,
    K_BOUNDS,
    FiniteFloat,
    NOT_BLANK,
    TIMESTAMP_SCHEMA,
    UtcDatetime,
    k_field,
    non_blank,
    setting_bound,
)

MAX_EXTERNAL_ID = 256
MAX_TEXT_CHARS = 1_000_000
EMPTY_TEXT = "text is empty"
REQUIRE_TEXT = "require_text"
"""Validation-context key: ``{"require_text": True}`` refuses a blank text at parse time.

Whether a text is required depends on the collection (an item may have none),
which an HTTP body parser does not know; the repository enforces it per
collection kind. Readers that know the kind up front (file ingest) set the key
to report a blank text with the field's own message.
"""


def _text_check(value: str, info: ValidationInfo) -> str:
    """A blank text where the context requires one, then :func:`sql_text`: one validator call, not two
    (it runs for every document of every batch), the same checks in the same order."""
    if not value.strip() and (info.context or {}).get(REQUIRE_TEXT):
        raise ValueError(EMPTY_TEXT)
    return sql_text(value)


class DocumentIn(BaseModel):
    """A document to upsert; the same ``external_id`` in a collection replaces it."""

    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[str, ExternalIdChecks("external_id is blank")] = Field(
        min_length=1,
        max_length=MAX_EXTERNAL_ID,
        description="Your id; unique in the collection (no '/': it is a URL path segment).",
        json_schema_extra={"allOf": [{"pattern": "^[^/]*$"}]},
    )
    text: Annotated[str, AfterValidator(_text_check)] = Field(
        "",
        max_length=MAX_TEXT_CHARS,
        description="The text to embed; must contain a non-space character, except in an items collection "
        "where it is optional (an item may have only an id and metadata).",
    )
    metadata: Annotated[dict[str, Any], AfterValidator(json_value)] = Field(
        default_factory=dict, description="JSON object; scalar fields can be filtered on."
    )
    vectors: dict[str, list[float]] | None = Field(
        None,
        description="Your own vectors, by space name, for spaces of family 'vectors' (required for each such space "
        "of the collection; length = the space's dim, finite numbers).",
    )

    @field_validator("text", mode="before")
    @classmethod
    def _null_text(cls, value: Any) -> Any:
        return "" if value is None else value


# ----------------------------------------------------------------------------- collections

FILTER_DOC = "Metadata filter: field -> value or {operator: value}, and / or / not; applied inside the index."



Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Letters, digits, '_', '.', '-'; starts with a letter or digit (it appears in URLs).",
    ),
]


class CollectionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "news", "kind": "documents", "description": "Articles to search"},
                {"name": "shop", "kind": "items"},
            ]
        },
    )

    name: Name
    kind: Literal["documents", "items"] = "documents"
    description: Annotated[str | None, AfterValidator(sql_text_or_none)] = Field(None, max_length=10_000)


class CollectionPublic(BaseModel):
    name: str
    kind: str
    description: str | None
    document_count: int
    default_space: str | None
    metadata_schema: dict[str, str]
    created_at: UtcDatetime


class DocumentsUpsert(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "documents": [
                        {
                            "external_id": "sport-1",
                            "text": "the striker scored a late goal and the team won the match",
                            "metadata": {"topic": "sport", "year": 2024},
                        },
                        {
                            "external_id": "markets-1",
                            "text": "the central bank raised interest rates and shares fell",
                            "metadata": {"topic": "markets", "year": 2023},
                        },
                    ]
                }
            ]
        },
    )

    documents: list[DocumentIn] = Field(
        min_length=1,
        description="At most VECDEX_MAX_BATCH documents per request (batch_too_large otherwise).",
        json_schema_extra=setting_bound("max_batch", "maxItems", 1000),
    )


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
    created_at: UtcDatetime
    updated_at: UtcDatetime


class DocumentPage(BaseModel):
    items: list[DocumentPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= to get the next page; null on the last page.")


# ----------------------------------------------------------------------------- search


MAX_QUERY_DIM = 8192
MAX_OFFSET = 10_000
"""Ceiling on ``offset``; the index depth ``k + offset`` is also held to VECDEX_MAX_K (``invalid_request``,
field ``offset``): paging goes no deeper than one query of the largest k could."""


def offset_field() -> Any:
    """``offset`` of a ranked query: page n of size k is ``offset = (n - 1) * k``."""
    return Field(
        0,
        ge=0,
        le=MAX_OFFSET,
        description="Hits to skip, best first (paging: k=10, offset=10 gives ranks 11-20); k + offset is at most "
        "VECDEX_MAX_K.",
    )


class QueryInput(BaseModel):
    """A text ``query`` or a ``vector`` (exactly one): what search, compare and hybrid rank by.

    A vector query runs on dense spaces of its length, whatever produced the
    vectors (a ``vectors`` space, or any embedder's space); text needs a space
    whose family embeds text (or keyword-scores it).
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": EXACTLY_ONE_QUERY})

    query: Annotated[str, non_blank("query is empty")] | None = Field(None, min_length=1, max_length=100_000)
    vector: list[FiniteFloat] | None = Field(
        None,
        min_length=1,
        max_length=MAX_QUERY_DIM,
        validate_default=True,
        description="A query vector instead of a text (finite numbers).",
    )

    @field_validator("vector")
    @classmethod
    def _exactly_one(cls, value: list[float] | None, info: ValidationInfo) -> list[float] | None:
        if "query" not in info.data:  # the query itself was refused: that error says it
            return value
        if (info.data["query"] is None) == (value is None):
            raise PydanticCustomError(
                "query_or_vector", "give exactly one of query (a text) or vector (a list of numbers)"
            )
        return value


class SearchRequest(QueryInput):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": EXACTLY_ONE_QUERY,
            "examples": [
                {"query": "late goal in the match", "k": 5, "filter": {"topic": "sport"}},
                {"vector": [0.1, 0.3, -0.2], "k": 3, "space": "mine", "params": {"exact": True}},
            ],
        },
    )

    k: int = k_field()
    offset: int = offset_field()
    filter: Filter = Field(default_factory=dict, description=FILTER_DOC)
    space: str | None = Field(None, description="Space name; the collection's default space when omitted.")
    snippet_chars: int = Field(300, ge=0, le=100_000)
    params: SearchParams | None = Field(
        None,
        description="Per-request efSearch (HNSW) / nprobe (IVF) / exact, overriding the space's index settings.",
    )


class SimilarRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = k_field()
    offset: int = offset_field()
    filter: Filter = Field(default_factory=dict)
    space: str | None = None
    snippet_chars: int = Field(300, ge=0, le=100_000)


class SearchResponse(BaseModel):
    space: str
    hits: list[Hit]


# ----------------------------------------------------------------------------- interactions

MAX_USER_ID = 256
MAX_EVENT = 64
MIN_YEAR, MAX_YEAR = 1970, 2200
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _id_string(value: Any) -> Any:
    """Integer ids (common in exports: ``{"user": 42}``) are taken as their decimal string; bools are not ids."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _timestamp_in(value: Any) -> Any:
    """Numbers (and numeric strings, as CSV gives them) are epoch seconds; anything else goes to ISO 8601 parsing.

    Done here rather than by pydantic, which reads numbers above 2e10 as
    milliseconds: a seconds value would silently land in 1970 or far in the future.
    """
    if isinstance(value, bool):
        raise ValueError("timestamp must be an ISO 8601 date-time or epoch seconds, not a boolean")
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        value = float(value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError("timestamp must be a finite number of epoch seconds")
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"timestamp must be between the years {MIN_YEAR} and {MAX_YEAR}") from None
    return value


def _timestamp_out(value: datetime) -> datetime:
    """Naive date-times are UTC; every timestamp is kept in UTC and within the supported years."""
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"timestamp must be between the years {MIN_YEAR} and {MAX_YEAR}, got {value.isoformat()}")
    return value


Timestamp = Annotated[
    datetime, BeforeValidator(_timestamp_in), AfterValidator(_timestamp_out), WithJsonSchema(TIMESTAMP_SCHEMA)
]


class InteractionIn(BaseModel):
    """One user event on an item: ``user`` touched ``item`` (its external id) at ``timestamp``."""

    model_config = ConfigDict(extra="forbid")

    user: Annotated[str, BeforeValidator(_id_string), non_blank("user is blank"), AfterValidator(sql_text)] = Field(
        min_length=1, max_length=MAX_USER_ID, description="Your user id."
    )
    item: Annotated[str, BeforeValidator(_id_string), non_blank("item is blank"), AfterValidator(sql_text)] = Field(
        min_length=1, max_length=MAX_EXTERNAL_ID, description="External id of an item of the collection."
    )
    timestamp: Timestamp = Field(
        description="ISO 8601 (naive means UTC) or epoch seconds; years 1970..2200.",
    )
    event: Annotated[str | None, AfterValidator(sql_text_or_none)] = Field(
        None, max_length=MAX_EVENT, description="Event type, e.g. view, cart, purchase."
    )
    weight: float = Field(
        1.0, allow_inf_nan=False, description="Strength of the signal; <= 0 (dislike, return) is left out of training."
    )

    @field_validator("event", mode="before")
    @classmethod
    def _blank_event(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class InteractionsIngest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interactions: list[InteractionIn] = Field(
        min_length=1,
        description="At most VECDEX_MAX_BATCH interactions per request; all or nothing.",
        json_schema_extra=setting_bound("max_batch", "maxItems", 1000),
    )
    unknown_items: Literal["reject", "create"] = Field(
        "reject", description="An item id the collection does not have: refuse the batch, or create an empty item."
    )


class InteractionsIngested(BaseModel):
    inserted: int
    created_items: int


class HistoryEntry(BaseModel):
    item: str
    timestamp: UtcDatetime
    event: str | None
    weight: float


# ----------------------------------------------------------------------------- compare and hybrid


class CompareRequest(QueryInput):
    """One query against several spaces of a collection, side by side."""

    model_config = ConfigDict(extra="forbid")

    k: int = k_field("Results per space, 1..VECDEX_MAX_K.")
    spaces: list[str] | None = Field(
        None, description="Space names; every ready space that takes text queries when omitted."
    )
    filter: Filter = Field(default_factory=dict, description=FILTER_DOC)
    snippet_chars: int = Field(300, ge=0, le=100_000)


class CompareResponse(BaseModel):
    results: dict[str, list[Hit]] = Field(description="Space name -> its hits, best first.")
    overlap: dict[str, float] = Field(
        description='"a|b" -> Jaccard similarity of the two spaces\' top-k external ids (1.0 when both are empty).'
    )


class HybridRequest(QueryInput):
    """Fuse the rankings of several spaces (e.g. bm25 + an embedding space) into one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": EXACTLY_ONE_QUERY,
            "examples": [
                {"query": "interest rates", "k": 10, "spaces": ["bm25", "w2v"], "fusion": "rrf"},
                {"query": "interest rates", "spaces": ["bm25", "w2v"], "fusion": "weighted", "weights": {"bm25": 2}},
            ],
        },
    )

    k: int = k_field("Fused results, 1..VECDEX_MAX_K.")
    offset: int = offset_field()
    spaces: list[str] | None = Field(
        None, description="Space names; every ready space that takes text queries when omitted."
    )
    fusion: Literal["rrf", "weighted"] = Field(
        "rrf", description="rrf: sum of 1/(rrf_k + rank); weighted: weighted sum of min-max normalised scores."
    )
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="Space -> weight (weighted fusion, also scales RRF terms); default 1.",
        json_schema_extra={"additionalProperties": {"type": "number", "minimum": 0}},
    )
    rrf_k: float = Field(60.0, ge=0.0, le=10_000.0, description="RRF's rank constant (Cormack et al. 2009).")
    candidates: int | None = Field(
        None,
        description="Hits taken from each space before fusing, at least k + offset; default max(k + offset, 50), "
        "capped at VECDEX_MAX_K.",
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


class SpaceRank(BaseModel):
    rank: int = Field(description="1-based rank in that space's list.")
    score: float = Field(description="The space's own score (cosine, BM25, ...).")


class HybridHit(Hit):
    spaces: dict[str, SpaceRank] = Field(description="Where the hit ranked in each space that returned it.")


class HybridResponse(BaseModel):
    fusion: str
    spaces: list[str]
    hits: list[HybridHit]
