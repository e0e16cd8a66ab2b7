"""Request and response bodies of "vectors out": a space's embedding of texts, and a stored document's vector.

Kept out of :mod:`service.schemas` (at its size limit); the OpenAI-compatible
bodies live in :mod:`service.openai_schemas`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .schema_types import setting_bound

EmbedText = Annotated[str, Field(min_length=1, max_length=100_000)]
"""A text to embed: as long as a search query may be."""

EmbedKind = Literal["query", "document"]
"""How a text is embedded: as a query (what search does with a text) or as a document (what a build does).

Most families embed both alike; a bert model with query/document prompts, or a
family whose documents are inferred differently, may not."""

TEXTS_BOUNDS: dict[str, Any] = {"minItems": 1, **setting_bound("max_batch", "maxItems", 1000)}
"""1..VECDEX_MAX_BATCH texts per request (``batch_too_large`` beyond, as for an upsert)."""


class EmbedRequest(BaseModel):
    """One text (``text``) or several (``texts``), embedded by the space's own model."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"texts": ["the striker scored a goal"], "kind": "query"}],
            "oneOf": [
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["texts"], "properties": {"texts": {"type": "array"}}},
            ],
        },
    )

    text: EmbedText | None = Field(None, description="One text; the answer has one vector.")
    texts: list[EmbedText] | None = Field(
        None, min_length=1, description="Several texts; one vector each, in order.", json_schema_extra=TEXTS_BOUNDS
    )
    kind: EmbedKind = Field(
        "query",
        description="`query` (default): as search embeds a query text, so the vector can be sent to "
        "`search` as `vector`. `document`: as a build embeds a document's text (differs only for families "
        "with document prompts or inference, e.g. a bert model with prompts, doc2vec).",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> EmbedRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("send exactly one of `text` or `texts`")
        return self

    def all_texts(self) -> list[str]:
        """The texts to embed, in order (one for ``text``)."""
        return [self.text] if self.text is not None else list(self.texts or [])


class EmbedResponse(BaseModel):
    """Vectors of the space for the texts sent, in their order."""

    space: str
    dim: int
    kind: EmbedKind
    vectors: list[list[float]]


class DocumentVector(BaseModel):
    """A stored document's vector in one space: what the space's index holds for it (before any normalisation
    the index applies for its metric)."""

    external_id: str
    space: str
    dim: int
    vector: list[float]
