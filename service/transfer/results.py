"""What an import answers (the HTTP response body, and what the CLI prints)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .format import Carries


class SpaceImported(BaseModel):
    name: str
    carries: Carries = Field(description="model: installed from the file; spec: a build job was queued.")
    status: str
    reused: int = Field(0, description="Index entries whose vector came from the file.")
    embedded: int = Field(0, description="Documents embedded at import (by the imported model); 0 normally.")
    job_id: int | None = Field(None, description="The build job queued for a space of carries 'spec'.")


class ImportResult(BaseModel):
    collection: str
    resumed: bool
    records: int = Field(description="Records in the file (header and trailer included).")
    documents: int = Field(description="Document records in the file.")
    documents_skipped: int = Field(description="Documents a resume found already imported (batches not rewritten).")
    vectors: int = Field(description="Vector records in the file.")
    interactions: int = Field(description="Interaction records in the file.")
    interactions_skipped: int = Field(description="Interactions a resume found already imported.")
    spaces: list[SpaceImported]
