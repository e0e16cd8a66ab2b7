"""Schemas of spaces and jobs; apart from service.schemas because they import the embedder registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from embedders.registry import AnyEmbedderSpec
from indexers.base import IndexSpec

from .schemas import Name

class SpaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    embedder: AnyEmbedderSpec
    index: IndexSpec = Field(default_factory=IndexSpec)
    store_vectors: bool = Field(True, description="Keep each document's vector in SQL (rebuilds without re-embedding).")
    make_default: bool = Field(False, description="Make it the collection's default space once built.")


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
    created_at: datetime


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
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SpaceCreated(BaseModel):
    space: SpacePublic
    job: JobPublic


