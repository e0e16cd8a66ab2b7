"""Building the sentence-transformers model a spec asks for: torch, ONNX or int8 ONNX.

* ``torch``: the model directory loaded as is (a sentence-transformers model,
  or a plain checkpoint + a pooling module).
* ``onnx``: sentence-transformers' ONNX Runtime backend (via Optimum). The
  export runs once, when the space is built; the exported directory is saved
  in the space directory and every later load reads it from there.
* ``onnx-int8``: that export with its weights quantised to int8 by ONNX
  Runtime's dynamic quantiser (per-channel, signed): activations are quantised
  on the fly, so no calibration data is needed.

Everything is loaded with ``local_files_only``: nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from embedders.bert.source import ModelSource, offline
from embedders.bert.spec import BertSpec
from embedders.errors import ModelFileError, ModelUnavailable

log = logging.getLogger(__name__)

ONNX_DIR = "onnx"
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model_qint8.onnx"}


def cpu_threads(spec: BertSpec) -> int:
    """Threads for inference: the spec's, else every core this process may use."""
    if spec.threads:
        return spec.threads
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def onnx_file(spec: BertSpec) -> str:
    """Path of the spec's ONNX file inside an exported model directory."""
    return f"{ONNX_DIR}/{ONNX_FILES[spec.backend]}"


def _onnx_kwargs(spec: BertSpec) -> dict[str, Any]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads(spec)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return {"provider": "CPUExecutionProvider", "session_options": options}


def _build(source: ModelSource, spec: BertSpec, backend: str, model_kwargs: dict[str, Any]) -> Any:
    """A SentenceTransformer over ``source`` (composed with a pooling for plain checkpoints)."""
    offline()
    from sentence_transformers import SentenceTransformer

    if source.sentence_transformers:
        model = SentenceTransformer(
            str(source.path), device="cpu", backend=backend, local_files_only=True, model_kwargs=model_kwargs
        )
        if spec.max_seq_length is not None:
            model.max_seq_length = spec.max_seq_length
        return model
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    transformer = Transformer(
        str(source.path),
        backend=backend,
        max_seq_length=spec.max_seq_length,
        model_kwargs={**model_kwargs, "local_files_only": True},
        processor_kwargs={"local_files_only": True},
        config_kwargs={"local_files_only": True},
    )
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode=spec.pooling)
    return SentenceTransformer(modules=[transformer, pooling], device="cpu")


def load_torch(source: ModelSource, spec: BertSpec) -> Any:
    """The model on torch, using ``threads`` CPU threads (torch's setting is process-wide)."""
    import torch

    torch.set_num_threads(cpu_threads(spec))
    try:
        return _build(source, spec, "torch", {})
    except (OSError, ValueError) as exc:
        # The library's message names files of the server; the client gets the model as it sent it.
        log.warning("cannot load model %r from %s: %s", spec.model, source.path, exc)
        raise ModelUnavailable(
            f"cannot load model {spec.model!r} on this server ({type(exc).__name__}; details in the server log)",
            field="embedder.model",
        ) from exc


def export_onnx(source: ModelSource, spec: BertSpec, target: Path) -> None:
    """Export the model to ONNX (and quantise it for onnx-int8) into ``target``, a directory
    that then loads as a sentence-transformers model on the ONNX backend."""
    try:
        model = _build(source, spec, "onnx", {})
    except (OSError, ValueError) as exc:
        log.warning("cannot export model %r from %s to ONNX: %s", spec.model, source.path, exc)
        raise ModelUnavailable(
            f"cannot export model {spec.model!r} to ONNX on this server ({type(exc).__name__}; details in the "
            "server log)",
            field="embedder.backend",
        ) from exc
    shutil.rmtree(target, ignore_errors=True)
    model.save_pretrained(str(target))
    exported = target / ONNX_DIR / ONNX_FILES["onnx"]
    if not exported.is_file():
        raise ModelFileError(f"ONNX export wrote no {exported}", field="embedder.backend")
    if spec.backend == "onnx-int8":
        quantize_int8(exported, target / ONNX_DIR / ONNX_FILES["onnx-int8"])
        exported.unlink()  # the fp32 file is only the quantiser's input; don't keep 90 MB per space


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of every MatMul/Gemm weight (per output channel, signed).

    Per-channel signed weights kept cosine >= 0.98 to the torch vectors on the Lee
    corpus where per-tensor weights fell to 0.92 (bench/RESULTS.md).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        # Optimum's exported graphs can defeat ONNX shape inference on some nodes; they are float.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def load_onnx(exported: Path, spec: BertSpec) -> Any:
    """A model exported by :func:`export_onnx`, on ONNX Runtime with ``threads`` threads."""
    offline()
    from sentence_transformers import SentenceTransformer

    file_name = onnx_file(spec)
    if not (exported / file_name).is_file():
        raise ModelFileError(f"{exported} lacks {file_name}; rebuild the space", field="directory")
    model = SentenceTransformer(
        str(exported),
        device="cpu",
        backend="onnx",
        local_files_only=True,
        model_kwargs={**_onnx_kwargs(spec), "file_name": file_name},
    )
    if spec.max_seq_length is not None:
        model.max_seq_length = spec.max_seq_length
    return model
