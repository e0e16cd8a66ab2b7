"""Sentences -> id tensors for the biLM: token types for the char CNN, class ids for the softmax.

Two id spaces per token, because the model reads and predicts differently:
the *type* id points at the token's spelling (every distinct string, however
rare, so the CNN reads what is really there), the *target* id at its softmax
class (``<unk>`` for rare words). Both directions come from one sentence: the
backward LM's input is the sentence reversed, so it is the same code as the
forward one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from embedders.bilstm.vocab import BOS, EOS, WordVocab, char_ids

PAD_TYPE = 0
PAD_TARGET = -1


class TokenTypes:
    """Distinct token strings seen so far, with their char ids (row 0: padding, then <bos>, <eos>)."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._index: dict[str, int] = {}
        self._rows: list[tuple[int, ...]] = [(0,) * max_chars]
        for special in (BOS, EOS):
            self.id(special)

    def id(self, token: str) -> int:
        found = self._index.get(token)
        if found is None:
            found = self._index[token] = len(self._rows)
            self._rows.append(char_ids(token, self.max_chars))
        return found

    def chars(self) -> Tensor:
        """(n_types, max_chars) int64 char ids, row i for type i."""
        return torch.tensor(self._rows, dtype=torch.long)


@dataclass(frozen=True)
class EncodedSentences:
    """Sentences as ``[<bos>, w_1..w_n, <eos>]`` type ids and softmax class ids."""

    types: list[list[int]]
    targets: list[list[int]]

    @property
    def lengths(self) -> list[int]:
        return [len(t) for t in self.types]


def encode_sentences(sentences: Sequence[Sequence[str]], vocab: WordVocab, types: TokenTypes) -> EncodedSentences:
    type_rows: list[list[int]] = []
    target_rows: list[list[int]] = []
    for tokens in sentences:
        seq = [BOS, *tokens, EOS]
        type_rows.append([types.id(t) for t in seq])
        target_rows.append([vocab.id(t) for t in seq])
    return EncodedSentences(types=type_rows, targets=target_rows)


@dataclass(frozen=True)
class LMBatch:
    """Inputs and next-token targets of both directions, right-padded: all ``(batch, time)``."""

    forward_inputs: Tensor
    forward_targets: Tensor
    backward_inputs: Tensor
    backward_targets: Tensor
    tokens: int  # corpus tokens (words, no boundary marks) in the batch

    @property
    def time(self) -> int:
        return self.forward_inputs.shape[1]


def lm_batch(encoded: EncodedSentences, indices: Sequence[int]) -> LMBatch:
    """The batch of sentences ``indices``: forward predicts w_2..<eos>, backward w_{n-1}..<bos>."""
    time = max(len(encoded.types[i]) for i in indices) - 1
    shape = (len(indices), time)
    f_in = torch.full(shape, PAD_TYPE, dtype=torch.long)
    b_in = torch.full(shape, PAD_TYPE, dtype=torch.long)
    f_tg = torch.full(shape, PAD_TARGET, dtype=torch.long)
    b_tg = torch.full(shape, PAD_TARGET, dtype=torch.long)
    tokens = 0
    for row, i in enumerate(indices):
        seq, tgt = encoded.types[i], encoded.targets[i]
        n = len(seq) - 1
        tokens += n - 1
        f_in[row, :n] = torch.tensor(seq[:-1])
        f_tg[row, :n] = torch.tensor(tgt[1:])
        b_in[row, :n] = torch.tensor(seq[::-1][:-1])
        b_tg[row, :n] = torch.tensor(tgt[::-1][1:])
    return LMBatch(f_in, f_tg, b_in, b_tg, tokens)
