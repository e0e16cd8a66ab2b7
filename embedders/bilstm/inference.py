"""Running a trained biLM: sentences -> the 2L+1 layer representations -> ELMo vectors -> pooled vectors.

Peters et al. (2018): for token k, R_k = {x_k, [h_fwd_kj; h_bwd_kj] for j = 1..L}
and ELMo_k = gamma * sum_j s_j R_kj with softmax-normalised s. Here s comes from
the spec (uniform, top layer, or user logits) instead of being learnt by a
downstream task, because vecdex has no downstream task: the vectors go straight
into a similarity index.

Everything runs in eval mode under ``torch.inference_mode()``. The callers batch
the sentences of *one* text together, never sentences of different texts: a
CPU matmul's last bits can depend on the batch's shape, and a document's vector
must be bit-identical whatever it is embedded with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from embedders.base import Progress
from embedders.bilstm.batches import PAD_TYPE, TokenTypes
from embedders.bilstm.data import length_batches
from embedders.bilstm.model import BiLM
from embedders.bilstm.spec import LayerWeighting, Pooling
from embedders.bilstm.vocab import BOS, EOS

INFER_BATCH = 64
"""Sentences per forward pass when embedding."""


def layer_weights(layers: LayerWeighting, num_layers: int) -> Tensor:
    """The mixing weights s over the L+1 layers (float32, summing to 1)."""
    if layers == "average":
        return torch.full((num_layers + 1,), 1.0 / (num_layers + 1))
    if layers == "top":
        s = torch.zeros(num_layers + 1)
        s[-1] = 1.0
        return s
    return torch.softmax(torch.tensor(layers, dtype=torch.float64), dim=0).to(torch.float32)


def token_layers(model: BiLM, sentences: Sequence[Sequence[str]]) -> Tensor:
    """Representations of every token of ``sentences``, in order: ``(L + 1, n_tokens, 2 * dim)``.

    Each sentence is wrapped in ``<bos>``/``<eos>`` as in training; the boundary
    positions are dropped from the output.
    """
    n_layers = model.config.num_layers + 1
    width = 2 * model.config.projection_dim
    if not sentences:
        return torch.zeros((n_layers, 0, width))
    types = TokenTypes(model.config.max_chars)
    encoded = [[types.id(t) for t in (BOS, *tokens, EOS)] for tokens in sentences]
    chars = types.chars()
    pieces: list[Tensor | None] = [None] * len(encoded)
    with torch.inference_mode():
        for indices in length_batches([len(e) for e in encoded], INFER_BATCH, None):
            time = max(len(encoded[i]) for i in indices)
            type_ids = torch.full((len(indices), time), PAD_TYPE, dtype=torch.long)
            for row, i in enumerate(indices):
                type_ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
            lengths = torch.tensor([len(encoded[i]) for i in indices])
            reps = model.layers(chars, type_ids, lengths)
            for row, i in enumerate(indices):
                pieces[i] = reps[:, row, 1 : len(encoded[i]) - 1]
        return torch.cat([p for p in pieces if p is not None], dim=1)


def mix(reps: Tensor, weights: Tensor, gamma: float, means: Tensor | None = None) -> Tensor:
    """ELMo vectors ``(n, width)`` from representations ``(L + 1, n, width)``.

    With ``means`` (the training corpus's mean per layer, ``(L + 1, width)``) each
    layer is centred first. Contextual representations share a large common
    component (Ethayarajh 2019, "How contextual are contextualized word
    representations?"): uncentred, any two documents' mean vectors have a cosine
    near 1 and similarity rankings are mostly noise.
    """
    if means is not None:
        reps = reps - means.unsqueeze(1)
    return gamma * torch.einsum("l,lnd->nd", weights, reps)


STATISTICS_CHUNK = 512
"""Sentences per step of :func:`corpus_layer_means` (bounds memory; one progress unit each)."""


def corpus_layer_means(model: BiLM, sentences: Sequence[Sequence[str]], progress: Progress) -> Tensor:
    """Mean representation per layer over every token of ``sentences``: ``(L + 1, width)``.

    Progress phase "statistics", one unit per :data:`STATISTICS_CHUNK` sentences.
    """
    n_layers = model.config.num_layers + 1
    total = torch.zeros((n_layers, 2 * model.config.projection_dim), dtype=torch.float64)
    count = 0
    chunks = range(0, len(sentences), STATISTICS_CHUNK)
    progress.start("statistics", len(chunks))
    for start in chunks:
        reps = token_layers(model, sentences[start : start + STATISTICS_CHUNK])
        total += reps.sum(dim=1, dtype=torch.float64)
        count += reps.shape[1]
        progress.advance(1)
    return (total / max(count, 1)).to(torch.float32)


def pool(vectors: Tensor, pooling: Pooling) -> np.ndarray:
    """One float32 vector for a text from its tokens' ELMo vectors ``(n >= 1, width)``."""
    if pooling == "mean":
        out = vectors.mean(dim=0)
    elif pooling == "max":
        out = vectors.amax(dim=0)
    else:
        out = torch.cat([vectors.mean(dim=0), vectors.amax(dim=0)])
    return out.numpy().astype(np.float32, copy=True)


def context_free_vectors(
    model: BiLM, words: Sequence[str], weights: Tensor, gamma: float, means: Tensor | None
) -> np.ndarray:
    """Each word's ELMo vector as a one-word sentence, unit-normalised: ``(len(words), width)``.

    The yardstick for contextual neighbours: what the model makes of a word with
    no context at all. Words are run in fixed chunks in vocabulary order, so the
    result is the same on every call and after a reload.
    """
    chunks = []
    for start in range(0, len(words), 1024):
        chunk = [[w] for w in words[start : start + 1024]]
        chunks.append(mix(token_layers(model, chunk), weights, gamma, means))
    vectors = torch.cat(chunks).numpy().astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
