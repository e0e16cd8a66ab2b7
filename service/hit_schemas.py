"""What a hit shows: the document's ids, score, snippet and metadata, and where the snippet and the
query's terms sit in the document.

Its own module because every ranking answer (search, hybrid, compare, similar, recommend) embeds a
``Hit``, and the snippet fields change for reasons of their own (highlighting, passages) that none of
those requests share."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Highlight(BaseModel):
    """One occurrence of a query term: ``text[start:end]`` of the hit (not of the whole document)."""

    start: int
    end: int


class PassageHit(BaseModel):
    """One of a hit's best passages in a chunked space: ``document.text[start:end]`` and its score."""

    start: int
    end: int
    score: float


class Hit(BaseModel):
    id: int
    external_id: str
    score: float
    text: str = Field(
        description="The snippet: for a text query, the window of `snippet_chars` characters holding the most of "
        "its terms (the first characters when none occurs; the whole text for `snippet_chars` 0)."
    )
    metadata: dict[str, Any]
    text_offset: int = Field(0, description="Where `text` starts in the document, in characters.")
    highlights: list[Highlight] = Field(
        default_factory=list,
        description="The query's terms inside `text`, as character offsets into `text`, in order "
        "(whole words, case-insensitive, stop words left out; Chinese terms wherever written).",
    )
    passages: list[PassageHit] = Field(
        default_factory=list,
        description="A chunked space's best passages of this document (best first, up to 3), as character "
        "offsets of the whole text; the snippet is cut from the first. Empty in other spaces.",
    )
