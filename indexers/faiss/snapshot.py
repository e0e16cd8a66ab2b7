"""A FAISS index on disk: the manifest, the files, and the checks made when loading them.

A snapshot directory holds ``index.faiss`` (FAISS's own format), ``ids.npy``
(position -> document id, -1 for tombstones) and ``manifest.json``, written
last, so a directory with a manifest is a complete snapshot. Writing goes
through :func:`indexers.atomic.write_atomically`; a truncated or mismatched
file is refused with :class:`~indexers.errors.IndexFileError` before FAISS
parses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import faiss
import numpy as np

from ..atomic import fsync_path, recover_interrupted_swap, write_atomically
from ..base import ConcreteKind, IndexSpec, Metric
from ..errors import IndexerError, IndexFileError
from ..validation import check_checkpoint, check_space
from .ids import IdTable
from .kinds import faiss_metric

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "IDS_FILE",
    "INDEX_FILE",
    "MANIFEST_FILE",
    "Snapshot",
    "read_snapshot",
    "write_snapshot",
]

BACKEND = "faiss"
FORMAT = "vecdex.faiss-index"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.npy"


@dataclass(frozen=True)
class Snapshot:
    """What a snapshot holds: enough to rebuild a ``FaissIndex`` exactly."""

    spec: IndexSpec
    kind: ConcreteKind
    dim: int
    metric: Metric
    index: faiss.Index
    table: IdTable
    checkpoint: int


def write_snapshot(directory: Path, snap: Snapshot) -> None:
    """Write ``snap`` atomically to ``directory`` (the caller holds a read lock on the index).

    Raises:
        IndexFileError: it could not be written (the previous snapshot is left intact).
    """
    write_atomically(directory, lambda tmp: _write_files(tmp, snap))


def _write_files(tmp: Path, snap: Snapshot) -> None:
    faiss.write_index(snap.index, str(tmp / INDEX_FILE))
    with open(tmp / IDS_FILE, "wb") as fh:
        np.save(fh, snap.table.pos_ids, allow_pickle=False)
    manifest = _manifest(snap)
    manifest["files"] = {name: (tmp / name).stat().st_size for name in (INDEX_FILE, IDS_FILE)}
    # The manifest goes last: a directory with a manifest is a complete snapshot.
    (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    for name in (INDEX_FILE, IDS_FILE, MANIFEST_FILE):
        fsync_path(tmp / name)


def _manifest(snap: Snapshot) -> dict[str, Any]:
    ivf = isinstance(snap.index, faiss.IndexIVFFlat)
    return {
        "backend": BACKEND,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": snap.kind,
        "trained": snap.kind != "ivf" or ivf,
        "nlist": int(snap.index.nlist) if ivf else None,
        "dim": snap.dim,
        "metric": snap.metric,
        "spec": snap.spec.model_dump(mode="json"),
        "count": snap.table.live,
        "positions": snap.table.ntotal,
        "faiss_version": faiss.__version__,
        "checkpoint": snap.checkpoint,
    }


def read_snapshot(directory: Path) -> Snapshot:
    """Load and check a snapshot written by :func:`write_snapshot` (or by vecdex before the split).

    Raises:
        IndexFileError: missing directory, or a manifest, index file or id array
            that is absent, unreadable or inconsistent with the others (field ``index``).
    """
    try:
        recover_interrupted_swap(directory, MANIFEST_FILE)
        return _load(directory)
    except OSError as exc:
        raise IndexFileError(f"cannot read index snapshot {directory}: {exc}", field="index") from exc


def _load(directory: Path) -> Snapshot:
    if not directory.is_dir():
        raise IndexFileError(f"no index snapshot at {directory}", field="index")
    manifest = _read_manifest(directory)
    try:
        spec = IndexSpec.model_validate(manifest["spec"])
        dim, metric, kind = int(manifest["dim"]), manifest["metric"], manifest["kind"]
        check_space(dim, metric)
        if kind not in get_args(ConcreteKind):
            raise ValueError(f"unknown kind {kind!r}")
        checkpoint = _checkpoint(manifest)
    except (KeyError, TypeError, ValueError, IndexerError) as exc:
        raise IndexFileError(f"index manifest in {directory} is invalid: {exc}", field="index") from exc
    _check_file_sizes(directory, manifest)
    try:
        index = faiss.read_index(str(directory / INDEX_FILE))
        pos_ids = np.load(directory / IDS_FILE, allow_pickle=False)
    except (OSError, RuntimeError, ValueError) as exc:
        raise IndexFileError(f"cannot read index files in {directory}: {exc}", field="index") from exc
    table = _check_loaded(directory, manifest, kind, dim, metric, index, pos_ids)
    return Snapshot(spec=spec, kind=kind, dim=dim, metric=metric, index=index, table=table, checkpoint=checkpoint)


def _checkpoint(manifest: dict[str, Any]) -> int:
    """``checkpoint``, or the ``extra.last_change_id`` snapshots carried before it existed; 0 if neither."""
    if "checkpoint" in manifest:
        return check_checkpoint(manifest["checkpoint"])
    extra = manifest.get("extra") or {}
    return check_checkpoint(extra.get("last_change_id", 0)) if isinstance(extra, dict) else 0


def _read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"cannot read {MANIFEST_FILE} in {directory}: {exc}", field="index") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexFileError(f"{directory} does not hold a vecdex FAISS index snapshot", field="index")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFileError(
            f"{directory} has snapshot format version {manifest.get('format_version')!r}; "
            f"this vecdex reads version {FORMAT_VERSION}",
            field="index",
        )
    return manifest


def _check_file_sizes(directory: Path, manifest: dict[str, Any]) -> None:
    """A truncated file (disk full, copy interrupted) is caught before FAISS parses it."""
    for name, size in (manifest.get("files") or {}).items():
        path = directory / name
        actual = path.stat().st_size if path.is_file() else None
        if actual != size:
            raise IndexFileError(f"{path} is missing or truncated ({actual} bytes, expected {size})", field="index")


def _check_loaded(
    directory: Path,
    manifest: dict[str, Any],
    kind: str,
    dim: int,
    metric: str,
    index: faiss.Index,
    pos_ids: np.ndarray,
) -> IdTable:
    expected = {"hnsw": faiss.IndexHNSWFlat, "ivf": faiss.IndexIVFFlat}.get(kind, faiss.IndexFlat)
    if kind == "ivf" and not manifest.get("trained", True):
        expected = faiss.IndexFlat
    problems = []
    if not isinstance(index, expected):
        problems.append(f"index file holds {type(index).__name__}, manifest says {kind}")
    if index.d != dim or index.metric_type != faiss_metric(metric):
        problems.append("index file dimension or metric differs from the manifest")
    if pos_ids.ndim != 1 or pos_ids.dtype != np.int64 or len(pos_ids) != index.ntotal:
        problems.append(f"{IDS_FILE} does not match the index ({pos_ids.shape} for {index.ntotal} vectors)")
    if problems:
        raise IndexFileError(f"inconsistent snapshot in {directory}: " + "; ".join(problems), field="index")
    table = IdTable(pos_ids)
    if table.has_duplicates() or table.live != manifest.get("count"):
        raise IndexFileError(f"inconsistent snapshot in {directory}: id array is corrupt", field="index")
    return table
