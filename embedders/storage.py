"""Saved-model persistence shared by every family: the manifest, and plain ``.npy`` arrays.

Every saved model directory starts with the same ``manifest.json`` so the
registry can dispatch on ``type`` and an operator can see what produced it,
without any family-specific code (and without unpickling anything). Kept apart
from the families so a change to the on-disk format is one module's business.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from embedders.base import EmbedderSpec, Metric
from embedders.errors import ModelFileError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1


def library_versions(*packages: str) -> dict[str, str]:
    """Installed versions of vecdex, numpy and ``packages`` (recorded in a manifest,
    so a model saved by one release can be diagnosed when loaded by another)."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for name in ("vecdex", "numpy", *packages):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def write_manifest(
    directory: Path,
    *,
    spec: EmbedderSpec,
    dim: int,
    metric: Metric,
    files: dict[str, str],
    packages: Sequence[str] = (),
    extra: dict[str, object] | None = None,
) -> None:
    """Write ``manifest.json``; families call it last, so a manifest means a complete save.

    Args:
        directory: the model directory (already holding the ``files``).
        spec: the family's spec; stored as JSON, exactly the constructor arguments.
        dim: output dimension.
        metric: the metric the vectors are meant for.
        files: role -> path relative to ``directory`` (checked again on load).
        packages: model libraries whose versions matter (e.g. ``"gensim"``).
        extra: family-specific facts (vocabulary size, ...), informative only.
    """
    manifest: dict[str, object] = {
        "format": MANIFEST_FORMAT,
        "type": spec.type,
        "spec": spec.model_dump(mode="json"),
        "dim": int(dim),
        "metric": metric,
        "files": dict(files),
        "versions": library_versions(*packages),
    }
    if extra:
        manifest["extra"] = extra
    path = Path(directory) / MANIFEST_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_manifest(directory: Path, expected_type: str | None = None) -> dict:
    """Read and sanity-check ``manifest.json``.

    Raises:
        ModelFileError: the directory or manifest is missing or garbled, it names
            another family than ``expected_type``, or a file it lists is missing.
    """
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist: not a saved embedder directory", field="directory")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} is not valid JSON: {exc}", field="directory") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("type"), str):
        raise ModelFileError(f"{path} has no 'type'", field="directory")
    missing = [key for key in ("spec", "dim", "metric", "files") if key not in manifest]
    if missing:
        raise ModelFileError(f"{path} lacks {', '.join(missing)}", field="directory")
    if expected_type is not None and manifest["type"] != expected_type:
        raise ModelFileError(
            f"{directory} holds a {manifest['type']!r} model, not {expected_type!r}", field="directory"
        )
    files = manifest["files"]
    if not isinstance(files, dict):
        raise ModelFileError(f"{path}: 'files' must be an object", field="directory")
    absent = [rel for rel in files.values() if not (Path(directory) / str(rel)).exists()]
    if absent:
        raise ModelFileError(f"{directory} is incomplete: missing {', '.join(map(str, absent))}", field="directory")
    return manifest


def spec_from_manifest(spec_class: type[EmbedderSpec], manifest: dict, directory: Path) -> Any:
    """The spec stored in a manifest; a garbled one is a ModelFileError, not a 422."""
    try:
        return spec_class.model_validate(manifest["spec"])
    except ValidationError as exc:
        raise ModelFileError(f"{directory}: stored spec is invalid: {exc}", field="directory") from exc


def load_array(directory: Path, name: str, *, mmap: bool = True) -> np.ndarray:
    """Load a saved ``.npy`` (memory-mapped read-only when ``mmap``); never unpickles."""
    path = Path(directory) / name
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path} is missing or not a valid .npy file: {exc}", field="directory") from exc
