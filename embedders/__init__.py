"""vecdex embedders: text (or item sequences) in, float32 vectors out.

The public API is re-exported here; family modules load their model libraries
(gensim, torch, ...) only when a model is trained or loaded, so importing this
package is cheap.
"""

from embedders.base import (
    AcceptsVectors,
    ContextualTokens,
    Corpus,
    Embedder,
    EmbedderSpec,
    HasTrainedVectors,
    KeywordScoring,
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
from embedders.bm25 import BM25Embedder, BM25Spec
from embedders.capabilities import Capability
from embedders.doc2vec import Doc2VecEmbedder, Doc2VecSpec
from embedders.errors import (
    CorpusTooSmall,
    EmbedderError,
    EmptyText,
    EmptyVocabulary,
    InvalidParameter,
    InvalidVectors,
    ModelFileError,
    ModelUnavailable,
    NotFitted,
    NotSupported,
    OutOfVocabulary,
    UnknownEmbedderType,
)
from embedders.item2vec import Interaction, Item2VecEmbedder, Item2VecSpec
from embedders.registry import (
    AnyEmbedderSpec,
    capabilities,
    create,
    embedder_class,
    families,
    has,
    load,
    parse_spec,
    spec_class,
)
from embedders.tokenizer import Tokenizer, TokenizerSpec
from embedders.vectors import VectorsEmbedder, VectorsSpec
from embedders.word2vec import Word2VecEmbedder, Word2VecSpec

__all__ = [
    "AcceptsVectors",
    "AnyEmbedderSpec",
    "BM25Embedder",
    "BM25Spec",
    "Capability",
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
    "InvalidVectors",
    "Item2VecEmbedder",
    "Item2VecSpec",
    "KeywordScoring",
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
    "VectorsEmbedder",
    "VectorsSpec",
    "Word2VecEmbedder",
    "Word2VecSpec",
    "WordVectors",
    "capabilities",
    "create",
    "embedder_class",
    "families",
    "has",
    "load",
    "parse_spec",
    "spec_class",
]
