"""The typed spec of the ``item2vec`` family (Barkan & Koenigstein 2016).

Kept apart from the model code so the HTTP schema (:data:`embedders.AnyEmbedderSpec`)
can list it without importing gensim, and so a default can change without touching
training.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from embedders.base import EmbedderSpec
from embedders.training import default_workers

SequenceMode = Literal["sequence", "basket"]
Scoring = Literal["context", "cosine"]


class Item2VecSpec(EmbedderSpec):
    """Skip-gram with negative sampling over users' sessions of item ids.

    ``sequence`` mode treats a session as an ordered sentence (context = the ``window``
    items around each item); ``basket`` mode treats it as an unordered set whose
    context is the whole basket, as in the item2vec paper.

    Defaults were measured on a real log, MovieLens 100k (943 users, 1,682 films,
    100,000 ratings with timestamps, read by ``bench/bench_item2vec_real.py`` from the
    ``recbole`` 1.2.1 wheel): next-item prediction, each user's latest rating left out
    by timestamp, 10 items recommended through the service's user-recommend path. They
    were chosen on a *validation* split (each user's second-to-last rating, trained on
    what came before it) and then measured once on the last rating (figures in
    bench/results/item2vec_real.json: HR@10 0.214, nDCG@10 0.112 against 0.185 / 0.098
    for co-occurrence of adjacent pairs and 0.086 / 0.045 for popularity). Validation
    HR@10 / nDCG@10 below, 943 users (one hit is 0.001; training seeds move HR by about
    0.01), at the request's half-life of 2 events unless "hl 1" (the default now, see
    :data:`~embedders.item2vec.evaluate.DEFAULT_HALF_LIFE`). Baselines there: popularity
    0.074 / 0.035, adjacent pairs over the last 5 items 0.199 / 0.106; the previous
    defaults (30-minute sessions, ns_exponent -1, window 5, cosine) 0.072 / 0.034; these
    defaults 0.232 / 0.124, hl 1 0.239 / 0.122:

    * ``scoring`` ``context`` (new). The same spec with ``cosine``: 0.025 / 0.012, and
      the issue's best cosine spec (window 3, 100 epochs, ns_exponent 0.5, sample 1e-5)
      0.12-0.16. Cosine between item vectors drops how often an item is taken, and on a
      real log that is much of the signal. ``context`` ranks a candidate by the
      skip-gram's own prediction: the query (the history items' input vectors) dot the
      candidate's output ("context") vector. The FAISS index holds the context vectors
      and its metric is inner product.
    * ``ns_exponent`` 0 (uniform negatives). With uniform noise SGNS's dot product
      estimates log P(candidate | item) up to a constant (by Levy & Goldberg's 2014
      argument), so popularity stays in the score. hl 1, offline: -0.5: 0.200, 0: 0.243,
      0.25: 0.233, 0.5: 0.223, 0.75 (text's default): 0.195. Caselles-Dupré et al. (2018)
      also found text's value wrong for items.
    * ``sample`` 0: down-sampling thins out the popular items the score needs (offline,
      ns_exponent 0: 1e-4 with 100 epochs 0.215, none with 30 epochs 0.232).
    * ``window`` 3: 2: 0.229, 5: 0.234 (within noise); 3 trains faster than 5.
    * ``epochs`` 20: 10: 0.217, 30: 0.230, 50: 0.234. ``negative`` 5: 10 gives 0.239 for
      1.5x the time. ``dim`` 64: 32 gives 0.231, 128 0.235. ``alpha`` 0.05: 0.224.
      ``basket`` mode: 0.122 (and 50x slower: a whole history is one basket).
    * ``session_gap_minutes`` off (null): 30 minutes gives 0.233 / 0.119 now that short
      sessions are merged, but a rating log has no sessions (users rate dozens of films
      in a sitting, or one a month) and on the issue's log (MovieLens "latest small")
      the gap left 544 items without a vector. Sessions shorter than ``min_session_length`` are never dropped now: they
      join the user's nearer neighbouring session
      (:func:`~embedders.item2vec.sequences.build_sequences`).

    On the planted logs of :mod:`embedders.item2vec.synthetic` the previous defaults were
    chosen on, these still beat popularity by a wide margin
    (tests/embedders/test_item2vec_quality.py). Tune on your own log when it matters
    (:func:`embedders.item2vec.tune.tune`, ``vecdex item2vec tune``).
    """

    type: Literal["item2vec"] = "item2vec"
    mode: SequenceMode = Field(
        "sequence",
        description=(
            "sequence: a session is an ordered sentence, context = the `window` items around each item; "
            "basket: a session is an unordered set, context = the whole basket (item2vec paper)."
        ),
    )
    dim: int = Field(64, ge=2, le=4096, description="Item vector size.")
    window: int = Field(
        3, ge=1, le=1000, description="Sequence mode: max distance between an item and its context items."
    )
    epochs: int = Field(20, ge=1, le=10_000, description="Passes over the sessions.")
    negative: int = Field(5, ge=1, le=64, description="Noise items drawn per positive (item, context) pair.")
    ns_exponent: float = Field(
        0.0,
        ge=-1.0,
        le=1.0,
        description=(
            "Exponent of the negative-sampling distribution count**e: 1 samples by popularity, 0 uniformly, "
            "negative values favour rare items. Text's 0.75 is usually not best for recommendation."
        ),
    )
    sample: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Down-sampling threshold for very popular items, as a fraction of all interactions (0: off).",
    )
    min_count: int = Field(1, ge=1, description="Items with fewer training interactions get no vector.")
    alpha: float = Field(0.025, gt=0.0, le=1.0, description="Initial learning rate.")
    min_alpha: float = Field(1e-4, ge=0.0, le=1.0, description="Final learning rate (linear decay).")
    seed: int = Field(1, ge=0, le=2**31 - 1, description="Random seed (runs repeat exactly only with workers=1).")
    workers: int = Field(default_factory=default_workers, ge=1, le=64, description="Training threads.")
    session_gap_minutes: float | None = Field(
        None,
        gt=0.0,
        le=525_600.0,
        description=(
            "A user's events more than this far apart start a new session; null (default): the whole history "
            "is one. Sessions shorter than min_session_length join the nearest session, never dropped."
        ),
    )
    min_session_length: int = Field(
        2,
        ge=2,
        le=10_000,
        description="Sessions with fewer items join the user's nearest session in time (a user whose whole "
        "history is shorter is not trained on).",
    )
    scoring: Scoring = Field(
        "context",
        description=(
            "context: a candidate is scored by the skip-gram's prediction, the query (history items' input "
            "vectors) dot the candidate's output vector (inner-product index; carries popularity); cosine: "
            "cosine between item vectors (similar items, popularity dropped)."
        ),
    )
    cold_start_space: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description=(
            "Name of a text space of the same collection whose vectors serve items without interactions "
            "(read by the service; the family only stores it)."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Item2VecSpec:
        if self.min_alpha > self.alpha:
            raise ValueError(f"min_alpha ({self.min_alpha}) must not exceed alpha ({self.alpha})")
        return self

    @property
    def metric(self) -> Literal["ip", "cosine"]:
        """The index metric this scoring needs: inner product for ``context``, cosine for ``cosine``."""
        return "ip" if self.scoring == "context" else "cosine"

    @property
    def gap_seconds(self) -> float | None:
        """``session_gap_minutes`` in seconds, as :func:`~embedders.item2vec.sequences.build_sequences` takes it."""
        return None if self.session_gap_minutes is None else self.session_gap_minutes * 60.0
