"""The two vocabularies of the biLM: words for the output softmax, bytes for the char CNN.

They have opposite jobs. The *word* vocabulary is what the language model
predicts, so it must be finite and frequency-ordered (the adaptive softmax puts
frequent words in its cheap head); rare and unseen words become ``<unk>``
targets. The *character* side is what the model reads, so it must be open: a
token is read as its UTF-8 bytes (as ELMo does), which gives every possible
string - an unseen English word, a Chinese character the corpus never
contained - a representation, without any character vocabulary to save.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from embedders.errors import EmptyVocabulary

UNK, BOS, EOS = "<unk>", "<bos>", "<eos>"
SPECIALS: tuple[str, ...] = (UNK, BOS, EOS)
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2

HEAD_COVERAGE = 0.80
"""The softmax head holds the words covering this share of training targets."""
TAIL_COVERAGE = 0.95
"""A second cutoff splits the tail here, when both tail clusters are worth it."""
MIN_CLUSTER = 64
"""Tail clusters smaller than this cost more in bookkeeping than they save."""


@dataclass(frozen=True)
class WordVocab:
    """Softmax classes: ``<unk>``, ``<bos>``, ``<eos>``, then words by falling frequency.

    ``counts`` are training-split target counts (specials included), kept for the
    adaptive-softmax cutoffs and the unigram baseline.
    """

    words: tuple[str, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.words)})

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index and word not in SPECIALS  # type: ignore[attr-defined]

    def id(self, word: str) -> int:
        """Class id of a word; out-of-vocabulary words are ``<unk>``."""
        return self._index.get(word, UNK_ID)  # type: ignore[attr-defined]

    @property
    def regular_words(self) -> tuple[str, ...]:
        """The words proper (no specials), in class order."""
        return self.words[len(SPECIALS) :]

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int, max_size: int | None) -> WordVocab:
        """Count the training sentences and keep the words the softmax should predict.

        Raises:
            EmptyVocabulary: ``min_count`` (or ``max_size``) leaves no word.
        """
        counts: Counter[str] = Counter()
        n_sentences = 0
        for tokens in sentences:
            counts.update(tokens)
            n_sentences += 1
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if max_size is not None:
            kept = kept[:max_size]
        if not kept:
            top = max(counts.values(), default=0)
            raise EmptyVocabulary(
                f"min_count={min_count} leaves no word: the most frequent word occurs {top} time(s)",
                field="embedder.min_count",
            )
        unk = sum(counts.values()) - sum(counts[w] for w in kept)
        # Each sentence ends with <eos> (forward targets) and starts with <bos> (backward targets).
        return cls(words=(*SPECIALS, *kept), counts=(unk, n_sentences, n_sentences, *(counts[w] for w in kept)))

    def cutoffs(self, max_tails: int = 2) -> list[int]:
        """Adaptive-softmax cluster boundaries from the frequency profile (Grave et al. 2017).

        The head takes the words covering :data:`HEAD_COVERAGE` of the training
        targets, since almost every step needs only it; the rest is split at
        :data:`TAIL_COVERAGE` when both parts are at least :data:`MIN_CLUSTER`
        words. PyTorch needs at least one cutoff, so a tiny vocabulary gets a
        one-word tail. ``max_tails`` caps the tail clusters (each one gets a
        4x narrower projection, which must not shrink to nothing).
        """
        n = len(self.words)
        if n <= 2:
            return [1]
        # Classes are frequency-ordered (the specials up front are frequent anyway).
        total = sum(self.counts) or 1
        covered = list(accumulate(self.counts))

        def rank_covering(share: float) -> int:
            return next((i + 1 for i, c in enumerate(covered) if c >= share * total), n - 1)

        head = min(max(rank_covering(HEAD_COVERAGE), len(SPECIALS)), n - 1)
        tail = rank_covering(TAIL_COVERAGE)
        cutoffs = [head]
        if max_tails >= 2 and tail - head >= MIN_CLUSTER and n - tail >= MIN_CLUSTER:
            cutoffs.append(tail)
        return cutoffs

    def to_json(self) -> dict[str, list]:
        return {"words": list(self.words), "counts": list(self.counts)}

    @classmethod
    def from_json(cls, data: dict) -> WordVocab:
        """Rebuild from :meth:`to_json`; ValueError/KeyError/TypeError on a garbled file."""
        words, counts = [str(w) for w in data["words"]], [int(c) for c in data["counts"]]
        if tuple(words[: len(SPECIALS)]) != SPECIALS or len(words) != len(counts) or len(words) <= len(SPECIALS):
            raise ValueError("vocabulary does not start with the special tokens or has mismatched counts")
        return cls(words=tuple(words), counts=tuple(counts))


# --- characters ------------------------------------------------------------------------

PAD_CHAR, BOW_CHAR, EOW_CHAR, BOS_CHAR, EOS_CHAR = 0, 1, 2, 3, 4
BYTE_OFFSET = 5
N_CHARS = BYTE_OFFSET + 256
"""Character ids: padding, begin/end of word, the two sentence-boundary marks, then the 256 bytes."""


@lru_cache(maxsize=65_536)
def char_ids(token: str, max_chars: int) -> tuple[int, ...]:
    """A token as ``max_chars`` char ids: begin-of-word, its UTF-8 bytes (cut to fit), end-of-word, padding.

    The sentence boundaries are tokens of their own, spelt with reserved marks so
    no text can collide with them. Always padded to ``max_chars`` (as ELMo), so a
    token's encoding never depends on the other tokens it is batched with.
    """
    if token == BOS:
        body: list[int] = [BOS_CHAR]
    elif token == EOS:
        body = [EOS_CHAR]
    else:
        body = [BYTE_OFFSET + b for b in token.encode("utf-8")[: max_chars - 2]]
    ids = [BOW_CHAR, *body, EOW_CHAR]
    return tuple(ids + [PAD_CHAR] * (max_chars - len(ids)))
