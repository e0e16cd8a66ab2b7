"""Long texts -> overlapping token windows, cut at word starts.

A transformer sees at most ``max_seq_length`` tokens; sentence-transformers
silently truncates the rest. To embed a whole document we cut it into windows
of that many tokens (minus special and prompt tokens) that overlap by a few
tokens, embed each window and pool. Windows are substrings of the original
text (found through the fast tokenizer's character offsets), so embedding a
window is exactly embedding that text, and a text that fits in one window is
passed through unchanged — its vector equals sentence-transformers' own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def window_starts_at_words(word_ids: Sequence[int | None]) -> list[bool]:
    """For each token: does a word start here (so cutting before it splits no word)?"""
    out: list[bool] = []
    previous: int | None = None
    for i, word in enumerate(word_ids):
        out.append(i == 0 or word is None or word != previous)
        previous = word
    return out


def token_spans(
    n_tokens: int, word_start: Sequence[bool], window: int, overlap: int, max_windows: int
) -> list[tuple[int, int]]:
    """Token ranges [start, end) covering ``n_tokens`` tokens in windows of at most ``window``.

    Consecutive windows share about ``overlap`` tokens (capped at half a window so
    the walk always advances); both ends are moved to word starts when a word
    start lies within the window, so no word is cut in two. At most
    ``max_windows`` windows: a longer text is covered up to that point only.
    """
    if window < 1:
        raise ValueError("window must be at least one token")
    if n_tokens <= window:
        return [(0, n_tokens)]
    overlap = max(0, min(overlap, window // 2))
    spans: list[tuple[int, int]] = []
    start = 0
    while start < n_tokens and len(spans) < max_windows:
        end = min(start + window, n_tokens)
        if end < n_tokens:
            cut = end
            while cut > start + 1 and not word_start[cut]:
                cut -= 1
            if cut > start + 1:
                end = cut
        spans.append((start, end))
        if end >= n_tokens:
            break
        nxt = max(start + 1, end - overlap)
        while nxt < end and not word_start[nxt]:
            nxt += 1
        start = nxt
    return spans


def split_texts(
    texts: Sequence[str], tokenizer: Any, window: int, overlap: int, max_windows: int
) -> list[list[str]]:
    """Each text's windows (a one-element list when it fits in one window).

    ``tokenizer`` is a Hugging Face *fast* tokenizer (character offsets and word
    ids are needed); all texts are tokenised in one batched call.
    """
    return split_texts_counted(texts, tokenizer, window, overlap, max_windows)[0]


def split_texts_counted(
    texts: Sequence[str], tokenizer: Any, window: int, overlap: int, max_windows: int
) -> tuple[list[list[str]], list[list[int]]]:
    """:func:`split_texts` and each window's length in tokens (without special tokens).

    The lengths come from the same tokeniser call, so batching windows by the tokens
    the model will see costs no second tokenisation.
    """
    if not texts:
        return [], []
    encoded = tokenizer(
        list(texts),
        add_special_tokens=False,
        return_offsets_mapping=True,
        return_attention_mask=False,
        return_token_type_ids=False,
        truncation=False,
        verbose=False,
    )
    out: list[list[str]] = []
    lengths: list[list[int]] = []
    for i, text in enumerate(texts):
        offsets = encoded["offset_mapping"][i]
        if len(offsets) <= window:
            out.append([text])
            lengths.append([len(offsets)])
            continue
        starts = window_starts_at_words(encoded.word_ids(i))
        spans = token_spans(len(offsets), starts, window, overlap, max_windows)
        out.append([text[offsets[a][0] : offsets[b - 1][1]] for a, b in spans])
        lengths.append([b - a for a, b in spans])
    return out, lengths
