"""The biLM's torch modules: character CNN token encoder, LSTM stacks, shared adaptive softmax.

Architecture after Peters et al. (2018), "Deep contextualized word
representations" (ELMo), scaled down:

* token encoder: UTF-8 bytes -> char embeddings -> 1-D convolutions of several
  widths, max-pooled over the token -> highway layers -> linear projection = x_k.
  It needs no word vocabulary, so any string has a representation;
* two stacks of L LSTM layers, one reading the sentence left to right, one right
  to left (implemented as the same kind of stack run over the reversed
  sentence). Each layer's output is projected back to the token width, and
  layers after the first add their input (residual), as ELMo does;
* one adaptive softmax (Grave et al. 2017) shared by both directions, and one
  token encoder shared by both: the two language models differ only in their LSTMs.

The config saved next to the weights is exactly :class:`BiLMConfig`, the
constructor's arguments (sentence-transformers' habit), so a saved model is
rebuilt without any code path that depends on the training corpus.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

LSTMState = list[tuple[Tensor, Tensor]]
"""Per layer (h, c), each (1, batch, hidden): carried across truncated-BPTT chunks."""


DIV_VALUE = 4.0
"""Adaptive softmax: each tail cluster's projection is this many times narrower than the previous."""


def max_tail_clusters(projection_dim: int) -> int:
    """Tail clusters the adaptive softmax can afford: each keeps a projection of >= 4 units (at least one cluster,
    which PyTorch requires)."""
    n = 0
    while projection_dim // int(DIV_VALUE ** (n + 1)) >= 4:
        n += 1
    return max(1, n)


@dataclass(frozen=True)
class BiLMConfig:
    """Everything needed to rebuild a :class:`BiLM` (saved as config.json)."""

    n_words: int
    cutoffs: list[int]
    n_chars: int
    char_dim: int
    filters: list[tuple[int, int]]
    highway_layers: int
    max_chars: int
    projection_dim: int
    hidden_dim: int
    num_layers: int
    dropout: float
    div_value: float = DIV_VALUE

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> BiLMConfig:
        values = dict(data)
        values["filters"] = [tuple(f) for f in values["filters"]]
        values["cutoffs"] = list(values["cutoffs"])
        return cls(**values)


class Highway(nn.Module):
    """Highway layers (Srivastava et al. 2015): let the CNN features pass or be transformed, per unit."""

    def __init__(self, dim: int, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dim, 2 * dim) for _ in range(num_layers))
        for layer in self.layers:
            # Bias the gates towards carrying the input early in training (as ELMo/AllenNLP).
            nn.init.constant_(layer.bias[dim:], 1.0)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            transformed, gate = layer(x).chunk(2, dim=-1)
            g = torch.sigmoid(gate)
            x = g * x + (1.0 - g) * torch.relu(transformed)
        return x


class CharCNNEncoder(nn.Module):
    """Token (as char ids, ``(n, max_chars)``) -> x_k ``(n, projection_dim)``."""

    def __init__(
        self, n_chars: int, char_dim: int, filters: list[tuple[int, int]], highway_layers: int, output_dim: int
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(char_dim, count, width) for width, count in filters)
        width = sum(count for _, count in filters)
        self.highway = Highway(width, highway_layers)
        self.projection = nn.Linear(width, output_dim)

    def forward(self, chars: Tensor) -> Tensor:
        e = self.embedding(chars).transpose(1, 2)  # (n, char_dim, max_chars)
        # max over positions, then ReLU (the same as ReLU then max, and cheaper).
        features = torch.relu(torch.cat([conv(e).amax(dim=2) for conv in self.convs], dim=1))
        return self.projection(self.highway(features))


