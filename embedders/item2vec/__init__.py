"""Family "item2vec": item vectors from user interactions (Barkan & Koenigstein 2016).

Skip-gram with negative sampling (gensim Word2Vec) over users' sessions of item
ids instead of sentences of words. Importing this package does not import gensim:
only training does.

Modules, one reason to change each: ``sequences`` (interactions -> sessions),
``spec`` (parameters), ``embedder`` (training, vectors, files), ``evaluate``
(time split, baselines, ranking metrics), ``tune`` (local search from a base spec
within a time budget, its plan in ``search_plan``; its function is not re-exported here, so that ``embedders.item2vec.tune``
stays the module), ``synthetic`` (planted logs for tests and tuning).
"""

from embedders.item2vec.embedder import Item2VecEmbedder
from embedders.item2vec.evaluate import (
    DEFAULT_HALF_LIFE,
    AdjacentCooccurrenceRecommender,
    Case,
    CooccurrenceRecommender,
    Metrics,
    PopularityRecommender,
    Recommender,
    Split,
    VectorRecommender,
    catalogue_of,
    compare,
    evaluate,
    leave_last_out,
    recency_weights,
    time_split,
)
from embedders.item2vec.sequences import Interaction, SequenceList, build_sequences, by_user, split_sessions
from embedders.item2vec.spec import Item2VecSpec
from embedders.item2vec.synthetic import planted_log
from embedders.item2vec.tune import Trial, TuneResult

__all__ = [
    "DEFAULT_HALF_LIFE",
    "AdjacentCooccurrenceRecommender",
    "Case",
    "CooccurrenceRecommender",
    "Interaction",
    "Item2VecEmbedder",
    "Item2VecSpec",
    "Metrics",
    "PopularityRecommender",
    "Recommender",
    "SequenceList",
    "Split",
    "Trial",
    "TuneResult",
    "VectorRecommender",
    "build_sequences",
    "by_user",
    "catalogue_of",
    "compare",
    "evaluate",
    "leave_last_out",
    "planted_log",
    "recency_weights",
    "split_sessions",
    "time_split",
]
