"""Corpus -> training data: sentences, the held-out split, the vocabulary, length buckets.

Everything here is torch-free and cheap, because :meth:`BiLSTMEmbedder.preflight`
runs the same checks inside an HTTP request: a corpus that cannot train a
language model must be rejected there with the same error ``fit`` would raise.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from embedders.base import Corpus, Progress
from embedders.bilstm.sentences import sentence_tokens
from embedders.bilstm.vocab import WordVocab
from embedders.errors import CorpusTooSmall
from embedders.tokenizer import Tokenizer

MIN_TOKENS = 10
"""Below this a language model has nothing to learn and perplexity means nothing."""

PROGRESS_CHUNK = 100
"""Documents tokenized per progress report (a report may hit the database)."""


@dataclass(frozen=True)
class PreparedCorpus:
    """The sentences a biLM trains and is validated on, and its softmax vocabulary."""

    train: list[list[str]]
    heldout: list[list[str]]
    vocab: WordVocab

    @property
    def train_tokens(self) -> int:
        return sum(len(s) for s in self.train)

    @property
    def heldout_tokens(self) -> int:
        return sum(len(s) for s in self.heldout)


def read_sentences(corpus: Corpus, tokenizer: Tokenizer, progress: Progress) -> list[list[str]]:
    """Every sentence of every document, tokenized (progress phase "vocabulary", per document).

    Raises:
        CorpusTooSmall: fewer than two documents (checked before any tokenizing).
    """
    if len(corpus) < 2:
        raise CorpusTooSmall(f"the corpus has {len(corpus)} document(s); at least 2 are needed", field="corpus")
    progress.start("vocabulary", len(corpus))
    sentences: list[list[str]] = []
    pending = 0
    for doc in corpus:
        sentences.extend(sentence_tokens(doc.text, tokenizer))
        pending += 1
        if pending == PROGRESS_CHUNK:
            progress.advance(pending)
            pending = 0
    if pending:
        progress.advance(pending)
    return sentences


def split_heldout(
    sentences: Sequence[list[str]], fraction: float, seed: int
) -> tuple[list[list[str]], list[list[str]]]:
    """A deterministic (seeded) held-out draw of whole sentences; the rest keep their order.

    Sentences, not documents, are held out: a small collection may have too few
    documents to spare any, and the held-out perplexity serves early stopping,
    for which in-domain sentences are exactly right.
    """
    n = len(sentences)
    n_held = 0 if fraction == 0 else min(n - 1, max(1, round(fraction * n)))
    held = set(random.Random(seed).sample(range(n), n_held))
    return [s for i, s in enumerate(sentences) if i not in held], [s for i, s in enumerate(sentences) if i in held]


def check_size(sentences: Sequence[list[str]], heldout_fraction: float) -> None:
    """Reject a corpus too small to train (and validate) a language model.

    Raises:
        CorpusTooSmall: fewer than :data:`MIN_TOKENS` tokens, or a held-out split
            is asked for and there are not two sentences to split.
    """
    tokens = sum(len(s) for s in sentences)
    needed_sentences = 2 if heldout_fraction > 0 else 1
    if tokens < MIN_TOKENS or len(sentences) < needed_sentences:
        raise CorpusTooSmall(
            f"the corpus has {tokens} token(s) in {len(sentences)} sentence(s); a language model needs at least "
            f"{MIN_TOKENS} tokens in at least {needed_sentences} sentence(s)"
            + (" (one is held out for perplexity)" if needed_sentences == 2 else ""),
            field="corpus",
        )


def prepare(
    corpus: Corpus,
    tokenizer: Tokenizer,
    *,
    heldout_fraction: float,
    seed: int,
    min_count: int,
    max_size: int | None,
    progress: Progress,
) -> PreparedCorpus:
    """Sentences, split and vocabulary; raises CorpusTooSmall / EmptyVocabulary exactly as ``fit`` must.

    The vocabulary comes from the training split only, so held-out words the model
    never saw count as ``<unk>`` for the LM and the unigram baseline alike.
    """
    sentences = read_sentences(corpus, tokenizer, progress)
    check_size(sentences, heldout_fraction)
    train, heldout = split_heldout(sentences, heldout_fraction, seed)
    vocab = WordVocab.build(train, min_count, max_size)
    return PreparedCorpus(train=train, heldout=heldout, vocab=vocab)


def length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random | None) -> list[list[int]]:
    """Indices grouped into batches of similar length (little padding), in shuffled batch order.

    With ``rng`` the ties between equal lengths and the batch order are shuffled
    (a new order each epoch, reproducible from the seed); without it the order is
    fixed, for evaluation.
    """
    order = list(range(len(lengths)))
    if rng is not None:
        rng.shuffle(order)
    order.sort(key=lambda i: lengths[i])  # stable: shuffled ties stay shuffled
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches
