"""vecdex embedders: text (or item sequences) in, float32 vectors out.

The public API is re-exported here; family modules load their model libraries
(gensim, torch, ...) only when a model is trained or loaded, so importing this
package is cheap.
"""

from embedders.base import (
    ContextualTokens,
    Corpus,
    Embedder,
    EmbedderSpec,
    HasTrainedVectors,
    ListCorpus,
    Metric,
    NullProgress,
    Progress,
    ReportsMetrics,
    SupportsPreflight,
    TrainingDocument,
    TrainsOnInteractions,
    WordVectors,
)
from embedders.bert import BertEmbedder, BertSpec
from embedders.bilstm import BiLSTMEmbedder, BiLSTMSpec
from embedders.doc2vec import Doc2VecEmbedder, Doc2VecSpec
from embedders.errors import (
    CorpusTooSmall,
    EmbedderError,
    EmptyText,
    EmptyVocabulary,
    InvalidParameter,
    ModelFileError,
    ModelUnavailable,
    NotFitted,
    NotSupported,
    OutOfVocabulary,
    UnknownEmbedderType,
)
from embedders.item2vec import Interaction, Item2VecEmbedder, Item2VecSpec
from embedders.registry import AnyEmbedderSpec, create, embedder_class, families, load, parse_spec, spec_class
from embedders.tokenizer import Tokenizer, TokenizerSpec
from embedders.word2vec import Word2VecEmbedder, Word2VecSpec

__all__ = [
    "AnyEmbedderSpec",
    "BertEmbedder",
    "BertSpec",
    "BiLSTMEmbedder",
    "BiLSTMSpec",
    "ContextualTokens",
    "Corpus",
    "CorpusTooSmall",
    "Doc2VecEmbedder",
    "Doc2VecSpec",
    "Embedder",
    "EmbedderError",
    "EmbedderSpec",
    "EmptyText",
    "EmptyVocabulary",
    "HasTrainedVectors",
    "Interaction",
    "InvalidParameter",
    "Item2VecEmbedder",
    "Item2VecSpec",
    "ListCorpus",
    "Metric",
    "ModelFileError",
    "ModelUnavailable",
    "NotFitted",
    "NotSupported",
    "NullProgress",
    "OutOfVocabulary",
    "Progress",
    "ReportsMetrics",
    "SupportsPreflight",
    "Tokenizer",
    "TokenizerSpec",
    "TrainingDocument",
    "TrainsOnInteractions",
    "UnknownEmbedderType",
    "Word2VecEmbedder",
    "Word2VecSpec",
    "WordVectors",
    "create",
    "embedder_class",
    "families",
    "load",
    "parse_spec",
    "spec_class",
]
