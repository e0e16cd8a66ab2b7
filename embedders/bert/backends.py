"""Building the sentence-transformers model a spec asks for: torch, ONNX or int8 ONNX.

* ``torch``: the model directory loaded as is (a sentence-transformers model,
  or a plain checkpoint + a pooling module).
* ``onnx``: sentence-transformers' ONNX Runtime backend (via Optimum). The
  export runs once, when the space is built (and once per model and process:
  a later space of the same model copies the first export); the exported
  directory is saved in the space directory and every later load reads it
  from there.
* ``onnx-int8``: that export with its weights quantised to int8 by ONNX
  Runtime's dynamic quantiser (per-channel, signed): activations are quantised
  on the fly, so no calibration data is needed.

Everything is loaded with ``local_files_only``: nothing is downloaded.

Threads (:func:`inference_threads`, :func:`running_with`): a spec's ``threads``
applies to its own space only. ONNX Runtime takes it per session. torch's
intra-op thread count is one setting of the whole process (``torch.set_num_threads``
sets the OpenMP/MKL thread count that every later forward pass uses), so a
torch space sets its count around each forward pass, under one lock that all
torch-backed inference of the process shares, and puts the previous count back
afterwards: two spaces with different ``threads`` never run at the other's
setting, and nothing outside a call sees a changed global. The lock serialises
torch inference across spaces and request threads; on CPU, concurrent forward
passes would only share the same cores (and with OpenMP teams of several threads,
fight over them), so little is lost.

The default when the spec says nothing (measured in bench/RESULTS.md, "Threads",
``bench/bench_threads.py``): one text (a query, a one-document write) runs on
1 thread, a batch (a build, a bulk write) on every core this process may use.
A one-text forward pass is too small to split: on the shared 2-core machine a
second thread made a query 4-5x slower, and 20x when another process held one
of the two cores (OpenMP's threads wait for each other at every operation, and
one of them waits for a busy core). Batches keep every core, as builds did
before; with a core busy they gain nothing from it either, so a server on a
shared machine should give its spaces ``threads: 1``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import types
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ContextManager

from embedders.bert import inference
from embedders.bert.source import ModelSource, offline
from embedders.bert.spec import BertSpec
from embedders.errors import ModelFileError, ModelUnavailable
from embedders.torch_threads import torch_threads

log = logging.getLogger(__name__)

ONNX_DIR = "onnx"
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model_qint8.onnx"}


# Texts (windows) per encode call up to which a spec without ``threads`` runs on one thread.
SINGLE_THREAD_TEXTS = 1



def all_cores() -> int:
    """Every core this process may use (its CPU affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def cpu_threads(spec: BertSpec) -> int:
    """Threads for batch inference and ONNX sessions: the spec's, else every core."""
    return spec.threads or all_cores()


def inference_threads(spec: BertSpec, n_texts: int) -> int:
    """Threads for one encode call of ``n_texts`` texts: the spec's if it says, else 1 for a
    single text (a query) and every core for a batch (the rule in the module docstring)."""
    if spec.threads:
        return spec.threads
    return 1 if n_texts <= SINGLE_THREAD_TEXTS else all_cores()


def running_with(spec: BertSpec, threads: int) -> ContextManager[None]:
    """What to hold around an encode call of ``spec``'s model: torch's thread setting; nothing for
    ONNX Runtime, whose session already has its own ``intra_op_num_threads``."""
    return torch_threads(threads) if spec.backend == "torch" else nullcontext()


def onnx_file(spec: BertSpec) -> str:
    """Path of the spec's ONNX file inside an exported model directory."""
    return f"{ONNX_DIR}/{ONNX_FILES[spec.backend]}"


def pin_for_inference(model: Any) -> Any:
    """Put ``model`` in eval mode once and make sentence-transformers' per-call ``to``/``eval`` free.

    Why: ``SentenceTransformer.encode`` calls ``self.to(device)`` and ``self.eval()`` on every
    call, and each walks all ~120 modules: about 4 ms of a 25-30 ms one-query encode at one
    thread (cProfile, bench/RESULTS.md "vecdex vs txtai"). A space's model never leaves the
    CPU nor eval mode, so both calls are no-ops here; a call that would change something
    (another device or dtype, train mode) still goes to torch's own method.
    """
    import torch

    model.eval()
    cls = type(model)

    def to(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and len(args) == 1 and isinstance(args[0], (str, torch.device)):
            if torch.device(args[0]) == self.device:
                return self
        return cls.to(self, *args, **kwargs)

    def train(self: Any, mode: bool = True) -> Any:
        if not mode and not self.training:
            return self  # eval() of a model already in eval mode (eval() calls train(False))
        return cls.train(self, mode)

    model.to = types.MethodType(to, model)
    model.train = types.MethodType(train, model)
    return model


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
    """The model on torch. It sets no thread count: each encode call does, under
    :func:`torch_threads`, so loading a space changes nothing for the others."""
    try:
        model = pin_for_inference(_build(source, spec, "torch", {}))
        inference.pack_linears(model)  # same vectors, faster (embedders/bert/inference.py)
        return model
    except (OSError, ValueError) as exc:
        # The library's message names files of the server; the client gets the model as it sent it.
        log.warning("cannot load model %r from %s: %s", spec.model, source.path, exc)
        raise ModelUnavailable(
            f"cannot load model {spec.model!r} on this server ({type(exc).__name__}; details in the server log)",
            field="embedder.model",
        ) from exc


# Exports done by this process: (model, files, what shapes the export) -> a private copy.
_EXPORTS: dict[str, Path] = {}
_EXPORTS_LOCK = threading.Lock()
_EXPORTS_DIR: tempfile.TemporaryDirectory[str] | None = None


def _export_key(source: ModelSource, spec: BertSpec) -> str:
    """Everything the exported files depend on: the model directory and its files, and the spec
    fields that reach the export (backend, window length, pooling of plain checkpoints)."""
    return json.dumps(
        [str(source.path), source.sentence_transformers, source.fingerprint(), spec.backend, spec.max_seq_length,
         spec.pooling],
        sort_keys=True,
    )


def export_onnx(source: ModelSource, spec: BertSpec, target: Path) -> None:
    """Export the model to ONNX (and quantise it for onnx-int8) into ``target``, a directory
    that then loads as a sentence-transformers model on the ONNX backend.

    The export (15-30 s on two cores) is done once per model and process: a later space of
    the same model, files and export settings gets a copy of the first export (a second or
    less), the same files it would have exported. The copies are kept in a temporary
    directory removed when the process exits.
    """
    global _EXPORTS_DIR
    key = _export_key(source, spec)
    with _EXPORTS_LOCK:  # one export at a time: two spaces of one model wait for the same export
        done = _EXPORTS.get(key)
        if done is not None and done.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(done, target)
            return
        _export(source, spec, target)
        if _EXPORTS_DIR is None:
            _EXPORTS_DIR = tempfile.TemporaryDirectory(prefix="vecdex-onnx-exports-")
        keep = Path(_EXPORTS_DIR.name) / str(len(_EXPORTS))
        shutil.copytree(target, keep)
        _EXPORTS[key] = keep


def _export(source: ModelSource, spec: BertSpec, target: Path) -> None:
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
    return pin_for_inference(model)
