"""bilstm training threads (issue 14): the default resolves to one thread, an explicit count is honoured,
and the process's own torch setting is put back after training - also when training fails.

Why these matter: with 2 threads training collapsed from thousands of tokens/s to ~100 beside another
torch process on the 2-core machine (bench/bench_bilstm_load.py); one thread also makes the default
bit-identical from run to run. The thread count is read from inside the training loop (the progress
sink's ``note``), not inferred, and no test asserts on wall-clock time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from embedders import BiLSTMEmbedder, BiLSTMSpec, ListCorpus
from embedders.bilstm import train as train_module
from embedders.bilstm.train import DEFAULT_THREADS, resolve_threads, torch_threads

TINY: dict[str, Any] = {
    "char_dim": 4, "filters": [[1, 8], [2, 8]], "projection_dim": 8, "hidden_dim": 8, "batch_size": 16, "epochs": 1,
}


class Stop(Exception):
    """Raised by :class:`ThreadSpy` to end training early (the job runner's cancellation path)."""


class ThreadSpy:
    """Progress sink recording torch's thread count at every live-metrics note of the training loop.

    ``stop_after`` ends training after that many batches: the 2-thread tests stop after two, since on
    the shared 2-core test machine 2-thread training is the very thing that collapses (a 1-epoch tiny
    fit took 23 s on 2 threads against 0.3 s on 1 while another test ran).
    """

    def __init__(self, stop_after: int | None = None) -> None:
        self.seen: list[int] = []
        self.stop_after = stop_after

    def start(self, phase: str, total: int) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None

    def note(self, **metrics: Any) -> None:
        self.seen.append(torch.get_num_threads())
        if self.stop_after is not None and len(self.seen) >= self.stop_after:
            raise Stop


@pytest.fixture()
def process_threads() -> Iterator[None]:
    """Leave torch's thread count as the test found it, whatever the test sets."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_default_resolves_to_one_thread_and_explicit_counts_are_honoured() -> None:
    assert BiLSTMSpec().threads is None
    assert DEFAULT_THREADS == 1
    assert resolve_threads(None) == 1
    assert [resolve_threads(n) for n in (1, 2, 3, 8)] == [1, 2, 3, 8]  # even above the CPU count: asked for


def test_torch_threads_sets_the_count_inside_and_restores_it_after_an_error(process_threads: None) -> None:
    torch.set_num_threads(1)
    with torch_threads(2) as used:
        assert used == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
    torch.set_num_threads(2)
    with pytest.raises(ValueError), torch_threads(None) as used:
        assert used == 1 and torch.get_num_threads() == 1
        raise ValueError
    assert torch.get_num_threads() == 2


def test_default_spec_trains_on_one_thread_and_restores_the_process_count(
    small_corpus: ListCorpus, process_threads: None
) -> None:
    torch.set_num_threads(2)  # a process at every core of the test machine (torch's own default here)
    spy = ThreadSpy()
    model = BiLSTMEmbedder(BiLSTMSpec(**TINY)).fit(small_corpus, spy)
    assert spy.seen and set(spy.seen) == {1}
    assert torch.get_num_threads() == 2
    assert model.training_report is not None and model.training_report["threads"] == 1


def test_explicit_threads_are_used_during_training_and_restored_after(
    small_corpus: ListCorpus, process_threads: None
) -> None:
    torch.set_num_threads(1)
    spy = ThreadSpy(stop_after=2)
    with pytest.raises(Stop):
        BiLSTMEmbedder(BiLSTMSpec(**TINY, threads=2)).fit(small_corpus, spy)
    assert spy.seen == [2, 2]
    assert torch.get_num_threads() == 1


def test_a_cancelled_training_restores_the_process_count(small_corpus: ListCorpus, process_threads: None) -> None:
    torch.set_num_threads(2)
    embedder = BiLSTMEmbedder(BiLSTMSpec(**TINY))
    with pytest.raises(Stop):
        embedder.fit(small_corpus, ThreadSpy(stop_after=2))
    assert torch.get_num_threads() == 2
    assert embedder._trained is None  # a cancelled fit leaves the embedder as it was


def test_the_default_spec_is_bit_identical_from_run_to_run(small_corpus: ListCorpus, process_threads: None) -> None:
    """What the docs promise for ``threads: 1`` now holds for the default, whatever the process's count."""

    def weights(process_count: int) -> dict[str, torch.Tensor]:
        torch.set_num_threads(process_count)
        return BiLSTMEmbedder(BiLSTMSpec(**TINY)).fit(small_corpus)._trained.model.state_dict()  # type: ignore[union-attr]

    first, second = weights(2), weights(1)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_changing_the_default_constant_changes_what_training_runs_at(
    small_corpus: ListCorpus, process_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default flows from :data:`DEFAULT_THREADS` to the loop (not a second hard-coded 1 somewhere)."""
    monkeypatch.setattr(train_module, "DEFAULT_THREADS", 2)
    torch.set_num_threads(1)
    spy = ThreadSpy(stop_after=2)
    with pytest.raises(Stop):
        BiLSTMEmbedder(BiLSTMSpec(**TINY)).fit(small_corpus, spy)
    assert spy.seen == [2, 2]
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("threads", [None, 2])
def test_embedding_runs_at_the_spec_threads_and_restores_the_process_count(
    small_corpus: ListCorpus, process_threads: None, monkeypatch: pytest.MonkeyPatch, threads: int | None
) -> None:
    """Inference too: 1 thread unless the spec says (2 threads were 2.5x slower beside a busy process)."""
    from embedders.bilstm import inference

    model = BiLSTMEmbedder(BiLSTMSpec(**TINY, threads=1)).fit(small_corpus)
    if threads is not None:
        model.spec = model.spec.model_copy(update={"threads": threads})
    seen: list[int] = []
    original = inference.token_layers

    def spying(*args: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(inference, "token_layers", spying)
    torch.set_num_threads(2 if threads is None else 1)
    model.embed_documents(["the fire spread", "rain fell"])
    model.token_vectors("the fire spread")
    assert seen and set(seen) == {threads or 1}
    assert torch.get_num_threads() == (2 if threads is None else 1)
