"""What the server answers, as typed models named like the server's own schemas.

The field names, types and required-ness are those of the server's OpenAPI components of the same
name (``tests/clients/test_client_models.py`` compares them, so a server change that the client
does not follow fails the suite). ``extra="allow"``: a newer server may add fields, and an older
client must keep reading its answers (the extra fields are kept on the model, not dropped).
Requests are keyword arguments of the client's methods: the server validates them and answers a
422 naming the field, which the client raises as :class:`UnprocessableEntityError`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class CollectionPublic(_Answer):
    name: str
    kind: str
    description: str | None
    document_count: int
    default_space: str | None
    metadata_schema: dict[str, Any]
    created_at: datetime


class JobPublic(_Answer):
    id: int
    kind: str
    status: str
    collection: str | None
    space: str | None
    phase: str | None
    done: int
    total: int | None
    error: dict[str, Any] | None
    metrics: dict[str, Any] | None = None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        """Whether the job has ended, well or badly."""
        return self.status in ("succeeded", "failed", "cancelled")


class SpacePublic(_Answer):
    name: str
    collection: str
    status: str
    is_default: bool
    embedder: dict[str, Any]
    index: dict[str, Any]
    index_kind: str | None
    generation: int = 0
    dim: int | None
    metric: str | None
    error: dict[str, Any] | None
    created_at: datetime


class SpaceCreated(_Answer):
    space: SpacePublic
    job: JobPublic


class DocumentPublic(_Answer):
    id: int
    external_id: str
    text: str
    metadata: dict[str, Any]
    content_hash: str
    created_at: datetime
    updated_at: datetime


class DocumentPage(_Answer):
    items: list[DocumentPublic]
    next_cursor: str | None


class DocumentsFetched(_Answer):
    items: list[DocumentPublic]
    missing: list[str]


class DocumentsDeleted(_Answer):
    deleted: list[str]
    missing: list[str]


class UpsertResult(_Answer):
    created: int
    updated: int
    unchanged: int


class Highlight(_Answer):
    """A query term inside a hit's ``text``: ``hit.text[start:end]``."""

    start: int
    end: int


class PassageHit(_Answer):
    """One of a hit's best passages in a chunked space: ``document.text[start:end]``."""

    start: int
    end: int
    score: float


class Hit(_Answer):
    id: int
    external_id: str
    score: float
    text: str
    """The snippet: the window best matching a text query's terms (``snippet_chars`` long)."""
    metadata: dict[str, Any]
    text_offset: int = 0
    """Where ``text`` starts in the document."""
    highlights: list[Highlight] = []
    passages: list[PassageHit] = []
    """A chunked space's best passages of the document (offsets of its whole text), best first."""


class SearchResponse(_Answer):
    space: str
    hits: list[Hit]


class SpaceRank(_Answer):
    rank: int
    score: float


class HybridHit(Hit):
    spaces: dict[str, SpaceRank]


class HybridResponse(_Answer):
    fusion: str
    spaces: list[str]
    hits: list[HybridHit]


class CompareResponse(_Answer):
    results: dict[str, list[Hit]]
    overlap: dict[str, float]


class EmbedResponse(_Answer):
    space: str
    dim: int
    kind: str
    vectors: list[list[float]]


class DocumentVector(_Answer):
    external_id: str
    space: str
    dim: int
    vector: list[float]


class RecommendHit(Hit):
    source: Literal["item2vec", "text"]


class RecommendResponse(_Answer):
    space: str
    strategy: str
    cold_start_space: str | None = None
    cold_examples: list[str] = []
    skipped: list[str] = []
    hits: list[RecommendHit]


class InteractionsIngested(_Answer):
    inserted: int
    created_items: int
