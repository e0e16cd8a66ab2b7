"""Running a loaded torch model fast on CPU: prepacked linear weights, batches by token budget.

Measured on the 2-core development machine at one thread (bench/RESULTS.md, "vecdex vs txtai"):

* **Prepacked weights.** ``nn.Linear`` hands its weight to the BLAS on every call, which lays it
  out again for its kernel each time; for a one-query forward pass (M = ~20 rows against 384x1536
  weights) that re-layout is a large part of the work. oneDNN's linear with the weight laid out once
  at load (:func:`pack_linears`) ran a one-query forward pass in 0.83-0.94x the time and a batch in
  ~0.8x, with hidden states within 3e-6 of torch's own (the same arithmetic, another summation order).
* **Token budget per forward pass.** 32 windows of up to 256 tokens make activations of tens of MB
  that no cache holds; forward passes of ~1,000 padded tokens (:func:`token_batches`) embedded the
  same documents in ~0.7x the CPU time of batches of 32 (vectors equal: padding is masked).
"""

from __future__ import annotations

import logging
import types
from collections.abc import Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def pack_linears(model: Any) -> int:
    """Give every float32 ``nn.Linear`` of ``model`` a oneDNN weight laid out once; return how many.

    The module keeps its own ``weight`` (state dicts, dtype queries and anything reading it see the
    same tensors); only its ``forward`` runs on the packed copy. Nothing is packed when this torch
    has no oneDNN, or when packing fails: the model then runs as loaded, with the same vectors.
    """
    import torch

    if not torch.backends.mkldnn.is_available():
        return 0
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.weight.dtype == torch.float32]
    packed = 0
    for linear in linears:
        try:
            with torch.no_grad():
                weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), None)
                probe = torch.zeros(1, linear.in_features)
                expected = torch.nn.functional.linear(probe, linear.weight, linear.bias)
                got = torch.ops.mkldnn._linear_pointwise(probe, weight, linear.bias, "none", [], "")
            if got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-5):
                raise RuntimeError("packed linear disagrees with torch's")
        except (RuntimeError, AttributeError) as exc:  # an op missing from this build: run unpacked
            log.info("not packing linear weights (%s); the model runs as loaded", exc)
            return packed
        linear._vecdex_packed = weight
        linear.forward = types.MethodType(_packed_forward, linear)
        packed += 1
    return packed


def _packed_forward(self: Any, x: Any) -> Any:
    """``nn.Linear.forward`` on the packed weight (a no-grad inference model only)."""
    import torch

    return torch.ops.mkldnn._linear_pointwise(x, self._vecdex_packed, self.bias, "none", [], "")


def token_batches(lengths: Sequence[int], max_texts: int, max_tokens: int) -> list[np.ndarray]:
    """Indices of texts grouped into forward passes, longest first.

    Each group has at most ``max_texts`` texts and, padded to its longest, at most ``max_tokens``
    tokens (a text longer than the budget goes alone). Sorting by length keeps padding small,
    as sentence-transformers' own sort by characters does, but by the tokens the model sees.
    """
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    groups: list[np.ndarray] = []
    i = 0
    while i < len(order):
        longest = max(1, int(lengths[order[i]]))
        size = max(1, min(max_texts, max_tokens // longest))
        groups.append(order[i : i + size])
        i += size
    return groups