class LSTMStack(nn.Module):
    """L unidirectional LSTM layers, each followed by a projection; residual from layer 2 on."""

    def __init__(self, dim: int, hidden_dim: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.lstms = nn.ModuleList(nn.LSTM(dim, hidden_dim, batch_first=True) for _ in range(num_layers))
        self.projections = nn.ModuleList(nn.Linear(hidden_dim, dim) for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, state: LSTMState | None = None) -> tuple[list[Tensor], LSTMState]:
        """Run ``x`` (batch, time, dim); returns every layer's output and the final states."""
        outputs: list[Tensor] = []
        new_state: LSTMState = []
        inp = x
        for j, (lstm, projection) in enumerate(zip(self.lstms, self.projections, strict=True)):
            hidden, layer_state = lstm(self.dropout(inp), None if state is None else state[j])
            out = projection(hidden)
            if j > 0:
                out = out + inp
            outputs.append(out)
            new_state.append(layer_state)
            inp = out
        return outputs, new_state


class BiLM(nn.Module):
    """Forward and backward LSTM language models over a shared token encoder and softmax."""

    def __init__(self, config: BiLMConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = CharCNNEncoder(
            config.n_chars, config.char_dim, config.filters, config.highway_layers, config.projection_dim
        )
        self.forward_lm = LSTMStack(config.projection_dim, config.hidden_dim, config.num_layers, config.dropout)
        self.backward_lm = LSTMStack(config.projection_dim, config.hidden_dim, config.num_layers, config.dropout)
        self.output_dropout = nn.Dropout(config.dropout)
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(
            config.projection_dim, config.n_words, config.cutoffs, div_value=config.div_value
        )
        # Mean of each layer's representation over the training tokens, set after training
        # (see inference.corpus_layer_means); saved with the weights so centering survives a reload.
        self.register_buffer("layer_means", torch.zeros(config.num_layers + 1, 2 * config.projection_dim))

    def encode(self, chars: Tensor, type_ids: Tensor) -> Tensor:
        """x_k for a (batch, time) grid of token-type ids, encoding each distinct type once.

        ``chars`` holds one row of char ids per type. Encoding only the types a
        batch uses (not every position) is what keeps the CNN cheap on CPU.
        """
        used, inverse = torch.unique(type_ids, return_inverse=True)
        return self.encoder(chars[used])[inverse]

    def nll(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """Summed negative log-likelihood of ``targets`` (n,) given top-layer outputs (n, dim)."""
        return -self.softmax(self.output_dropout(hidden), targets).output.sum()

    def layers(self, chars: Tensor, type_ids: Tensor, lengths: Tensor) -> Tensor:
        """All 2L+1 representations, aligned per position: ``(L + 1, batch, time, 2 * dim)``.

        Layer 0 is ``[x_k; x_k]`` (so every layer has the same width); layer j is
        ``[forward h_j; backward h_j]``. ``type_ids`` are right-padded sentences
        (``<bos>`` ... ``<eos>``) of the given ``lengths``.
        """
        x = self.encode(chars, type_ids)
        forward, _ = self.forward_lm(x)
        index = reversal_index(lengths, type_ids.shape[1])
        backward, _ = self.backward_lm(reverse(x, index))
        out = [torch.cat([x, x], dim=-1)]
        out.extend(torch.cat([f, reverse(b, index)], dim=-1) for f, b in zip(forward, backward, strict=True))
        return torch.stack(out)


def reversal_index(lengths: Tensor, time: int) -> Tensor:
    """Gather index that reverses each row's first ``length`` positions and leaves padding in place.

    The backward LM is a left-to-right stack over reversed sentences; reversing
    only the real tokens keeps padding at the end, where a causal LSTM cannot
    let it leak into real positions.
    """
    positions = torch.arange(time).unsqueeze(0)
    lengths = lengths.unsqueeze(1)
    return torch.where(positions < lengths, lengths - 1 - positions, positions)


def reverse(values: Tensor, index: Tensor) -> Tensor:
    """Apply :func:`reversal_index` to a (batch, time) or (batch, time, dim) tensor."""
    if values.dim() == 2:
        return values.gather(1, index)
    return values.gather(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]))
