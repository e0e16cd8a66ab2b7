"""Request and response of ``POST /collections/{c}/spaces/{s}/analyze`` (re-exported by :mod:`service.schemas`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AnalyzeRequest", "AnalyzeResponse"]


class AnalyzeRequest(BaseModel):
    """Ask a text space how it cuts a text into tokens (stop words, user words, segmentation applied)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=100_000)


class AnalyzeResponse(BaseModel):
    space: str
    tokens: list[str]
