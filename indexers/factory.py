"""The one place that makes, opens and destroys vector indexes, whatever the engine.

Engines ("backends") are registered by name (txtai's ``ann/dense/factory.py``
is the model): each is a small object satisfying :class:`Backend`, found in a
module that is imported only when that backend is first used, so importing
``indexers`` pulls in neither FAISS nor pymilvus. The service calls the four
functions below and never names an engine; which one a space uses is its
``IndexSpec.backend`` (when building) or the ``backend`` key of the manifest
its directory holds (when opening or destroying).

Adding an engine: write ``indexers/<name>/`` with a module-level object that
satisfies :class:`Backend`, add one line to ``_REGISTRY`` (or call
:func:`register`), and run ``tests/indexers/test_contract.py``, which
discovers backends from :func:`backends` and needs no edit.

Every engine keeps ``manifest.json`` at the top of its directory, with at
least ``"backend": "<name>"`` (FAISS snapshots written before the key existed
have none; their ``format`` tag says they are FAISS's). A directory whose
manifest names no backend (a keyword space's, say) is no vector index.
"""

from __future__ import annotations

import importlib
import json
import shutil
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from embedders.base import Progress

from .atomic import recover_interrupted_swap
from .base import ConcreteKind, IndexSpec, Metric, VectorIndex
from .errors import BackendUnavailable, IndexFileError, UnknownBackend

__all__ = [
    "MANIFEST_FILE",
    "Backend",
    "EngineOptions",
    "IndexLocation",
    "backends",
    "build",
    "create",
    "destroy",
    "get_backend",
    "manifest_backend",
    "open_index",
    "register",
]

MANIFEST_FILE = "manifest.json"
"""Every engine's directory holds this JSON object, with a ``backend`` key."""

# FAISS snapshots written before the "backend" key existed are recognised by their format tag.
_DEFAULT_BACKEND = "faiss"
_LEGACY_FAISS_FORMAT = "vecdex.faiss-index"


@dataclass(frozen=True)
class EngineOptions:
    """Deployment settings an engine may need that are no part of a space's spec.

    ``milvus_uri``: the Milvus server (``http://host:19530``) or milvus-lite
    file; None lets the Milvus backend choose its default. A space's own
    ``IndexSpec.milvus_uri`` wins over it.
    """

    milvus_uri: str | None = None


@dataclass(frozen=True)
class IndexLocation:
    """Where an index lives.

    ``directory`` holds its manifest (FAISS: the whole snapshot). ``name`` is
    stable and unique per space generation (the service uses
    ``f"vecdex_s{space_id}_g{generation}"``) for engines that keep data outside
    the directory, e.g. a Milvus collection name.
    """

    directory: Path
    name: str
    options: EngineOptions = field(default_factory=EngineOptions)


@runtime_checkable
class Backend(Protocol):
    """One index engine, as the factory sees it.

    ``kinds`` and ``metrics`` are capabilities: what this engine can build,
    so callers (and the contract test) ask instead of checking type names.
    """

    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> Collection[ConcreteKind]: ...

    @property
    def metrics(self) -> Collection[Metric]: ...

    def available(self) -> str | None:
        """None when the engine can run here, else the reason it cannot (e.g. "pymilvus is not installed")."""
        ...

    def create(self, spec: IndexSpec, dim: int, metric: Metric, location: IndexLocation) -> VectorIndex:
        """An empty index (``auto`` resolves to what suits an empty collection)."""
        ...

    def build(
        self,
        spec: IndexSpec,
        dim: int,
        metric: Metric,
        ids: np.ndarray,
        vectors: np.ndarray,
        location: IndexLocation,
        progress: Progress | None = None,
    ) -> VectorIndex:
        """An index holding ``vectors`` under ``ids`` (``auto`` resolved by their count);
        reports phase ``"index"`` with total ``len(ids)``, advanced per added chunk."""
        ...

    def open(self, directory: Path, options: EngineOptions) -> VectorIndex:
        """The index whose manifest is in ``directory`` (saved by its ``save``)."""
        ...

    def drop(self, directory: Path, options: EngineOptions) -> None:
        """Delete what the index keeps outside ``directory`` (nothing, for FAISS); the
        factory removes the directory itself afterwards. Must succeed if already dropped."""
        ...


