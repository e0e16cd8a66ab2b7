"""Bodies of the OpenAI-compatible routes (``POST /v1/embeddings``, ``GET /v1/models``), in OpenAI's own shapes.

Why OpenAI's shapes and not vecdex's: the point of these routes is that an
unchanged OpenAI client (the official SDK, LangChain, LlamaIndex, ...) can use a
vecdex space as its embedding model. Fields OpenAI defines that vecdex cannot
honour are refused by name (token-id input, another ``dimensions``), never
silently ignored; ``user`` is accepted and ignored as OpenAI allows.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .vector_schemas import TEXTS_BOUNDS, EmbedText

EncodingFormat = Literal["float", "base64"]


def _is_token_ids(value: Any) -> bool:
    """An integer, or a list holding integers / lists of integers: OpenAI's pre-tokenised input forms."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, list) and any(
        (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, list) for v in value
    )


class EmbeddingsRequest(BaseModel):
    """OpenAI's embeddings request; ``model`` names a vecdex text space."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"model": "docs/minilm", "input": ["the striker scored a goal"]}]},
    )

    model: str = Field(
        min_length=1,
        max_length=257,
        description="`<collection>/<space>` (as `GET /v1/models` lists them), or a bare `<space>` when exactly "
        "one collection has a space of that name.",
    )
    input: EmbedText | Annotated[list[EmbedText], Field(min_length=1, json_schema_extra=TEXTS_BOUNDS)] = Field(
        description="A text or a list of texts (1..VECDEX_MAX_BATCH). Token-id arrays are refused: vecdex "
        "spaces tokenise text themselves."
    )
    encoding_format: EncodingFormat = Field(
        "float", description="`float`: lists of numbers; `base64`: each vector's little-endian float32 bytes."
    )
    dimensions: int | None = Field(
        None, ge=1, description="Optional; must equal the space's dimension (vecdex does not shorten vectors)."
    )
    user: str | None = Field(None, max_length=256, description="Accepted and ignored (OpenAI's end-user id).")

    @field_validator("input", mode="before")
    @classmethod
    def _no_token_ids(cls, value: Any) -> Any:
        if _is_token_ids(value):
            raise ValueError("token-id arrays are not accepted: send the text itself (a string or a list of strings)")
        if value == []:  # refused here so that the error names ``input`` itself, not a branch of its union
            raise ValueError("input is an empty list: send at least one text")
        return value

    def texts(self) -> list[str]:
        """The input as a list, in order."""
        return [self.input] if isinstance(self.input, str) else list(self.input)


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="The vector, or its base64 float32 bytes (`encoding_format`).")


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Tokens of the input as the space's own analyzer cuts it.")
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str = Field(description="The space as `<collection>/<space>`.")
    usage: Usage


class Model(BaseModel):
    id: str = Field(description="`<collection>/<space>`: what `model` takes.")
    object: Literal["model"] = "model"
    created: int = Field(description="When the space was created (Unix seconds).")
    owned_by: str = "vecdex"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]
