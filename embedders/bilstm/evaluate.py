"""Perplexity of the biLM on held-out sentences, and of a unigram model on the same targets.

The unigram figure is the yardstick that says whether the LM learnt anything
beyond word frequencies: both are measured over exactly the same targets
(forward: w_2..w_n, <eos>; backward: w_{n-1}..w_1, <bos>) with the same
``<unk>`` mapping, and the biLM's figure is exp of the mean negative
log-likelihood over both directions (ELMo reports the average of the two).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from embedders.bilstm.batches import EncodedSentences, lm_batch
from embedders.bilstm.data import length_batches
from embedders.bilstm.model import BiLM

EVAL_BATCH = 64


def nll_sum(
    model: BiLM, chars: torch.Tensor, encoded: EncodedSentences, batch_size: int = EVAL_BATCH
) -> tuple[float, int]:
    """Summed negative log-likelihood and number of targets over all sentences (eval mode, no grad)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for indices in length_batches(encoded.lengths, batch_size, None):
                batch = lm_batch(encoded, indices)
                x = model.encode(chars, torch.cat([batch.forward_inputs, batch.backward_inputs]))
                x_f, x_b = x.split(len(indices))
                top_f = model.forward_lm(x_f)[0][-1]
                top_b = model.backward_lm(x_b)[0][-1]
                mask_f, mask_b = batch.forward_targets >= 0, batch.backward_targets >= 0
                hidden = torch.cat([top_f[mask_f], top_b[mask_b]])
                targets = torch.cat([batch.forward_targets[mask_f], batch.backward_targets[mask_b]])
                total += float(model.nll(hidden, targets))
                count += int(targets.numel())
    finally:
        model.train(was_training)
    return total, count


def perplexity(model: BiLM, chars: torch.Tensor, encoded: EncodedSentences) -> float:
    total, count = nll_sum(model, chars, encoded)
    return math.exp(total / count) if count else float("nan")


def lm_targets(targets: Sequence[Sequence[int]]) -> np.ndarray:
    """Every class id the biLM predicts for these sentences, both directions."""
    out: list[int] = []
    for tgt in targets:
        out.extend(tgt[1:])
        out.extend(tgt[::-1][1:])
    return np.asarray(out, dtype=np.int64)


def unigram_perplexity(train: EncodedSentences, heldout: EncodedSentences, n_classes: int) -> float:
    """Held-out perplexity of add-one-smoothed unigram frequencies from the training targets."""
    counts = np.bincount(lm_targets(train.targets), minlength=n_classes).astype(np.float64)
    log_p = np.log((counts + 1.0) / (counts.sum() + n_classes))
    held = lm_targets(heldout.targets)
    return float(np.exp(-log_p[held].mean())) if held.size else float("nan")
