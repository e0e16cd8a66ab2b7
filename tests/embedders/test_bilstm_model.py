"""bilstm at module level: direction, shapes, vocabularies, sentence splitting, batching (no training)."""

from __future__ import annotations

import random

import pytest
import torch

from embedders.bilstm.batches import PAD_TARGET, PAD_TYPE, TokenTypes, encode_sentences, lm_batch
from embedders.bilstm.data import length_batches, split_heldout
from embedders.bilstm.model import BiLM, BiLMConfig, reversal_index, reverse
from embedders.bilstm.sentences import MAX_SENTENCE_TOKENS, sentence_tokens, split_sentences
from embedders.bilstm.vocab import BOS, BOS_ID, EOS, EOS_ID, N_CHARS, UNK_ID, WordVocab, char_ids
from embedders.errors import EmptyVocabulary
from embedders.tokenizer import Tokenizer

PROJ = 12


@pytest.fixture(scope="module")
def model() -> BiLM:
    """An untrained biLM: causality is a property of the wiring, not of the weights."""
    torch.manual_seed(0)
    config = BiLMConfig(
        n_words=20, cutoffs=[8], n_chars=N_CHARS, char_dim=6, filters=[(1, 8), (2, 8), (3, 8)], highway_layers=1,
        max_chars=12, projection_dim=PROJ, hidden_dim=16, num_layers=2, dropout=0.0,
    )
    return BiLM(config).eval()


