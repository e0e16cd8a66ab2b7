"""Use cases that move a collection between servers: export to a file (or a stream), import from one."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from ..schemas import DocumentIn, InteractionIn
from ..space_schemas import SpaceCreate, SpaceCreated
from ..transfer.exporter import open_export
from ..transfer.format import gzip_chunks
from ..transfer.importer import Writers, import_file
from ..transfer.results import ImportResult
from .core import Core

Progress = Callable[[int, int], None]
"""``progress(records done, records in all)``: the CLI's periodic lines."""


class _DocumentWrites(Protocol):
    def write(self, *, collection: str, documents: list[DocumentIn]) -> object: ...


class _InteractionWrites(Protocol):
    def write(self, *, collection: str, records: list[InteractionIn]) -> object: ...


class _SpaceCreates(Protocol):
    def create(self, *, collection: str, body: SpaceCreate) -> SpaceCreated: ...


class ExportedFile(BaseModel):
    path: str
    bytes: int
    gzip: bool


class Transfer:
    """Export a collection (documents, interactions, spaces with their models and stored vectors) and import it.

    The import writes through the other groups' write paths, handed in by
    ``Vecdex`` (groups never import each other), so an imported document is
    checked, hashed and logged exactly like an upserted one.
    """

    def __init__(
        self, core: Core, documents: _DocumentWrites, interactions: _InteractionWrites, spaces: _SpaceCreates
    ) -> None:
        self._core = core
        self._documents = documents
        self._interactions = interactions
        self._spaces = spaces

    def export(self, *, collection: str, gzip: bool = False, progress: Progress | None = None) -> Iterator[bytes]:
        """The file's bytes as an iterator (the HTTP door streams it). CollectionNotFound is raised by this
        call, before the first byte; the documents are read page by page as the iterator is consumed."""
        lines = open_export(self._core.db, self._core.settings.spaces_dir, collection, progress)
        return gzip_chunks(lines) if gzip else lines

    def export_to(self, *, collection: str, path: Path, progress: Progress | None = None) -> ExportedFile:
        """Write the file (gzip when ``path`` ends in ``.gz``) through ``<path>.partial``, renamed when complete,
        so an interrupted export never leaves a file under the name asked for."""
        compress = path.name.endswith(".gz")
        chunks = self.export(collection=collection, gzip=compress, progress=progress)
        partial = path.with_name(path.name + ".partial")
        size = 0
        try:
            with open(partial, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return ExportedFile(path=str(path), bytes=size, gzip=compress)

    def import_file(
        self, *, path: Path, name: str | None = None, resume: bool = False, progress: Progress | None = None
    ) -> ImportResult:
        """Import a collection file (plain or gzip, told by its first bytes) as ``name`` (the file's by default).

        The whole file is checked first (a truncated, altered, newer or invalid file changes nothing, the error
        names the line); then it is written in batches. ``resume`` continues an import that stopped.
        """
        writers = Writers(
            documents=lambda c, docs: self._documents.write(collection=c, documents=docs),
            interactions=lambda c, records: self._interactions.write(collection=c, records=records),
            create_space=lambda c, body: self._spaces.create(collection=c, body=body).job.id,
        )
        settings = self._core.settings
        return import_file(
            self._core.db, settings.spaces_dir, path, writers, name=name, resume=resume, progress=progress,
            engine_options=settings.engine_options,
        )
