"""Atomic directory snapshots: write a sibling, fsync, swap it in with two renames.

Any engine that keeps files (FAISS its whole snapshot, others their manifest)
uses this, so a crash anywhere leaves either the old or the new directory
complete, never a mix.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from .errors import IndexFileError

__all__ = ["fsync_path", "recover_interrupted_swap", "write_atomically"]

log = logging.getLogger(__name__)

STALE_SIBLING_SECONDS = 3600  # leftovers of a crashed save older than this are removed


def write_atomically(directory: Path, write: Callable[[Path], None]) -> None:
    """Write a snapshot via a temporary sibling directory swapped into place.

    ``write`` fills a fresh ``.<name>.tmp-*`` sibling (same filesystem, so the
    renames are atomic) and fsyncs its files. An existing snapshot is renamed
    aside to ``.<name>.old-*``, the new one renamed in, the parent fsynced, the
    old one deleted. A crash leaves either the old or the new snapshot complete
    at ``directory`` -- or, between the two renames, the old one aside, which
    :func:`recover_interrupted_swap` moves back. On error the temporary
    directory is removed and the previous snapshot is untouched.

    Raises:
        IndexFileError: the snapshot could not be written (field ``index``).
    """
    parent = directory.parent
    if directory.exists() and not directory.is_dir():
        raise IndexFileError(f"{directory} exists and is not a directory", field="index")
    tmp = directory.with_name(f".{directory.name}.tmp-{uuid.uuid4().hex}")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()  # not tempfile.mkdtemp: its 0700 mode would outlive the rename
    except OSError as exc:
        raise IndexFileError(f"cannot create a snapshot next to {directory}: {exc}", field="index") from exc
    try:
        write(tmp)
        fsync_path(tmp)
        _swap_into_place(tmp, directory)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, (OSError, RuntimeError)):
            raise IndexFileError(f"could not save index snapshot to {directory}: {exc}", field="index") from exc
        raise
    _remove_stale_siblings(directory)


def _swap_into_place(tmp: Path, directory: Path) -> None:
    old: Path | None = None
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old-{uuid.uuid4().hex}")
        os.rename(directory, old)
    try:
        os.rename(tmp, directory)
    except BaseException:
        if old is not None:
            os.rename(old, directory)
        raise
    fsync_path(directory.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_interrupted_swap(directory: Path, marker: str) -> None:
    """If a save crashed between its two renames, put the set-aside snapshot back.

    ``marker`` is the file a complete snapshot always holds (its manifest).
    """
    if directory.exists():
        return
    aside = [p for p in directory.parent.glob(f".{directory.name}.old-*") if (p / marker).is_file()]
    if aside:
        newest = max(aside, key=lambda p: p.stat().st_mtime)
        log.warning("restoring index snapshot %s from interrupted save (%s)", directory, newest.name)
        os.rename(newest, directory)


def _remove_stale_siblings(directory: Path) -> None:
    """Delete temp/aside directories a crashed save left behind (old enough not to be another save's)."""
    cutoff = time.time() - STALE_SIBLING_SECONDS
    for pattern in (f".{directory.name}.tmp-*", f".{directory.name}.old-*"):
        for path in directory.parent.glob(pattern):
            try:
                if path.stat().st_mtime < cutoff:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass


def fsync_path(path: Path) -> None:
    """Flush a file's or a directory's entries to disk (directories: where the OS allows it)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() and hasattr(os, "O_DIRECTORY") else 0)
    try:
        fd = os.open(path, flags)
    except (IsADirectoryError, PermissionError):  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
