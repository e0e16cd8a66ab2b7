"""The typed spec of the ``bilstm`` family: model size, training schedule, representation.

Kept apart from the model code so that the HTTP schema (:data:`embedders.AnyEmbedderSpec`)
can list it without importing torch, and so that changing a default never touches
the training loop. Defaults are sized for the 350-document Lee demo corpus (~64k
tokens) on 2 CPU cores; bench/bench_bilstm.py measured them (see the class docstring).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, model_validator

from embedders.base import EmbedderSpec
from embedders.tokenizer import TokenizerSpec

LayerWeighting = Literal["average", "top"] | list[float]
Pooling = Literal["mean", "max", "mean+max"]
Optimizer = Literal["adam", "adagrad"]

FilterWidth = Annotated[int, Field(ge=1, le=32)]
FilterCount = Annotated[int, Field(ge=1, le=4096)]


class BiLSTMSpec(EmbedderSpec):
    """ELMo-style bidirectional language model (Peters et al. 2018) trained on the collection.

    Sizes are far below ELMo's (4096-cell LSTMs, 512-d projections, 2048 char filters):
    that model needs a billion-word corpus and a GPU; a collection of a few hundred
    documents on 2 CPU cores needs a model it can fit in minutes without memorising
    the training sentences. To size up for a real corpus (millions of tokens), raise
    ``hidden_dim`` (512-1024), ``projection_dim`` (256-512), the filter counts, and
    ``min_count`` (3-5) together; lower ``dropout`` (0.1) and ``epochs`` (3-5), since
    each pass then carries far more signal.

    Defaults measured by bench/bench_bilstm.py on the Lee demo corpus (350 documents,
    58k training tokens; bench/results/bilstm.json), 2 idle CPU cores:

    * threads: one by default (``threads: null``; issue 14, bench/bench_bilstm_load.py):
      with other processes on the machine 2 threads fell to ~140-1,700 tokens/s (their
      OpenMP barriers spin for a thread waiting in the run queue) while 1 thread
      kept ~1,500-6,200 (medians, same runs) and is bit-identical from run to run;
      the figures below were measured with 2 threads on an idle machine; 1 thread
      trained the defaults in 99-153 s (6,300-4,100 tokens/s, load 1.2-5,
      perplexity 158.2); really idle, 2 threads are ~1.5x faster than 1;
    * training takes ~2.5 minutes (10 epochs at ~4,000 tokens/s); held-out perplexity
      ~159 against ~448 for a unigram model on the same split; embedding runs at
      ~7,500 tokens/s;
    * from the exploration behind them (one change at a time, held-out perplexity
      after 10 epochs): dropout 0.1 beats 0.3 within this budget (159 vs ~180; 0.3
      only catches up after 16 epochs); lr 3e-3/4e-3 and batch 16 change little
      (152-165); hidden 512 halves the speed for ~10% lower perplexity;
    * document vectors: centred mean pooling of the layer average is best (Lee
      Pearson r 0.19; uncentred 0.11; max and mean+max pooling 0.05-0.11). Pooled
      LM states of a 58k-token corpus carry syntax more than topic: on Lee topical
      similarity word2vec (0.65), doc2vec (0.52) and even raw word counts (0.53) are
      far better. On a demo-sized corpus this family is for contextual token vectors
      (a word's sense in its sentence), not for topical document search.
    """

    type: Literal["bilstm"] = "bilstm"

    # --- token encoder (character CNN) ---------------------------------------------
    char_dim: int = Field(16, ge=1, le=512, description="Size of each character (UTF-8 byte) embedding.")
    filters: list[tuple[FilterWidth, FilterCount]] = Field(
        default_factory=lambda: [(1, 32), (2, 32), (3, 64), (4, 64), (5, 64)],
        min_length=1,
        max_length=16,
        description="Character CNN filters as [width, count] pairs; their counts add up to the CNN's width.",
    )
    highway_layers: int = Field(1, ge=0, le=8, description="Highway layers over the CNN output (ELMo uses 2).")
    max_chars: int = Field(
        24, ge=3, le=100, description="UTF-8 bytes per token, incl. begin/end-of-word marks; longer tokens are cut."
    )
    projection_dim: int = Field(
        128,
        ge=4,
        le=2048,
        description="Width of x_k and of every LSTM layer's projected output; ELMo vectors are 2x this.",
    )

    # --- bidirectional LSTM language model -------------------------------------------
    hidden_dim: int = Field(256, ge=2, le=8192, description="LSTM cells per layer and direction.")
    num_layers: int = Field(2, ge=1, le=8, description="Stacked LSTM layers L (each direction); 2L+1 representations.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout on LSTM inputs and on the softmax input.")

    # --- vocabulary of the output softmax ----------------------------------------------
    min_count: int = Field(2, ge=1, description="Words rarer than this in the training split are <unk> targets.")
    max_size: int | None = Field(
        50_000, ge=1, description="Keep at most this many (most frequent) words in the softmax; null: no cap."
    )

    # --- training --------------------------------------------------------------------------
    epochs: int = Field(10, ge=1, le=1000, description="Maximum passes over the training split.")
    batch_size: int = Field(32, ge=1, le=4096, description="Sentences per batch (batched by similar length).")
    bptt: int = Field(35, ge=2, le=10_000, description="Truncated backpropagation through time: steps per update.")
    optimizer: Optimizer = Field("adam", description="adam, or adagrad as in ELMo (use lr ~0.2 with adagrad).")
    lr: float = Field(2e-3, gt=0.0, le=10.0, description="Learning rate.")
    clip: float = Field(1.0, gt=0.0, le=1000.0, description="Gradient norm clipping threshold.")
    heldout_fraction: float = Field(
        0.1, ge=0.0, le=0.5, description="Sentences held out for perplexity and early stopping (0: none, no stopping)."
    )
    patience: int = Field(2, ge=1, le=100, description="Stop after this many epochs without held-out improvement.")
    seed: int = Field(1, ge=0, le=2**31 - 1, description="Seed for initialisation, dropout, split and batch order.")
    threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description=(
            "torch threads while training and embedding; null: 1, bit-identical from run to run and the fastest on a shared "
            "machine (2 threads ran 3-35x slower beside another busy process); set 2 on a dedicated machine."
        ),
    )

    # --- representation -------------------------------------------------------------------------
    layers: LayerWeighting = Field(
        "average",
        description=(
            "How the L+1 layers (x_k, then each LSTM layer, fwd;bwd) mix into one vector: 'average' (uniform s), "
            "'top' (last layer only), or L+1 ELMo scalar weights w with s = softmax(w)."
        ),
    )
    gamma: float = Field(1.0, gt=0.0, le=1000.0, description="ELMo's scale gamma on the mixed vector.")
    center: StrictBool = Field(
        True,
        description=(
            "Subtract each layer's mean over the training tokens before mixing: contextual vectors share a large "
            "common component that otherwise makes every pair of documents look alike."
        ),
    )
    pooling: Pooling = Field(
        "mean", description="Token vectors -> document vector: mean, max, or mean+max concatenated (dim doubles)."
    )
    tokenizer: TokenizerSpec = Field(
        default_factory=TokenizerSpec,
        description="Stop words kept by default: a language model needs function words to model a sentence.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> BiLSTMSpec:
        widths = [w for w, _ in self.filters]
        if len(set(widths)) != len(widths):
            raise ValueError(f"filter widths must be distinct, got {widths}")
        if max(widths) > self.max_chars:
            raise ValueError(f"a filter of width {max(widths)} is wider than max_chars ({self.max_chars})")
        if isinstance(self.layers, list) and len(self.layers) != self.num_layers + 1:
            raise ValueError(
                f"layers has {len(self.layers)} weights; num_layers={self.num_layers} needs {self.num_layers + 1} "
                "(x_k, then one per LSTM layer)"
            )
        return self

    @property
    def token_dim(self) -> int:
        """Width of one token's ELMo vector: forward and backward halves side by side."""
        return 2 * self.projection_dim

    @property
    def dim(self) -> int:
        """Width of a document vector (mean+max pooling concatenates two token-width vectors)."""
        return self.token_dim * (2 if self.pooling == "mean+max" else 1)
