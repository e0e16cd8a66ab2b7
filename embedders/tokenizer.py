"""The one tokenizer shared by every embedder family and by keyword search.

Sharing it matters: a query must be cut into the same tokens as the documents
a model was trained on, and keyword search must agree with the embedders on
what a "word" is, whatever the script. So this module is deliberately small,
dependency-light (jieba is imported only when CJK text shows up) and fast,
because it runs on every document of every corpus, on every training pass.

Pipeline: NFKC normalisation -> split into Han runs and everything else ->
Han runs segmented by jieba, the rest split into Unicode words (letters,
digits and combining marks of any script, with internal apostrophes, hyphens
and decimal points kept) -> case folding -> length and stop-word filters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from .cjk import HAN, chinese_stopwords, is_han_word, normalise_user_words, segment_han, user_word_pattern
from .strict_numbers import numbers_are_not_booleans

# gensim's English stop-word list (gensim.parsing.preprocessing.STOPWORDS, the
# Glasgow IR list), copied because importing gensim.parsing pulls in all of gensim
# (~2 s) and keyword search must not pay that. A test keeps the copy in sync.
GENSIM_STOPWORDS: frozenset[str] = frozenset(
    """
    a about above across after afterwards again against all almost alone along already also although always am among
    amongst amoungst amount an and another any anyhow anyone anything anyway anywhere are around as at back be became
    because become becomes becoming been before beforehand behind being below beside besides between beyond bill both
    bottom but by call can cannot cant co computer con could couldnt cry de describe detail did didn do does doesn
    doing don done down due during each eg eight either eleven else elsewhere empty enough etc even ever every everyone
    everything everywhere except few fifteen fifty fill find fire first five for former formerly forty found four from
    front full further get give go had has hasnt have he hence her here hereafter hereby herein hereupon hers herself
    him himself his how however hundred i ie if in inc indeed interest into is it its itself just keep kg km last
    latter latterly least less ltd made make many may me meanwhile might mill mine more moreover most mostly move much
    must my myself name namely neither never nevertheless next nine no nobody none noone nor not nothing now nowhere of
    off often on once one only onto or other others otherwise our ours ourselves out over own part per perhaps please
    put quite rather re really regarding same say see seem seemed seeming seems serious several she should show side
    since sincere six sixty so some somehow someone something sometime sometimes somewhere still such system take ten
    than that the their them themselves then thence there thereafter thereby therefore therein thereupon these they
    thick thin third this those though three through throughout thru thus to together too top toward towards twelve
    twenty two un under unless until up upon us used using various very via was we well were what whatever when
    whence whenever where whereafter whereas whereby wherein whereupon wherever whether which while whither who whoever
    whole whom whose why will with within without would yet you your yours yourself yourselves
    """.split()
)

# Words of that list that carry topic - its known oddities (Nothman, Qin & Yurchak
# 2018, "Stop Word Lists in Free Open-source Software Packages"). A search service
# must not drop them: the Lee demo corpus is about bushfires, and "fire" is on it.
CONTENT_WORDS_KEPT: frozenset[str] = frozenset(
    """
    amount bill bottom call computer con cry de describe detail empty fill find fire found front full interest kg km
    mill move name part serious show side sincere system thick thin top
    """.split()
)

ENGLISH_STOPWORDS: frozenset[str] = GENSIM_STOPWORDS - CONTENT_WORDS_KEPT
"""The list used for ``stopwords="english"``: gensim's, minus :data:`CONTENT_WORDS_KEPT`."""

_HAN_RUNS = re.compile(f"([{HAN}]+)")

# Apostrophe and hyphen look-alikes that NFKC leaves alone; mapped to ASCII so
# "don’t" and "don't" are one token.
_CONNECTOR_MAP = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'", "\u2010": "-", "\u2011": "-"}
)


