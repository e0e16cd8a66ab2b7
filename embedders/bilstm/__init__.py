"""Family "bilstm": an ELMo-style bidirectional LSTM language model (Peters et al. 2018).

Trained with PyTorch on the collection's own sentences; serves contextual token
vectors and pooled document vectors. Importing this package does not import
torch: only training, loading and embedding do.

Modules, one reason to change each: ``spec`` (parameters), ``sentences``
(documents -> sentences), ``vocab`` (softmax words, UTF-8 byte characters),
``data`` (corpus checks, held-out split, length buckets), ``batches`` (id
tensors), ``model`` (torch modules), ``train`` (the loop), ``evaluate``
(perplexities), ``inference`` (ELMo vectors), ``storage`` (files), ``embedder``
(the :class:`~embedders.base.Embedder` contract).
"""

from embedders.bilstm.embedder import BiLSTMEmbedder
from embedders.bilstm.spec import BiLSTMSpec

__all__ = ["BiLSTMEmbedder", "BiLSTMSpec"]
