"""Training helpers shared by the families that learn from a corpus (word2vec, doc2vec, item2vec).

Corpus scanning with the "too small" checks that every trainable family starts
with (and that the service's preflight runs on their own), the gensim epoch
callback that drives :class:`~embedders.base.Progress`, and the thread default.
Kept apart from any one family so that changing a family never changes another.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from embedders.base import Corpus, NullProgress, Progress
from embedders.errors import CorpusTooSmall, EmptyVocabulary
from embedders.tokenizer import TextTokenizer

MAX_DEFAULT_WORKERS = 8
"""gensim's throughput stops growing at a handful of threads; more only contends."""

MATERIALIZE_LIMIT = 200_000
"""Corpora up to this many documents are tokenized once and kept in memory; larger
ones are re-tokenized on every gensim pass rather than risking memory."""


def default_workers() -> int:
    """Training threads: the machine's CPUs, capped (see :data:`MAX_DEFAULT_WORKERS`)."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


class TokenizedCorpus:
    """Re-iterable token lists of a :class:`Corpus` (gensim makes several passes)."""

    def __init__(self, corpus: Corpus, tokenizer: TextTokenizer) -> None:
        self._corpus = corpus
        self._tokenizer = tokenizer

    def __iter__(self) -> Iterator[list[str]]:
        tokenize = self._tokenizer.tokenize
        for doc in self._corpus:
            yield tokenize(doc.text)

    def __len__(self) -> int:
        return len(self._corpus)


@dataclass(frozen=True)
class CorpusStats:
    """What one scan of a training corpus tells us before gensim sees it."""

    n_docs: int
    total_tokens: int
    counts: Counter[str]
    doc_freqs: Counter[str]


def prepare_corpus(
    corpus: Corpus, tokenizer: TextTokenizer, progress: Progress
) -> tuple[list[list[str]] | TokenizedCorpus, CorpusStats]:
    """Tokenize and scan a corpus once (progress phase "vocabulary", per document).

    Returns the token lists for training - a list when the corpus is small enough
    (:data:`MATERIALIZE_LIMIT`), else a streaming view that re-tokenizes on each
    pass - and the corpus statistics.
    """
    progress.start("vocabulary", len(corpus))
    if len(corpus) > MATERIALIZE_LIMIT:
        stream = TokenizedCorpus(corpus, tokenizer)
        return stream, scan_corpus(stream, progress)
    kept: list[list[str]] = []

    def tokens() -> Iterator[list[str]]:
        for doc in corpus:
            kept.append(tokenizer.tokenize(doc.text))
            yield kept[-1]

    stats = scan_corpus(tokens(), progress)
    return kept, stats


def scan_corpus(docs: Iterable[list[str]], progress: Progress, *, chunk: int = 1000) -> CorpusStats:
    """Count tokens and document frequencies, reporting progress per ``chunk`` documents.

    Raises:
        CorpusTooSmall: fewer than two documents with tokens, or no document with
            two tokens (no word has a context to learn from).
    """
    counts: Counter[str] = Counter()
    doc_freqs: Counter[str] = Counter()
    n_docs = nonempty = longest = 0
    pending = 0
    for tokens in docs:
        n_docs += 1
        if tokens:
            nonempty += 1
            longest = max(longest, len(tokens))
            counts.update(tokens)
            doc_freqs.update(set(tokens))
        pending += 1
        if pending == chunk:
            progress.advance(pending)
            pending = 0
    if pending:
        progress.advance(pending)
    if nonempty < 2:
        raise CorpusTooSmall(
            f"the corpus has {nonempty} document(s) with words after tokenization; at least 2 are needed",
            field="corpus",
        )
    if longest < 2:
        raise CorpusTooSmall("every document has a single word: there is no context to learn from", field="corpus")
    return CorpusStats(n_docs=n_docs, total_tokens=sum(counts.values()), counts=counts, doc_freqs=doc_freqs)


def check_corpus_length(corpus: Corpus) -> None:
    """Reject a corpus with fewer than two documents before any work starts."""
    if len(corpus) < 2:
        raise CorpusTooSmall(f"the corpus has {len(corpus)} document(s); at least 2 are needed", field="corpus")


def check_vocabulary(stats: CorpusStats, min_count: int) -> None:
    """Raise EmptyVocabulary when ``min_count`` would leave no word (before gensim does)."""
    if not any(count >= min_count for count in stats.counts.values()):
        top = max(stats.counts.values(), default=0)
        raise EmptyVocabulary(
            f"min_count={min_count} leaves no word: the most frequent word occurs {top} time(s)",
            field="embedder.min_count",
        )


def preflight_corpus(corpus: Corpus, tokenizer: TextTokenizer, min_count: int) -> CorpusStats:
    """The checks ``fit`` starts with, without training: one tokenizing pass, nothing kept.

    The service runs this inside the create-space request for small collections, so
    a hopeless spec is a 422 before anything is written rather than a failed job.
    """
    check_corpus_length(corpus)
    stats = scan_corpus(TokenizedCorpus(corpus, tokenizer), NullProgress())
    check_vocabulary(stats, min_count)
    return stats


def epoch_callback(progress: Progress) -> Any:
    """A gensim callback that advances ``progress`` once per finished epoch.

    gensim calls ``on_epoch_end`` from the training loop itself, after the epoch's
    worker threads have finished, so an exception raised by ``progress.advance``
    (a cancelled job) stops training cleanly and propagates out of ``train()``.
    """
    from gensim.models.callbacks import CallbackAny2Vec

    class _EpochProgress(CallbackAny2Vec):
        def on_epoch_end(self, model: Any) -> None:
            progress.advance(1)

    return _EpochProgress()
