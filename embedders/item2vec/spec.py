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


class Item2VecSpec(EmbedderSpec):
    """Skip-gram with negative sampling over users' sessions of item ids.

    ``sequence`` mode treats a session as an ordered sentence (context = the ``window``
    items around each item); ``basket`` mode treats it as an unordered set whose
    context is the whole basket, as in the item2vec paper.

    Defaults were measured on planted logs (:func:`embedders.item2vec.synthetic.planted_log`:
    500 users, 8-12 latent groups of 25 Zipf-popular items, ~10k interactions; 4 logs x
    2 training seeds; next-item nDCG@10 on :func:`~embedders.item2vec.evaluate.time_split`
    with the default recency half-life of 2 events), one change at a time:

    * ``ns_exponent`` -1, not word2vec's 0.75. Caselles-Dupré, Lesaint & Royo-Letelier
      (2018) found text defaults far from best for recommendation, and so do these logs:
      -1: 0.176 (HR@10 0.376), -0.5: 0.166, 0: 0.160, 0.75: 0.148 (beyond the range,
      -1.5: 0.179 and -2: 0.175, a plateau). Drawing rare items as negatives more than
      popular ones keeps popular items near their contexts, so neighbour lists lean to
      what people actually take next. The gain depends on the log's size: with 100
      users every exponent scores 0.128-0.130; with 1,500 users (225 interactions per
      item) the order reverses a little (-1: 0.155, 0.75: 0.161). -1 has the smallest
      worst-case loss over the sizes tried; a real log should be tuned
      (:func:`embedders.item2vec.tune.tune`).
    * ``sample`` 0 (no down-sampling). 1e-3 and 3e-3 do help at 10k interactions (0.185,
      0.186) but 3e-4 already hurts (0.142), and gensim's threshold is a fraction of all
      interactions: on 100-user logs (2k interactions) 1e-3 drops nDCG from 0.112 to
      0.086. Off is the value without a cliff.
    * ``negative`` 5: 3 gives 0.182, 10 gives 0.161, 20 (another base) lower still.
    * ``epochs`` 20: 10 and 40 both give 0.164. ``dim`` 64: 128 gives 0.180 (within
      noise) for twice the memory. ``window`` 2-8 and ``alpha`` 0.05 make no difference
      beyond noise.

    Combinations matter more than any single default: on another 500-user planted log a
    40-second :func:`~embedders.item2vec.tune.tune` (78 trials) found window 8, 40 epochs,
    ns_exponent 0, sample 1e-3, which raised held-out nDCG@10 from 0.173 to 0.230
    (HR@10 0.394 to 0.465). Tune on the real log when it matters.
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
        5, ge=1, le=1000, description="Sequence mode: max distance between an item and its context items."
    )
    epochs: int = Field(20, ge=1, le=10_000, description="Passes over the sessions.")
    negative: int = Field(5, ge=1, le=64, description="Noise items drawn per positive (item, context) pair.")
    ns_exponent: float = Field(
        -1.0,
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
        30.0,
        gt=0.0,
        le=525_600.0,
        description="A user's events more than this far apart start a new session; null: whole history is one.",
    )
    min_session_length: int = Field(
        2, ge=2, le=10_000, description="Sessions with fewer distinct consecutive items are not trained on."
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
    def gap_seconds(self) -> float | None:
        """``session_gap_minutes`` in seconds, as :func:`~embedders.item2vec.sequences.build_sequences` takes it."""
        return None if self.session_gap_minutes is None else self.session_gap_minutes * 60.0
