"""Chinese text for the shared tokenizer: jieba segmentation, a corpus's own terms, Chinese stop words.

Why a user dictionary here rather than ``jieba.add_word``: jieba's dictionary is
one per process, so a word added for one space would change how every other
space (and every saved model) cuts its text — and a saved model must tokenize
queries exactly as it tokenized its training corpus. Instead, a space's
``user_words`` are found in each Han run first (longest match, left to right)
and kept whole; jieba segments only the text between them. jieba's default
dictionary splits terms such as 词向量 or 大语言模型 (词 / 向量), so on a corpus
about word vectors the corpus's own key term would otherwise never be a token.

Chinese stop words come from stopwords-iso (the ``stopwordsiso`` package: 794
words for ``zh``, MIT), the list most multilingual toolkits draw on; function
words such as 的, 是, 和, 了 are on it.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Container, Sequence
from functools import lru_cache
from typing import Any

__all__ = [
    "HAN",
    "chinese_stopwords",
    "is_han_word",
    "known_pieces",
    "search_pieces",
    "segment_han",
    "user_word_pattern",
]

HAN = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
"""Han ideographs (CJK unified + extensions A-G, compatibility ideographs) and the iteration
marks 〇/々: the scripts written without spaces that jieba segments."""
_HAN_WORD = re.compile(f"[{HAN}]+")

_jieba_lock = threading.Lock()
_jieba: Any = None


def _load_jieba() -> Any:
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                # jieba announces its dictionary loading on its own logger (and
                # stderr); silence it, and load now so the first query is not slow.
                jieba.setLogLevel(logging.WARNING)
                jieba.default_logger.setLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def is_han_word(word: str) -> bool:
    """Whether ``word`` is made of Han characters only (what a user word must be)."""
    return bool(_HAN_WORD.fullmatch(word))


@lru_cache(maxsize=64)
def user_word_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex finding any of ``words`` (longest first, so 大语言模型 wins over 语言模型); None for none."""
    if not words:
        return None
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    return re.compile("|".join(map(re.escape, ordered)))


def segment_han(run: str, user_words: re.Pattern[str] | None = None, *, search: bool = False) -> list[str]:
    """A run of Han characters cut into words: the user's words kept whole, the rest by jieba (with HMM).

    ``search``: jieba's search-engine mode, which also emits the dictionary words inside a long word
    (败走麦城 -> 败走, 麦城, 走麦城, 败走麦城), so a query's idiom still meets the text's plain words.
    """
    jieba = _load_jieba()
    cut = jieba.lcut_for_search if search else jieba.lcut
    if user_words is None:
        return cut(run, HMM=True)  # type: ignore[no-any-return]
    out: list[str] = []
    at = 0
    for found in user_words.finditer(run):
        if found.start() > at:
            out.extend(cut(run[at : found.start()], HMM=True))
        out.append(found.group())
        at = found.end()
    if at < len(run):
        out.extend(cut(run[at:], HMM=True))
    return out


def known_pieces(word: str, known: Container[str], *, longest: int = 16) -> list[str]:
    """The fewest pieces of ``known`` that cover most of ``word`` (a Han word a model does not know).

    A dynamic programme over the word's characters: first as few characters left
    uncovered as possible, then as few pieces as possible, ties to the longer first
    piece; uncovered characters are dropped. The model's own vocabulary is the
    dictionary, so a compound jieba glued together (失街亭, 斩马谡) falls back on the
    words the corpus does use as tokens (失 + 街亭, 斩 + 马谡), down to single
    characters when those are all it knows. ``word`` itself is never a piece
    (the caller asks because it is unknown); pieces are at most ``longest`` characters.
    """
    n = len(word)
    if n < 2:
        return []
    # best[i]: (uncovered, pieces, next position, piece or None) for word[i:].
    best: list[tuple[int, int, int, str | None]] = [(0, 0, n, None)] * (n + 1)
    for i in range(n - 1, -1, -1):
        choice = (best[i + 1][0] + 1, best[i + 1][1], i + 1, None)  # leave word[i] uncovered
        for j in range(min(n, i + longest), i, -1):  # longest first: it wins ties
            piece = word[i:j]
            if (i, j) == (0, n) or piece not in known:
                continue
            cost = (best[j][0], best[j][1] + 1)
            if cost < choice[:2]:
                choice = (*cost, j, piece)
        best[i] = choice
    out: list[str] = []
    i = 0
    while i < n:
        _, _, j, piece = best[i]
        if piece is not None:
            out.append(piece)
        i = j
    return out


def search_pieces(word: str, known: Container[str]) -> list[str]:
    """The known words jieba's search mode finds inside ``word`` (失街亭 -> 街亭), else its known characters."""
    jieba = _load_jieba()
    pieces = [p for p in jieba.lcut_for_search(word, HMM=True) if p != word and p in known]
    return pieces or [c for c in word if c in known]


@lru_cache(maxsize=1)
def chinese_stopwords() -> frozenset[str]:
    """stopwords-iso's Chinese list, NFKC-normalised like the text it is compared with."""
    import stopwordsiso

    return frozenset(unicodedata.normalize("NFKC", w) for w in stopwordsiso.stopwords("zh") if w)


def normalise_user_words(words: Sequence[str]) -> list[str]:
    """NFKC, stripped, deduplicated and sorted: the stored form of a spec's ``user_words``."""
    return sorted({unicodedata.normalize("NFKC", w).strip() for w in words} - {""})
