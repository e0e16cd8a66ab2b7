"""The Milvus index's directory: one ``manifest.json`` naming the collection the data lives in.

The vectors and the checkpoint are in Milvus; the directory only says which
collection (``name``), how it was made (``dim``, ``metric``, ``kind``,
``nlist``, ``spec``) and, for the record, the URI it was created at and the
checkpoint of the last save (Milvus's own property is what ``open`` reads). It
is written when the collection is created, not only on save, so that
``factory.destroy`` finds and drops a collection whose build died before its
first save. Writes go through :func:`indexers.atomic.write_atomically`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from ..atomic import fsync_path, recover_interrupted_swap, write_atomically
from ..base import ConcreteKind, IndexSpec, Metric
from ..errors import IndexerError, IndexFileError
from ..validation import check_space
from .collection import check_name

__all__ = ["BACKEND", "FORMAT", "FORMAT_VERSION", "MANIFEST_FILE", "Manifest", "read_manifest", "write_manifest"]

BACKEND = "milvus"
FORMAT = "vecdex.milvus-index"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"  # the factory's MANIFEST_FILE: the factory reads "backend" from it


@dataclass(frozen=True)
class Manifest:
    """Everything needed to reopen the index (the URI is resolved again on open)."""

    name: str
    dim: int
    metric: Metric
    kind: ConcreteKind
    nlist: int | None
    spec: IndexSpec
    uri: str
    checkpoint: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": BACKEND,
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "dim": self.dim,
            "metric": self.metric,
            "kind": self.kind,
            "nlist": self.nlist,
            "spec": self.spec.model_dump(mode="json"),
            "uri": self.uri,
            "checkpoint": self.checkpoint,
        }


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Atomically replace ``directory`` with one holding this manifest.

    Raises:
        IndexFileError: it could not be written (the previous directory is left intact).
    """

    def write(tmp: Path) -> None:
        path = tmp / MANIFEST_FILE
        path.write_text(json.dumps(manifest.to_json(), indent=2, sort_keys=True), encoding="utf-8")
        fsync_path(path)

    write_atomically(Path(directory), write)


def read_manifest(directory: Path) -> Manifest:
    """The manifest in ``directory``.

    Raises:
        IndexFileError: missing, unreadable, another engine's, another format version, or invalid.
    """
    directory = Path(directory)
    recover_interrupted_swap(directory, MANIFEST_FILE)
    try:
        raw = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"cannot read {MANIFEST_FILE} in {directory}: {exc}", field="index") from exc
    if not isinstance(raw, dict) or raw.get("backend") != BACKEND or raw.get("format") != FORMAT:
        raise IndexFileError(f"{directory} does not hold a vecdex Milvus index manifest", field="index")
    if raw.get("format_version") != FORMAT_VERSION:
        raise IndexFileError(
            f"{directory} has Milvus manifest version {raw.get('format_version')!r}; "
            f"this vecdex reads version {FORMAT_VERSION}",
            field="index",
        )
    try:
        dim, metric, kind = int(raw["dim"]), raw["metric"], raw["kind"]
        check_space(dim, metric)
        if kind not in get_args(ConcreteKind):
            raise ValueError(f"unknown kind {kind!r}")
        nlist = raw.get("nlist")
        return Manifest(
            name=check_name(raw["name"]),
            dim=dim,
            metric=metric,
            kind=kind,
            nlist=None if nlist is None else int(nlist),
            spec=IndexSpec.model_validate(raw["spec"]),
            uri=str(raw.get("uri") or ""),
            checkpoint=int(raw.get("checkpoint") or 0),
        )
    except (KeyError, TypeError, ValueError, IndexerError) as exc:
        raise IndexFileError(f"Milvus index manifest in {directory} is invalid: {exc}", field="index") from exc
