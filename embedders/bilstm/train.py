"""The biLM training loop: length-bucketed batches, truncated BPTT, clipping, early stopping.

Reproducibility: initialisation and dropout draw from torch's generator seeded
with ``spec.seed`` inside :func:`torch.random.fork_rng` (so training neither
depends on nor disturbs the caller's random state), and the held-out split and
batch order come from :class:`random.Random` seeded the same way. With one
thread the trained weights are bit-identical from run to run; with more,
torch's CPU kernels are still deterministic for a fixed thread count.

Progress: phase "train" counts batches (epochs x batches per epoch), so a
cancellation raised by the sink stops training within one batch; when early
stopping ends training sooner, the rest is advanced at once so the phase ends
complete. Live figures go to the sink's optional ``note(**metrics)``:
``epoch``, ``tokens_per_second``, ``perplexity`` (running, training batches of
the epoch so far) after every batch, and ``heldout_perplexity`` after each epoch.
"""

from __future__ import annotations

import math
import os
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

    @property
    def tokens_per_second(self) -> float:
        busy = sum(e.seconds for e in self.epochs)
        return sum(e.tokens_per_second * e.seconds for e in self.epochs) / busy if busy else 0.0

    def to_json(self) -> dict:
        return {**asdict(self), "tokens_per_second": self.tokens_per_second}


def machine_cpus() -> int:
    """CPUs this process may run on (the affinity mask, which containers narrow), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` (default: every CPU) while training, then restore the process setting.

    torch's thread count is process-wide; the service must not be left running
    its other work with whatever the last training job chose.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or machine_cpus())
    try:
        yield
    finally:
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
