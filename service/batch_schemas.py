"""Requests and answers of the by-ids document routes: fetch several documents, delete several.

A client (and the LangChain/LlamaIndex adapters on it) reads and deletes by its own ids in batches;
one request per id would cost a round trip each and, for deletes, one transaction each, so a
half-done delete could be seen. Both answers say which ids were not there instead of failing:
the vector-store protocols treat a missing id as nothing to do.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from .schemas import MAX_EXTERNAL_ID, DocumentPublic

MAX_IDS = 1000
"""Ids in one request: the same bound as a page of documents."""

ExternalIdRef = Annotated[str, Field(min_length=1, max_length=MAX_EXTERNAL_ID)]


class DocumentIds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[ExternalIdRef] = Field(
        min_length=1, max_length=MAX_IDS, description=f"External ids, 1..{MAX_IDS}; repeats are read once."
    )


class DocumentsFetched(BaseModel):
    items: list[DocumentPublic] = Field(description="The documents found, in the order their ids were asked.")
    missing: list[str] = Field(description="Ids asked for that the collection does not hold, in asked order.")


class DocumentsDeleted(BaseModel):
    deleted: list[str] = Field(description="Ids deleted, in asked order (all in one transaction).")
    missing: list[str] = Field(description="Ids asked for that the collection did not hold (nothing to delete).")
