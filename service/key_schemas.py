"""Schemas of API keys and the scope order; apart from service.schemas because only keys use them.

Scopes nest: ``admin`` covers ``write``, which covers ``read``. The HTTP door's
route table (``service.api.scopes``) says which one each route needs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .schema_types import UtcDatetime
from .schemas import Name

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
"""Weakest first: a key covers every scope up to its own."""


def covers(have: Scope, need: Scope) -> bool:
    """Whether a key of scope ``have`` may use a route that needs ``need``."""
    return SCOPES.index(have) >= SCOPES.index(need)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    scope: Scope
    collections: list[Name] | None = Field(
        None, min_length=1, max_length=1000, description="Only these collections; null for every collection."
    )


class KeyPublic(BaseModel):
    """What may be shown of a key: never its secret, only the first characters of it (``prefix``)."""

    name: str
    scope: Scope
    prefix: str = Field(description="The secret's first characters, to tell keys apart.")
    collections: list[str] | None
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None
    revoked_at: UtcDatetime | None


class KeyCreated(BaseModel):
    """A new key with its secret: the only time the secret is ever shown."""

    key: KeyPublic
    secret: str