# name -> "module:attribute" of the Backend object, imported on first use.
_REGISTRY: dict[str, str] = {
    "faiss": "indexers.faiss.backend:BACKEND",
    "milvus": "indexers.milvus.backend:BACKEND",
}
_LOADED: dict[str, Backend] = {}
_LOCK = threading.Lock()


def register(name: str, backend: Backend | str) -> None:
    """Register (or replace) a backend: the object itself or its lazy ``"module:attribute"`` path."""
    with _LOCK:
        _LOADED.pop(name, None)
        if isinstance(backend, str):
            _REGISTRY[name] = backend
        else:
            _REGISTRY[name] = f"<object {type(backend).__name__}>"
            _LOADED[name] = backend


def backends() -> list[str]:
    """The registered backend names, sorted (whether or not each is available here)."""
    return sorted(_REGISTRY)


def get_backend(name: str) -> Backend:
    """The backend registered as ``name``, imported on first use.

    Raises:
        UnknownBackend: no backend has that name (field ``index.backend``).
        BackendUnavailable: its module cannot be imported (its library is missing).
    """
    with _LOCK:
        if name in _LOADED:
            return _LOADED[name]
        if name not in _REGISTRY:
            raise UnknownBackend(
                f"unknown index backend {name!r}; registered: {', '.join(sorted(_REGISTRY))}",
                field="index.backend",
            )
        module_name, _, attribute = _REGISTRY[name].partition(":")
        try:
            backend = getattr(importlib.import_module(module_name), attribute)
        except ImportError as exc:
            raise BackendUnavailable(
                f"index backend {name!r} cannot be loaded: {exc}", field="index.backend"
            ) from exc
        _LOADED[name] = backend
        return backend


def create(spec: IndexSpec, dim: int, metric: Metric, location: IndexLocation) -> VectorIndex:
    """An empty index of ``spec.backend`` (a space with no documents yet)."""
    return get_backend(spec.backend).create(spec, dim, metric, location)


def build(
    spec: IndexSpec,
    dim: int,
    metric: Metric,
    ids: np.ndarray,
    vectors: np.ndarray,
    location: IndexLocation,
    progress: Progress | None = None,
) -> VectorIndex:
    """An index of ``spec.backend`` over existing vectors, built in one go.

    Progress: phase ``"index"``, total ``len(ids)``, advanced as chunks are added.
    Not yet durable: call ``save(location.directory, checkpoint=...)``.
    """
    return get_backend(spec.backend).build(spec, dim, metric, ids, vectors, location, progress)


def open_index(directory: Path, options: EngineOptions | None = None) -> VectorIndex:
    """Open the index saved in ``directory``, with the engine its manifest names.

    Raises:
        IndexFileError: no readable manifest there (field ``index``).
        UnknownBackend / BackendUnavailable: the manifest's engine cannot be used here.
    """
    directory = Path(directory)
    name = manifest_backend(directory)
    if name is None:
        raise IndexFileError(f"no index snapshot at {directory} (no readable {MANIFEST_FILE})", field="index")
    return get_backend(name).open(directory, options or EngineOptions())


def destroy(directory: Path, options: EngineOptions | None = None) -> None:
    """Delete an index: first what its engine keeps elsewhere, then ``directory``.

    A directory without a manifest (never saved, already destroyed, or no
    index at all) is removed if present, and nothing else happens.
    """
    directory = Path(directory)
    name = manifest_backend(directory)
    if name is not None:
        get_backend(name).drop(directory, options or EngineOptions())
    shutil.rmtree(directory, ignore_errors=True)


def manifest_backend(directory: Path) -> str | None:
    """The backend named by ``directory``'s manifest; None when there is no readable manifest.

    A save interrupted between its two renames is completed first, so a
    snapshot set aside by a crash is found (see :mod:`indexers.atomic`).
    """
    directory = Path(directory)
    try:
        recover_interrupted_swap(directory, MANIFEST_FILE)
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    name = manifest.get("backend")
    if name is None and manifest.get("format") == _LEGACY_FAISS_FORMAT:
        return _DEFAULT_BACKEND
    return name if isinstance(name, str) else None
