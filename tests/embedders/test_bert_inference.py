"""How a bert space runs its torch model (embedders/bert/inference.py and the embedder's paths):
prepacked linear weights give torch's outputs, forward passes grouped by a token budget and the
one-text path give the vectors sentence-transformers gives."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from embedders.bert import BertEmbedder, BertSpec  # noqa: E402
from embedders.bert.inference import pack_linears, token_batches  # noqa: E402
from embedders.bert.source import default_model_path  # noqa: E402
from embedders.datasets import lee_background, lee_test  # noqa: E402

TEXTS = [
    "The cat sat on the mat.",
    "Stock markets fell sharply after the central bank raised interest rates to fight inflation.",
    "Firefighters battled bushfires near Sydney overnight.",
    "Rain.",
]


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    """sentence-transformers itself on the same model directory (unpacked weights, its own batching)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)


# --- token_batches ------------------------------------------------------------------------------


def test_token_batches_cover_every_text_once_longest_first() -> None:
    lengths = [5, 300, 40, 40, 7, 120, 1, 2000, 33]
    groups = token_batches(lengths, max_texts=3, max_tokens=256)
    flat = [int(i) for g in groups for i in g]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    for g in groups:
        assert 1 <= len(g) <= 3
        padded = len(g) * max(lengths[i] for i in g)
        assert padded <= 256 or len(g) == 1  # a text over the budget goes alone


def test_token_batches_of_nothing() -> None:
    assert token_batches([], max_texts=32, max_tokens=1024) == []


# --- pack_linears -------------------------------------------------------------------------------


def test_packed_linears_compute_what_torch_does() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(), torch.nn.Linear(32, 8, bias=False)).eval()
    x = torch.randn(3, 5, 16)
    with torch.inference_mode():
        before = model(x)
    keys = set(model.state_dict())
    packed = pack_linears(model)
    if not torch.backends.mkldnn.is_available():
        assert packed == 0
    else:
        assert packed == 2
    with torch.inference_mode():
        after = model(x)
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    assert set(model.state_dict()) == keys  # the packed copy is no parameter or buffer


# --- the embedder's paths -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_thread() -> BertEmbedder:
    return BertEmbedder(BertSpec(threads=1))


def test_a_query_equals_sentence_transformers(one_thread: BertEmbedder, reference) -> None:  # type: ignore[no-untyped-def]
    for text in TEXTS:
        ours = one_thread.embed_query(text)
        theirs = reference.encode_query([text], normalize_embeddings=True)[0]
        np.testing.assert_allclose(ours, theirs, atol=2e-6)


def test_one_long_text_is_still_pooled_over_its_windows(one_thread: BertEmbedder, reference) -> None:  # type: ignore[no-untyped-def]
    """The one-text path must not truncate: a text longer than a window goes through the windows."""
    text = " ".join(lee_background()[:4])
    windows = one_thread.windows([text])[0]
    assert len(windows) >= 2
    mean = reference.encode_document(windows, convert_to_numpy=True).mean(axis=0)
    mean /= np.linalg.norm(mean)
    np.testing.assert_allclose(one_thread.embed_documents([text])[0], mean, atol=2e-6)
    np.testing.assert_allclose(one_thread.embed_query(text), one_thread.embed_documents([text])[0], atol=2e-6)


def test_forward_pass_grouping_does_not_change_vectors(reference) -> None:  # type: ignore[no-untyped-def]
    docs = TEXTS + [t for t in lee_test() if len(t) < 600][:8]
    small = BertEmbedder(BertSpec(threads=1, batch_tokens=1))  # one window per forward pass
    large = BertEmbedder(BertSpec(threads=1, batch_tokens=1_000_000, batch_size=4096))  # one pass for all
    a, b = small.embed_documents(docs), large.embed_documents(docs)
    np.testing.assert_allclose(a, b, atol=2e-6)
    np.testing.assert_allclose(a, reference.encode_document(docs, normalize_embeddings=True), atol=2e-6)
