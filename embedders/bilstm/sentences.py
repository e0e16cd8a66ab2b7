"""Documents -> sentences of tokens, the unit the language model is trained and run on.

A language model conditions on the sentence it is in; running it over a whole
news article would blur the start and end of every sentence into one long state
and make a token's vector depend on paragraphs away. ELMo was trained and is
used sentence by sentence, so vecdex does the same.

Splitting is deliberately simple and script-aware rather than linguistic: a
sentence ends at ``. ! ? …`` (plus closing quotes/brackets) followed by
whitespace, at the CJK full stops ``。！？`` (no space follows them in Chinese or
Japanese), or at a line break. Abbreviations ("Mr. Howard") over-split, which
costs the LM a little context and nothing else. Runs without punctuation are cut
into windows of :data:`MAX_SENTENCE_TOKENS`, so one unpunctuated blob cannot
make a sequence thousands of steps long.
"""

from __future__ import annotations

import re

from embedders.tokenizer import Tokenizer

MAX_SENTENCE_TOKENS = 128
"""Longest token sequence the model sees at once; longer sentences are cut into windows."""

_SENTENCE_END = re.compile(
    r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+"  # Latin-style end, then space
    r"|(?<=[\u3002\uff01\uff1f\uff0e])[\"'\u201d\u2019\u300d\u300f\uff09]*\s*"  # CJK full stops: no space needed
    r"|\n+"
)


def split_sentences(text: str) -> list[str]:
    """The sentences of a text (non-empty, stripped), in order."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def sentence_tokens(text: str, tokenizer: Tokenizer) -> list[list[str]]:
    """Token lists of each sentence of ``text``; sentences without tokens are dropped."""
    out: list[list[str]] = []
    for sentence in split_sentences(text):
        tokens = tokenizer.tokenize(sentence)
        for start in range(0, len(tokens), MAX_SENTENCE_TOKENS):
            out.append(tokens[start : start + MAX_SENTENCE_TOKENS])
    return out
