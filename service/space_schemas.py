"""Schemas of spaces and jobs; apart from service.schemas because they import the embedder registry."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from embedders.registry import AnyEmbedderSpec
from indexers.base import IndexSpec

from .schemas import Name, UtcDatetime


class SpaceCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "w2v", "embedder": {"type": "word2vec", "dim": 100, "epochs": 10}, "make_default": True},
                {"name": "bm25", "embedder": {"type": "bm25"}},
                {"name": "i2v", "embedder": {"type": "item2vec", "dim": 32}, "index": {"kind": "hnsw"}},
            ]
        },
    )

    name: Name
    embedder: AnyEmbedderSpec
    index: IndexSpec = Field(default_factory=IndexSpec)
    store_vectors: StrictBool = Field(True, description="Keep each document's vector in SQL (rebuilds without re-embedding).")
    make_default: StrictBool = Field(False, description="Make it the collection's default space once built.")


class SpacePublic(BaseModel):
    name: str
    collection: str
    status: Literal["pending", "building", "ready", "failed", "cancelled"]
    is_default: bool
    embedder: dict[str, Any]
    index: dict[str, Any]
    index_kind: str | None
    generation: int = Field(0, description="Successful rebuilds so far; searches use this generation.")
    dim: int | None
    metric: str | None
    error: dict[str, Any] | None
    created_at: UtcDatetime


class JobPublic(BaseModel):
    id: int
    kind: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    collection: str | None
    space: str | None
    phase: str | None
    done: int
    total: int | None
    error: dict[str, Any] | None
    metrics: dict[str, Any] | None = Field(None, description="Latest figures reported by the job, e.g. perplexity.")
    cancel_requested: bool
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None


class SpaceCreated(BaseModel):
    space: SpacePublic
    job: JobPublic


