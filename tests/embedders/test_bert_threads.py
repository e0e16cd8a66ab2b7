"""Each bert space runs at its own ``threads``: torch's process-wide thread count is set
around each forward pass and put back, so one space never changes another's setting
or the process's (embedders/bert/backends.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch")

from embedders.bert import BertEmbedder, BertSpec  # noqa: E402
from embedders import torch_threads as shared_threads
from embedders.bert import backends  # noqa: E402

TEXTS = ["Firefighters battled bushfires near Sydney overnight.", "Stock markets fell sharply."]


def _record(embedder: BertEmbedder) -> list[int]:
    """torch's thread count seen inside each forward pass of ``embedder``'s transformer."""
    seen: list[int] = []
    transformer = embedder.model()[0]
    forward = transformer.forward

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(torch.get_num_threads())
        return forward(*args, **kwargs)

    transformer.forward = spy
    return seen


@pytest.fixture
def global_threads() -> Iterator[int]:
    """The process's torch thread count set to a value no space asks for, restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def spaces() -> tuple[BertEmbedder, BertEmbedder, BertEmbedder]:
    """Three spaces over the default model: threads 1, threads 2, and no setting."""
    return BertEmbedder(BertSpec(threads=1)), BertEmbedder(BertSpec(threads=2)), BertEmbedder(BertSpec())


def test_loading_a_space_leaves_the_process_setting_alone(global_threads: int) -> None:
    BertEmbedder(BertSpec(threads=1)).model()
    assert torch.get_num_threads() == global_threads


def test_each_space_runs_at_its_own_setting(spaces, global_threads: int) -> None:  # type: ignore[no-untyped-def]
    one, two, default = spaces
    seen = {name: _record(e) for name, e in (("one", one), ("two", two), ("default", default))}
    one.embed_query(TEXTS[0])
    two.embed_query(TEXTS[0])
    one.embed_documents(TEXTS)
    two.embed_documents(TEXTS)
    default.embed_query(TEXTS[0])
    default.embed_documents(TEXTS)
    assert seen["one"] == [1, 1]
    assert seen["two"] == [2, 2]
    # No setting: one text on one thread, a batch on every core.
    assert seen["default"] == [1, backends.all_cores()]
    assert torch.get_num_threads() == global_threads


def test_concurrent_spaces_do_not_see_each_others_setting(spaces, global_threads: int) -> None:  # type: ignore[no-untyped-def]
    one, two, _ = spaces
    seen = {1: _record(one), 2: _record(two)}
    errors: list[BaseException] = []

    def run(embedder: BertEmbedder) -> None:
        try:
            for _ in range(4):
                embedder.embed_query(TEXTS[0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(e,)) for e in (one, two, one, two)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert seen[1] == [1] * 8
    assert seen[2] == [2] * 8
    assert torch.get_num_threads() == global_threads


def test_same_vectors_whatever_the_threads(spaces) -> None:  # type: ignore[no-untyped-def]
    one, two, default = spaces
    a, b, c = (e.embed_documents(TEXTS) for e in spaces)
    assert abs(a - b).max() < 1e-5 and abs(a - c).max() < 1e-5
    assert abs(one.embed_query(TEXTS[0]) - two.embed_query(TEXTS[0])).max() < 1e-5


@pytest.mark.parametrize(("threads", "expected"), [(1, 1), (2, 2), (None, backends.all_cores())])
def test_onnx_sessions_take_the_spec_setting(threads: int | None, expected: int) -> None:
    pytest.importorskip("onnxruntime")
    options = backends._onnx_kwargs(BertSpec(backend="onnx", threads=threads))["session_options"]
    assert options.intra_op_num_threads == expected


def test_onnx_calls_do_not_touch_torch() -> None:
    with backends.running_with(BertSpec(backend="onnx", threads=1), 1):
        assert not shared_threads._TORCH_THREADS.locked()
    with backends.running_with(BertSpec(threads=1), 1):
        assert shared_threads._TORCH_THREADS.locked()
