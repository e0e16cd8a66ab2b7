"""Passages of a text: token windows with overlap, paragraphs, Chinese counted by character, offsets that
cut the original text, and a spec refused when it cannot work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from embedders.chunking import MAX_PASSAGES, ChunkSpec, passages

WORDS = " ".join(f"w{i}" for i in range(25))  # 25 tokens


def _tokens(text: str, span: tuple[int, int]) -> list[str]:
    return text[span[0]:span[1]].split()


def test_token_windows_overlap_and_cover_the_text() -> None:
    spans = passages(WORDS, ChunkSpec(size=10, overlap=3))
    got = [_tokens(WORDS, s) for s in spans]
    assert got[0] == [f"w{i}" for i in range(10)]
    assert got[1][:3] == got[0][-3:] and got[1][0] == "w7"
    assert got[-1][-1] == "w24" and len(spans) == 4  # starts 0, 7, 14, 21
    assert all(WORDS[a].isalnum() and WORDS[b - 1].isalnum() for a, b in spans)


def test_a_short_text_is_one_passage_and_an_empty_one_none() -> None:
    assert passages("  Hello, world!  ", ChunkSpec(size=10, overlap=0)) == [(2, 14)]
    assert passages("  ... !! ", ChunkSpec(size=10, overlap=0)) == []
    assert passages("", ChunkSpec()) == []


def test_paragraphs_are_passages_and_long_ones_are_cut() -> None:
    text = "First paragraph here.\n\n  Second one,\nstill second.\n \nThird " + WORDS
    spans = passages(text, ChunkSpec(by="paragraphs", size=10, overlap=0))
    assert text[slice(*spans[0])] == "First paragraph here"
    assert text[slice(*spans[1])] == "Second one,\nstill second"
    assert text[slice(*spans[2])].startswith("Third w0") and len(spans) == 2 + 3  # 26 tokens in windows of 10


def test_chinese_counts_characters() -> None:
    text = "词向量是语言模型的基础。" * 2  # 22 Han characters (the full stops are no tokens)
    spans = passages(text, ChunkSpec(size=8, overlap=2))
    assert [b - a for a, b in spans][0] == 8 and text[slice(*spans[0])] == "词向量是语言模型"
    assert text[spans[-1][1] - 1] == "础"


def test_at_most_max_passages_the_last_runs_to_the_end() -> None:
    text = " ".join(["x"] * (MAX_PASSAGES * 8 + 50))
    spans = passages(text, ChunkSpec(size=8, overlap=0))
    assert len(spans) == MAX_PASSAGES and spans[-1][1] == len(text)


def test_overlap_must_be_below_size() -> None:
    with pytest.raises(ValidationError, match="overlap"):
        ChunkSpec(size=10, overlap=10)
    with pytest.raises(ValidationError):
        ChunkSpec(size=2)
