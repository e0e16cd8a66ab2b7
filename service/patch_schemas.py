"""Request body of a partial document update (``PATCH /collections/{c}/documents/{id}``).

Its own module, importing from :mod:`service.schemas` (not re-exported there: that would be an
import cycle), so the public schemas module stays under the 500-line limit.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from .input_checks import json_value, sql_text
from .schemas import MAX_TEXT_CHARS


def _absent_not_null(schema: dict[str, Any]) -> None:
    """The JSON schema of an optional field that may be left out but not sent as null (the model refuses
    null; without this the schema would say ``anyOf: [..., null]``, default null)."""
    options = schema.pop("anyOf", None)
    if options:
        schema.update(next(o for o in options if o.get("type") != "null"))
    schema.pop("default", None)


class DocumentPatch(BaseModel):
    """What to change in a stored document: ``metadata`` merged in, ``text`` replaced (at least one).

    The merge is RFC 7396's JSON merge patch, the usual meaning of a PATCH of a JSON object: a key set
    to null is removed, a nested object merges into the stored one, any other value (an array too)
    replaces it. So a patch can never store a null, which a filter treats as missing anyway.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "minProperties": 1,
            "examples": [
                {"metadata": {"year": 2025, "draft": None}},
                {"text": "the striker scored twice in the second half"},
            ],
        },
    )

    metadata: Annotated[dict[str, Any], AfterValidator(json_value)] | None = Field(
        None,
        description="Merged into the stored metadata (JSON merge patch: null removes a key, objects merge); "
        "the same limits and schema types as an upsert.",
        json_schema_extra=_absent_not_null,
    )
    text: Annotated[str, AfterValidator(sql_text)] | None = Field(
        None,
        max_length=MAX_TEXT_CHARS,
        description="Replaces the text (the document is embedded again if it differs); must contain a non-space character, "
        "except in an items collection.",
        json_schema_extra=_absent_not_null,
    )

    @field_validator("metadata", "text", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """An explicit null is refused rather than read as "remove it all": wiping a document's metadata
        or text is an upsert's job, not something a stray null in a patch should do."""
        if value is None:
            raise ValueError("must not be null (leave the field out to keep it as it is)")
        return value
