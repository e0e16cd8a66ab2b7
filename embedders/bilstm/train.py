"""The biLM training loop: length-bucketed batches, truncated BPTT, clipping, early stopping.

Reproducibility: initialisation and dropout draw from torch's generator seeded
with ``spec.seed`` inside :func:`torch.random.fork_rng` (so training neither
depends on nor disturbs the caller's random state), and the held-out split and
batch order come from :class:`random.Random` seeded the same way. With one
thread - the default (:func:`resolve_threads`) - the trained weights are
bit-identical from run to run; with more, torch's CPU kernels are still
deterministic for a fixed thread count, but differ from one count to another.

Threads (:func:`resolve_threads`, :func:`torch_threads`): one torch thread
unless the spec says otherwise. See :data:`DEFAULT_THREADS` for the measurement.

Progress: phase "train" counts batches (epochs x batches per epoch), so a
cancellation raised by the sink stops training within one batch; when early
stopping ends training sooner, the rest is advanced at once so the phase ends
complete. Live figures go to the sink's optional ``note(**metrics)``:
``epoch``, ``tokens_per_second``, ``perplexity`` (running, training batches of
the epoch so far) after every batch, and ``heldout_perplexity`` after each epoch.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch

from embedders.base import Progress, note_metrics
from embedders.bilstm.batches import EncodedSentences, LMBatch, lm_batch
from embedders.bilstm.data import length_batches
from embedders.bilstm.evaluate import perplexity
from embedders.bilstm.model import BiLM, LSTMState
from embedders.bilstm.spec import BiLSTMSpec
from embedders.errors import InvalidParameter


@dataclass
class EpochReport:
    epoch: int
    train_perplexity: float
    heldout_perplexity: float | None
    tokens_per_second: float
    seconds: float


@dataclass
class TrainingReport:
    """What training did; saved in the manifest (informative) and shown by the benchmark."""

    train_tokens: int
    heldout_tokens: int
    vocabulary_size: int
    unigram_perplexity: float | None
    epochs: list[EpochReport] = field(default_factory=list)
    best_epoch: int = 0
    heldout_perplexity: float | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    threads: int | None = None  # torch threads training ran at (informative; None: not recorded)

    @property
    def tokens_per_second(self) -> float:
        busy = sum(e.seconds for e in self.epochs)
        return sum(e.tokens_per_second * e.seconds for e in self.epochs) / busy if busy else 0.0

    def to_json(self) -> dict:
        return {**asdict(self), "tokens_per_second": self.tokens_per_second}


DEFAULT_THREADS = 1
"""torch threads for training when the spec's ``threads`` is null.

