"""Saving and loading a trained biLM: safetensors weights, JSON config and vocabulary, no pickle.

A saved directory holds ``weights.safetensors`` (the state dict), ``config.json``
(exactly :class:`BiLMConfig`, the model constructor's arguments) and
``vocab.json`` (softmax classes and their training counts); the family's
``manifest.json`` is written last by the embedder. Loading rebuilds the module
from the config and loads the tensors strictly, so a file that does not match
is a :class:`ModelFileError`, never a half-loaded model.
"""

from __future__ import annotations

import json
from pathlib import Path

from embedders.bilstm.model import BiLM, BiLMConfig
from embedders.bilstm.vocab import WordVocab
from embedders.errors import ModelFileError

FILES: dict[str, str] = {"weights": "weights.safetensors", "config": "config.json", "vocabulary": "vocab.json"}
CONFIG_FORMAT = 1


def save_model(directory: Path, model: BiLM, vocab: WordVocab) -> dict[str, str]:
    """Write the model files into ``directory``; returns role -> file name for the manifest."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / FILES["weights"]), metadata={"format": "vecdex-bilstm"})
    config = {"format": CONFIG_FORMAT, "char_encoding": "utf-8 bytes", "model": model.config.to_json()}
    (directory / FILES["config"]).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (directory / FILES["vocabulary"]).write_text(json.dumps(vocab.to_json(), ensure_ascii=False), encoding="utf-8")
    return dict(FILES)


def load_model(directory: Path, files: dict[str, str]) -> tuple[BiLM, WordVocab]:
    """Rebuild the model (eval mode) and vocabulary saved by :func:`save_model`.

    Raises:
        ModelFileError: a file is missing, garbled, or does not match the others.
    """
    from safetensors.torch import load_file

    directory = Path(directory)
    try:
        config_data = json.loads((directory / files["config"]).read_text(encoding="utf-8"))
        config = BiLMConfig.from_json(config_data["model"])
        vocab = WordVocab.from_json(json.loads((directory / files["vocabulary"]).read_text(encoding="utf-8")))
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ModelFileError(f"{directory}: config or vocabulary is garbled: {exc}", field="directory") from exc
    if config.n_words != len(vocab):
        raise ModelFileError(
            f"{directory}: the model predicts {config.n_words} classes but the vocabulary has {len(vocab)}",
            field="directory",
        )
    try:
        model = BiLM(config)
        state = load_file(str(directory / files["weights"]))
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # safetensors and torch raise several types for a bad file
        raise ModelFileError(f"{directory}: cannot load the weights: {exc}", field="directory") from exc
    model.eval()
    return model, vocab