@lru_cache(maxsize=1)
def _combining_marks() -> str:
    """A regex class body of every combining mark (categories Mn, Mc, Me).

    Python's ``\\w`` excludes marks, which would cut Devanagari, Thai or Arabic
    words at every vowel sign. ``re`` has no ``\\p{M}``, so the class is built
    once from :mod:`unicodedata` (scanning only the planes that hold marks, ~30 ms).
    """
    codes = [c for r in (range(0x0300, 0x20000), range(0xE0100, 0xE01F0)) for c in r
             if unicodedata.category(chr(c))[0] == "M"]
    parts: list[str] = []
    start = prev = codes[0]
    for code in codes[1:] + [-1]:
        if code == prev + 1:
            prev = code
            continue
        parts.append(re.escape(chr(start)) if start == prev else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
        start = prev = code
    return "".join(parts)


@lru_cache(maxsize=4)
def _word_pattern(split_hyphens: bool) -> re.Pattern[str]:
    """Words: runs of letters/digits/marks, joined by internal ' or - or a decimal point/comma between digits."""
    char = f"[\\w{_combining_marks()}]"  # underscores are turned into spaces before matching
    joiners = "'" if split_hyphens else "'\\-"
    return re.compile(f"{char}+(?:(?:[{joiners}]|(?<=\\d)[.,](?=\\d)){char}+)*")


class TextTokenizer(Protocol):
    """What training and embedding need of a tokenizer: the shared :class:`Tokenizer`, or one that also
    joins learned phrases (:class:`embedders.phrases.PhrasedTokenizer`)."""

    def tokenize(self, text: str) -> list[str]: ...


class TokenizerSpec(BaseModel):
    """How text becomes tokens; stored inside every embedder spec so a saved model
    tokenizes queries exactly as it tokenized its training corpus."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _numbers_are_not_booleans = numbers_are_not_booleans()

    lowercase: StrictBool = Field(True, description="Unicode case folding (casefold), so 'STRASSE' matches 'straße'.")
    stopwords: Literal["none", "english", "chinese", "english+chinese"] | list[str] = Field(
        "none",
        description=(
            "'english' (gensim's list less its content words), 'chinese' (stopwords-iso's zh list: 的, 是, 和, 了 ...), "
            "'english+chinese', 'none', or a list of words to drop."
        ),
    )
    min_length: int = Field(1, ge=1, le=100, description="Drop tokens shorter than this (in characters).")
    max_length: int = Field(64, ge=1, le=10_000, description="Drop longer tokens (URLs, base64 blobs, hashes).")
    numbers: StrictBool = Field(True, description="Keep tokens made only of digits (and . , between digits).")
    split_hyphens: StrictBool = Field(False, description="Cut 'south-west' into 'south', 'west' instead of one token.")
    strip_possessive: StrictBool = Field(True, description="\"Sydney's\" -> 'sydney', so possessives share a vector.")
    segment_cjk: StrictBool = Field(True, description="Segment Han text with jieba; otherwise each character is a token.")
    segment_mode: Literal["precise", "search"] = Field(
        "precise",
        description=(
            "jieba's mode: 'precise' (one cut) or 'search' (also the words inside long ones: 败走麦城 -> 败走, 麦城, "
            "走麦城, 败走麦城; for keyword spaces, whose queries then meet the text's plain words)."
        ),
    )
    user_words: list[str] = Field(
        default_factory=list,
        max_length=20_000,
        description=(
            "Han terms segmentation keeps whole (a user dictionary for this space only: 词向量, 大语言模型); "
            "found first, longest match, and jieba cuts only the text between them."
        ),
    )

    @field_validator("user_words")
    @classmethod
    def _han_user_words(cls, value: list[str]) -> list[str]:
        for i, word in enumerate(normalise_user_words([w]) for w in value):
            if len(word) != 1 or not is_han_word(word[0]) or len(word[0]) > 64:
                raise ValueError(
                    f"user_words[{i}] must be 1-64 Han characters (other scripts are split at spaces already), "
                    f"got {value[i][:70]!r}"
                )
        return normalise_user_words(value)

    @field_validator("stopwords")
    @classmethod
    def _normalise_stopwords(cls, value: Any) -> Any:
        if isinstance(value, list):
            return sorted({unicodedata.normalize("NFKC", w).translate(_CONNECTOR_MAP).casefold() for w in value if w})
        return value

    @field_validator("max_length")
    @classmethod
    def _max_not_below_min(cls, value: int, info: Any) -> int:
        min_length = info.data.get("min_length", 1)
        if value < min_length:
            raise ValueError(f"max_length ({value}) must be >= min_length ({min_length})")
        return value


class Tokenizer:
    """Turns text into the tokens every family trains and queries on.

    Construction resolves the spec into a compiled pattern and a stop-word set
    once, so :meth:`tokenize` does only regex work per call. Instances are
    immutable and thread-safe.
    """

    def __init__(self, spec: TokenizerSpec | None = None) -> None:
        self.spec = spec or TokenizerSpec()
        self._words = _word_pattern(self.spec.split_hyphens)
        stop = self.spec.stopwords
        if isinstance(stop, list):
            self._stop: frozenset[str] = frozenset(stop)
        else:
            self._stop = frozenset().union(
                *(ENGLISH_STOPWORDS if name == "english" else chinese_stopwords() for name in stop.split("+") if name != "none")
            )
        self._user_words = user_word_pattern(tuple(self.spec.user_words))

    def tokenize(self, text: str) -> list[str]:
        """Tokens of one text, in order; an empty list when nothing is left."""
        if not text:
            return []
        # Underscore counts as \\w for re; it joins identifiers, not words, so make it a space.
        text = unicodedata.normalize("NFKC", text).translate(_CONNECTOR_MAP).replace("_", " ")
        spec = self.spec
        raw: list[str] = []
        # re.split with a capturing group alternates: other text, Han run, other text, ...
        for i, part in enumerate(_HAN_RUNS.split(text)):
            if not part:
                continue
            if i % 2:
                raw.extend(
                    segment_han(part, self._user_words, search=spec.segment_mode == "search") if spec.segment_cjk else part
                )
            else:
                raw.extend(self._words.findall(part))
        out: list[str] = []
        for token in raw:
            if spec.lowercase:
                token = token.casefold()
            if spec.strip_possessive and len(token) > 2 and token[-2] == "'" and token[-1] in "sS":
                token = token[:-2]
            if not (spec.min_length <= len(token) <= spec.max_length):
                continue
            if not spec.numbers and _is_number(token):
                continue
            if self._stop and (token if spec.lowercase else token.casefold()) in self._stop:
                continue
            out.append(token)
        return out

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokens of several texts (a convenience for batches)."""
        return [self.tokenize(t) for t in texts]

    def __repr__(self) -> str:
        return f"Tokenizer({self.spec!r})"


def _is_number(token: str) -> bool:
    return token.replace(".", "").replace(",", "").isdecimal()