Why 1 and not every CPU (issue 14; bench/bench_bilstm_load.py, results in
bench/results/bilstm_load.json, 2-core machine shared with other work): a biLM
batch is thousands of small operations (per LSTM time step a [32 x 128] x
[128 x 1024] product, its backward, dropout, the softmax pieces), and with 2
threads each is an OpenMP parallel region ending in a barrier (with
``OMP_WAIT_POLICY=PASSIVE`` the process slept ~1,800 times per batch, once per
barrier wait). When any other process holds a core, libgomp's default
waiting (spin, then sleep) makes the thread that reaches a barrier burn its
time slice spinning for its partner, which waits in the run queue
(per-thread schedstat over 5 s: each of the 2 threads 0.9 s on a core, 4.2 s
waiting). Medians over two interleaved runs, idle and beside a Python, numpy
or torch loop: 2 threads 140-1,720 tokens/s (single runs down to 96: the
issue's 58 tokens/s) at 0.7-4.0 ms of CPU per token; 1 thread 1,550-6,250
tokens/s at 0.16-0.19 ms per token. One thread has no barrier to wait at; it
is also the only count with which training is bit-identical from run to run,
so the default is now reproducible. What it costs: on a really idle machine
(load 0.03-0.18) 2 threads ran at 9,300 tokens/s against 6,100 on 1 (one
pair). A full default training on 1 thread took 99 s (6,300 tokens/s, load
1.2-1.8) and 153 s (4,100 tokens/s, load 4-5; the issue's idle 2-thread
figure), with held-out perplexity 158.17 both times.

``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at once at a barrier) also cured
2 threads (2,160-6,040 tokens/s, 0.2 ms per token; beside other processes it
beat 1 thread by up to 2x, partly by taking a second share of the CPUs from
them; idle it lost the 2-thread gain: 6,300 tokens/s), but libgomp reads it once, when torch is loaded, so a spec cannot set
it: it belongs in the environment of the process (then ``threads: 2`` is
worth setting). A default adapted to
the load average was not chosen: load changes during a training run, and the
trained weights would then depend on it.
"""


def resolve_threads(threads: int | None) -> int:
    """The torch thread count training runs at: the spec's ``threads`` when given (honoured as is,
    even above the CPU count: the caller asked for it), else :data:`DEFAULT_THREADS`."""
    return DEFAULT_THREADS if threads is None else threads


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block at :func:`resolve_threads` (``threads``) torch threads, then restore the previous count.

    Yields the count used. torch's thread count is a setting of the process (of
    the calling thread's OpenMP team, and MKL's globally): the service must not
    be left running its other work with whatever the last training job chose.
    """
    resolved = resolve_threads(threads)
    previous = torch.get_num_threads()
    if resolved != previous:
        torch.set_num_threads(resolved)
    try:
        yield resolved
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def train(
    model: BiLM,
    chars: torch.Tensor,
    train_set: EncodedSentences,
    heldout_set: EncodedSentences,
    spec: BiLSTMSpec,
    report: TrainingReport,
    progress: Progress,
) -> TrainingReport:
    """Train ``model`` in place; it ends holding the weights of its best held-out epoch.

    Exceptions from ``progress`` (a cancelled job) propagate at once.
    """
    started = time.perf_counter()
    rng = random.Random(spec.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    if spec.optimizer == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.Adam(params, lr=spec.lr)
    else:
        optimizer = torch.optim.Adagrad(params, lr=spec.lr, initial_accumulator_value=1.0)
    n_batches = math.ceil(len(train_set.types) / spec.batch_size)
    total_steps = spec.epochs * n_batches
    progress.start("train", total_steps)
    best_state: dict[str, torch.Tensor] | None = None
    best = math.inf
    bad_epochs = 0
    steps = 0
    for epoch in range(1, spec.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        nll_total, targets_total, tokens = 0.0, 0, 0
        for indices in length_batches(train_set.lengths, spec.batch_size, rng):
            batch = lm_batch(train_set, indices)
            nll, count = _train_batch(model, chars, batch, optimizer, params, spec)
            nll_total, targets_total, tokens = nll_total + nll, targets_total + count, tokens + batch.tokens
            steps += 1
            progress.advance(1)
            note_metrics(
                progress,
                epoch=epoch,
                tokens_per_second=tokens / max(time.perf_counter() - t0, 1e-9),
                perplexity=math.exp(nll_total / targets_total),
            )
        seconds = time.perf_counter() - t0
        heldout = perplexity(model, chars, heldout_set) if heldout_set.types else None
        report.epochs.append(
            EpochReport(epoch, math.exp(nll_total / targets_total), heldout, tokens / max(seconds, 1e-9), seconds)
        )
        if heldout is None:
            continue
        note_metrics(progress, epoch=epoch, heldout_perplexity=heldout)
        if math.isfinite(heldout) and heldout < best:
            best, bad_epochs, report.best_epoch = heldout, 0, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
            if bad_epochs >= spec.patience:
                report.stopped_early = epoch < spec.epochs
                break
    if steps < total_steps:
        progress.advance(total_steps - steps)
    if best_state is not None:
        model.load_state_dict(best_state)
        report.heldout_perplexity = best
    elif heldout_set.types or not math.isfinite(report.epochs[-1].train_perplexity):
        raise InvalidParameter(
            "training diverged (perplexity is not finite); lower the learning rate", field="embedder.lr"
        )
    else:
        report.best_epoch = len(report.epochs)
    model.eval()
    report.seconds = time.perf_counter() - started
    return report


def _train_batch(
    model: BiLM,
    chars: torch.Tensor,
    batch: LMBatch,
    optimizer: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    spec: BiLSTMSpec,
) -> tuple[float, int]:
    """One batch in truncated-BPTT chunks of ``spec.bptt`` steps; one update per chunk.

    The LSTM states flow from chunk to chunk (detached), so the model still
    conditions on the whole sentence; only the gradient is truncated.
    """
    state_f: LSTMState | None = None
    state_b: LSTMState | None = None
    nll_total, count_total = 0.0, 0
    rows = batch.forward_inputs.shape[0]
    for start in range(0, batch.time, spec.bptt):
        window = slice(start, start + spec.bptt)
        tg_f, tg_b = batch.forward_targets[:, window], batch.backward_targets[:, window]
        mask_f, mask_b = tg_f >= 0, tg_b >= 0
        count = int(mask_f.sum() + mask_b.sum())
        x = model.encode(chars, torch.cat([batch.forward_inputs[:, window], batch.backward_inputs[:, window]]))
        x_f, x_b = x.split(rows)
        out_f, state_f = model.forward_lm(x_f, state_f)
        out_b, state_b = model.backward_lm(x_b, state_b)
        hidden = torch.cat([out_f[-1][mask_f], out_b[-1][mask_b]])
        nll = model.nll(hidden, torch.cat([tg_f[mask_f], tg_b[mask_b]]))
        optimizer.zero_grad(set_to_none=True)
        (nll / count).backward()
        torch.nn.utils.clip_grad_norm_(params, spec.clip)
        optimizer.step()
        state_f = [(h.detach(), c.detach()) for h, c in state_f]
        state_b = [(h.detach(), c.detach()) for h, c in state_b]
        nll_total += float(nll.detach())
        count_total += count
    return nll_total, count_total