def layers_of(model: BiLM, sentences: list[list[str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(L+1, batch, time, 2*PROJ) representations of ``<bos> s <eos>`` sentences, and their lengths."""
    types = TokenTypes(model.config.max_chars)
    rows = [[types.id(t) for t in (BOS, *s, EOS)] for s in sentences]
    time = max(len(r) for r in rows)
    ids = torch.full((len(rows), time), PAD_TYPE, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    lengths = torch.tensor([len(r) for r in rows])
    with torch.no_grad():
        return model.layers(types.chars(), ids, lengths), lengths


def fwd(reps: torch.Tensor) -> torch.Tensor:
    return reps[1:, ..., :PROJ]


def bwd(reps: torch.Tensor) -> torch.Tensor:
    return reps[1:, ..., PROJ:]


BASE = ["the", "river", "bank", "was", "flooded", "today"]


def test_forward_state_ignores_later_tokens(model: BiLM) -> None:
    # Positions: 0=<bos>, 1..6 = BASE, 7=<eos>. Change tokens after "bank" (position 3).
    changed = ["the", "river", "bank", "approved", "the", "loan", "yesterday"]
    reps, _ = layers_of(model, [BASE, changed])
    a, b = fwd(reps[:, 0]), fwd(reps[:, 1])
    assert torch.allclose(a[:, :4], b[:, :4], atol=1e-6), "forward LM at k must not see tokens after k"
    assert not torch.allclose(a[:, 4], b[:, 4], atol=1e-4), "...but must see token k+1 once it reaches it"
    # The backward LM does see the future, so "bank" differs there.
    assert not torch.allclose(bwd(reps[:, 0])[:, 3], bwd(reps[:, 1])[:, 3], atol=1e-4)


def test_backward_state_ignores_earlier_tokens(model: BiLM) -> None:
    changed = ["a", "muddy", "bank", "was", "flooded", "today"]  # same tokens from "bank" (position 3) on
    reps, _ = layers_of(model, [BASE, changed])
    a, b = bwd(reps[:, 0]), bwd(reps[:, 1])
    assert torch.allclose(a[:, 3:], b[:, 3:], atol=1e-6), "backward LM at k must not see tokens before k"
    assert not torch.allclose(a[:, 2], b[:, 2], atol=1e-4)
    assert not torch.allclose(fwd(reps[:, 0])[:, 3], fwd(reps[:, 1])[:, 3], atol=1e-4)


def test_padding_does_not_leak_into_either_direction(model: BiLM) -> None:
    short, long = BASE[:3], BASE + ["and", "again", "tomorrow"]
    batched, _ = layers_of(model, [short, long])
    alone, _ = layers_of(model, [short])
    n = len(short) + 2
    assert torch.allclose(batched[:, 0, :n], alone[:, 0, :n], atol=1e-6)


def test_layer_zero_is_the_context_free_token_encoding(model: BiLM) -> None:
    reps, _ = layers_of(model, [BASE, ["a", "bank", "loan"]])
    x_bank_1, x_bank_2 = reps[0, 0, 3], reps[0, 1, 2]
    assert torch.equal(x_bank_1[:PROJ], x_bank_1[PROJ:])
    assert torch.allclose(x_bank_1, x_bank_2, atol=1e-6)
    assert not torch.allclose(reps[1:, 0, 3], reps[1:, 1, 2], atol=1e-4)


def test_representation_shape(model: BiLM) -> None:
    reps, _ = layers_of(model, [BASE])
    assert reps.shape == (3, 1, len(BASE) + 2, 2 * PROJ)


def test_reversal_keeps_padding_in_place() -> None:
    index = reversal_index(torch.tensor([3, 5]), 5)
    values = torch.arange(10).view(2, 5)
    assert reverse(values, index).tolist() == [[2, 1, 0, 3, 4], [9, 8, 7, 6, 5]]
    assert torch.equal(reverse(reverse(values, index), index), values)


def test_lm_batch_targets_are_next_and_previous_tokens() -> None:
    vocab = WordVocab(words=("<unk>", "<bos>", "<eos>", "a", "b"), counts=(0, 1, 1, 2, 2))
    types = TokenTypes(10)
    encoded = encode_sentences([["a", "b", "zz"], ["b"]], vocab, types)
    batch = lm_batch(encoded, [0, 1])
    a, b = vocab.id("a"), vocab.id("b")
    assert batch.forward_targets.tolist() == [[a, b, UNK_ID, EOS_ID], [b, EOS_ID, PAD_TARGET, PAD_TARGET]]
    assert batch.backward_targets.tolist() == [[UNK_ID, b, a, BOS_ID], [b, BOS_ID, PAD_TARGET, PAD_TARGET]]
    assert batch.forward_inputs[0, 0] == types.id(BOS) and batch.backward_inputs[0, 0] == types.id(EOS)
    assert batch.forward_inputs[1, 2] == PAD_TYPE
    assert batch.tokens == 4


def test_word_vocab_orders_by_frequency_and_maps_unknowns() -> None:
    sentences = [["a", "b", "b", "c"], ["b", "c", "d"]]
    vocab = WordVocab.build(sentences, min_count=2, max_size=None)
    assert vocab.words == ("<unk>", "<bos>", "<eos>", "b", "c")
    assert vocab.counts == (2, 2, 2, 3, 2)  # a and d are <unk> targets
    assert vocab.id("a") == UNK_ID and "a" not in vocab and "b" in vocab and "<unk>" not in vocab
    assert WordVocab.build(sentences, min_count=1, max_size=1).regular_words == ("b",)
    with pytest.raises(EmptyVocabulary) as info:
        WordVocab.build(sentences, min_count=4, max_size=None)
    assert info.value.field == "embedder.min_count"
    assert WordVocab.from_json(vocab.to_json()) == vocab


def test_cutoffs_follow_the_frequency_profile() -> None:
    # Zipf-like: 1000 words, the head of an adaptive softmax must be small and frequent.
    words = tuple(f"w{i}" for i in range(1000))
    counts = tuple(int(10_000 / (i + 1)) + 1 for i in range(1000))
    vocab = WordVocab(words=("<unk>", "<bos>", "<eos>", *words), counts=(50, 500, 500, *counts))
    cutoffs = vocab.cutoffs()
    assert cutoffs == sorted(cutoffs) and 3 <= cutoffs[0] < len(vocab) - 1 and cutoffs[-1] < len(vocab)
    assert cutoffs[0] < 400
    tiny = WordVocab(words=("<unk>", "<bos>", "<eos>", "x"), counts=(0, 1, 1, 3))
    assert tiny.cutoffs() == [3]


def test_char_ids_cover_any_string_and_reserve_boundaries() -> None:
    latin, han, unseen = char_ids("bank", 12), char_ids("银行", 12), char_ids("龘", 12)
    assert len(latin) == len(han) == 12
    assert latin != han != unseen and len(set(unseen) - {0}) >= 3  # bow, 3 UTF-8 bytes, eow
    assert char_ids(BOS, 12) != char_ids("<bos>x", 12)[:3] + (0,) * 9
    assert len(char_ids("x" * 100, 12)) == 12  # cut, never longer


def test_sentence_splitting_latin_and_cjk() -> None:
    text = 'Fires burn near Sydney. "Homes are lost!" Crews wait?\nNew line 3.5 km away'
    expected = ["Fires burn near Sydney.", '"Homes are lost!', "Crews wait?", "New line 3.5 km away"]
    assert split_sentences(text) == expected
    assert split_sentences("山火威胁房屋。消防员在努力！天气很热？好") == ["山火威胁房屋。", "消防员在努力！", "天气很热？", "好"]
    tok = Tokenizer()
    assert sentence_tokens("", tok) == [] and sentence_tokens("?!", tok) == []
    long = sentence_tokens(" ".join(["word"] * (MAX_SENTENCE_TOKENS + 5)), tok)
    assert [len(s) for s in long] == [MAX_SENTENCE_TOKENS, 5]


def test_heldout_split_is_deterministic_and_disjoint() -> None:
    sentences = [[str(i)] for i in range(50)]
    train, held = split_heldout(sentences, 0.1, seed=3)
    assert len(held) == 5 and len(train) == 45
    assert split_heldout(sentences, 0.1, seed=3) == (train, held)
    assert split_heldout(sentences, 0.1, seed=4)[1] != held
    assert not {s[0] for s in train} & {s[0] for s in held}
    assert split_heldout(sentences, 0.0, seed=3) == (sentences, [])
    assert len(split_heldout(sentences[:2], 0.01, seed=3)[1]) == 1  # at least one held out


def test_length_batches_group_similar_lengths() -> None:
    lengths = [random.Random(0).randint(1, 60) for _ in range(200)]
    batches = length_batches(lengths, 16, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(200))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 10
    assert length_batches(lengths, 16, None) == length_batches(lengths, 16, None)
    assert length_batches(lengths, 16, random.Random(1)) != length_batches(lengths, 16, random.Random(2))
