"""bilstm training speed on a shared machine: tokens/s idle and with one core busy, per torch thread setting.

Why (issue 14): training ran at ~4,000 tokens/s on 2 idle cores and ~58 tokens/s
while another process was busy. This measures the thread settings in question
(``threads`` 1, 2 and the spec's default ``None``, plus 2 threads with
``OMP_WAIT_POLICY=PASSIVE``) under both conditions, interleaved in one run so
that the ratios are comparable even when the machine's other users come and go.

    .venv/bin/python bench/bench_bilstm_load.py [--reps 2] [--batches 16] [--max-seconds 20]
    .venv/bin/python bench/bench_bilstm_load.py --full-fit      # adds one full default training
    .venv/bin/python bench/bench_bilstm_load.py --report-only   # re-prints the table of the saved runs

The interleaved run takes ~8 minutes on the shared 2-core machine (4 settings x
4 conditions x 2 repetitions; the collapsed ones stop at ``--max-seconds``).
``--full-fit`` trains the whole default spec (10 epochs, the default threads)
once in a fresh process, ~2.5 minutes, and adds it to the saved results.

What one measurement is: a fresh Python process (so torch's OpenMP pool and the
environment variables start clean, as in a service process) builds the Lee
demo corpus (350 documents, as bench/bench_bilstm.py) and calls
``BiLSTMEmbedder(spec).fit(corpus, progress)`` - the service's own code path
(spec -> ``torch_threads`` -> ``train``) - with the default spec except
``epochs=1`` and ``threads``. The progress sink stops training (by raising, as a
cancelled job does) after ``--batches`` training batches or ``--max-seconds``
of training, whichever first: a full default run is 10 epochs of ~85 batches,
and at the reported 58 tokens/s one epoch alone would take ~17 minutes. Batch
order is seeded, so every measurement trains the same batches in the same
order (a time-capped one a prefix of them). tokens/s is the training loop's own
figure (``tokens_per_second`` note: tokens / seconds since the epoch began).

Conditions, each a subprocess started before and killed after the measurement:

* ``idle``: nothing of ours besides the measurement (other users of the machine
  are not controlled; the 1-minute load average before each measurement is
  recorded);
* ``python loop``: ``while True: pass`` - one core busy with plain Python;
* ``numpy loop``: a 400 x 400 float64 matmul loop on one OpenBLAS thread - one
  core busy with BLAS;
* ``torch loop``: another torch process at torch's default thread count (every
  core) running small products, ``tanh(a @ w)`` with a [64 x 256] x [256 x 1024]
  - what a second training, a bert build or a second test worker looks like.

Order in each repetition: for each setting, every condition in the order above.

Writes bench/results/bilstm_load.json and prints a Markdown table. Progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

SETTINGS: dict[str, dict[str, Any]] = {
    "threads=1": {"threads": 1, "env": {}},
    "threads=2": {"threads": 2, "env": {}},
    "threads=2 OMP_WAIT_POLICY=PASSIVE": {"threads": 2, "env": {"OMP_WAIT_POLICY": "PASSIVE"}},
    "default (threads=null)": {"threads": None, "env": {}},
}
"""Label -> spec ``threads`` and extra environment of the measuring process."""

LOADS: dict[str, tuple[str, dict[str, str]] | None] = {
    "idle": None,
    "python loop": ("while True: pass", {}),
    "numpy loop": (
        "import numpy as np\na = np.random.rand(400, 400)\nwhile True: a @ a",
        {"OPENBLAS_NUM_THREADS": "1"},
    ),
    "torch loop": (
        "import torch\na, w = torch.rand(64, 256), torch.rand(256, 1024)\nwhile True: torch.tanh(a @ w)",
        {},
    ),
}
"""Condition -> the competing process's Python code and extra environment (None: no competing process)."""


class _Enough(Exception):
    """Raised by the progress sink to end a measurement (the job runner's cancellation path)."""


class _Sink:
    """Progress sink recording the training loop's live figures; stops after a batch or time budget."""

    def __init__(self, batches: int, max_seconds: float) -> None:
        self.batches, self.max_seconds = batches, max_seconds
        self.done, self.started = 0, 0.0
        self.phase = ""
        self.last: dict[str, Any] = {}
        self.threads: int | None = None
        self.cpu_started = 0.0
        self.usage_started: Any = None

    def start(self, phase: str, total: int) -> None:
        self.phase = phase
        if phase == "train":
            self.started = time.perf_counter()
            self.cpu_started = time.process_time()  # CPU seconds of all the process's threads
            self.usage_started = resource.getrusage(resource.RUSAGE_SELF)

    def advance(self, n: int = 1) -> None:
        if self.phase == "train":
            self.done += n

    def note(self, **metrics: Any) -> None:
        import torch

        self.last = metrics
        self.threads = torch.get_num_threads()  # what training runs at, read from inside the loop
        if self.done >= self.batches or time.perf_counter() - self.started >= self.max_seconds:
            raise _Enough


def child(threads: int | None, batches: int, max_seconds: float) -> dict[str, Any]:
    """One measurement, in this (fresh) process: train through the embedder until the sink stops it."""
    import torch

    from bench_bilstm import demo_corpus
    from embedders import BiLSTMEmbedder, BiLSTMSpec
    from embedders.bilstm import train

    resolve = getattr(train, "resolve_threads", lambda t: t or os.cpu_count())  # before the fix: every CPU

    spec = BiLSTMSpec(epochs=1, threads=threads)
    sink = _Sink(batches, max_seconds)
    before = torch.get_num_threads()
    try:
        BiLSTMEmbedder(spec).fit(demo_corpus(), sink)
    except _Enough:  # the sink's stop after the measured batches: the measurement is done, not an error
        pass
    seconds, cpu = time.perf_counter() - sink.started, time.process_time() - sink.cpu_started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    assert torch.get_num_threads() == before, "training left torch's thread count changed"
    return {
        "batches": sink.done,
        "seconds": seconds,
        # CPU time the process burnt per wall second of training: ~threads when the work is useful, and
        # also ~threads when the threads spin at barriers; low when they sleep (PASSIVE) or are preempted.
        "cpu_seconds": cpu,
        "cpu_per_token_ms": 1000 * cpu / max(1.0, float(sink.last.get("tokens_per_second", 0.0)) * seconds),
        "involuntary_context_switches": usage.ru_nivcsw - sink.usage_started.ru_nivcsw,
        "voluntary_context_switches": usage.ru_nvcsw - sink.usage_started.ru_nvcsw,
        "tokens_per_second": float(sink.last.get("tokens_per_second", 0.0)),
        "torch_threads_used": sink.threads,
        "resolved_default": resolve(None),
    }


def full_fit() -> dict[str, Any]:
    """The whole default spec trained once, in this (fresh) process, as a space build does."""
    from bench_bilstm import demo_corpus
    from embedders import BiLSTMEmbedder, BiLSTMSpec

    load_before, started = os.getloadavg()[0], time.perf_counter()
    report = BiLSTMEmbedder(BiLSTMSpec()).fit(demo_corpus()).training_report or {}
    return {
        "fit_seconds": time.perf_counter() - started,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "threads": report.get("threads"),
        "tokens_per_second": report.get("tokens_per_second"),
        "epochs": len(report.get("epochs", [])),
        "epoch_tokens_per_second": [round(e["tokens_per_second"]) for e in report.get("epochs", [])],
        "heldout_perplexity": report.get("heldout_perplexity"),
        "unigram_perplexity": report.get("unigram_perplexity"),
    }


def measure(label: str, condition: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run :func:`child` in a fresh process with the setting's environment, beside the condition's load."""
    setting = SETTINGS[label]
    env = {**os.environ, **setting["env"]}
    cmd = [sys.executable, __file__, "--child", json.dumps(setting["threads"]),
           "--batches", str(args.batches), "--max-seconds", str(args.max_seconds)]
    load = LOADS[condition]
    load_before = os.getloadavg()[0]
    competitor = None
    if load is not None:
        code, extra = load
        competitor = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **extra}, cwd=ROOT)
        time.sleep(1.0)  # let it start (imports) and get scheduled
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    result = json.loads(out.strip().splitlines()[-1])
    result.update(setting=label, condition=condition, load_before=load_before, load_after=os.getloadavg()[0])
    return result


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per setting: median tokens/s per condition, its ratio to idle, the runs' figures and load averages."""
    table: dict[str, dict[str, Any]] = {}
    for label in dict.fromkeys(r["setting"] for r in runs):
        mine = [r for r in runs if r["setting"] == label]
        row: dict[str, Any] = {"torch_threads_used": mine[0]["torch_threads_used"], "conditions": {}}
        for cond in dict.fromkeys(r["condition"] for r in mine):
            these = [r for r in mine if r["condition"] == cond]
            row["conditions"][cond] = {
                "tokens_per_second": statistics.median(r["tokens_per_second"] for r in these),
                "cpu_ms_per_token": statistics.median(r["cpu_per_token_ms"] for r in these),
                "all": [round(r["tokens_per_second"], 1) for r in these],
                "load_before": [r["load_before"] for r in these],
            }
        idle = row["conditions"].get("idle", {}).get("tokens_per_second")
        for c in row["conditions"].values():
            c["over_idle"] = c["tokens_per_second"] / idle if idle else None
        table[label] = row
    return table


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    conds = list(dict.fromkeys(c for row in results["summary"].values() for c in row["conditions"]))
    lines = [
        f"bilstm training tokens/s on Lee (default spec, epochs=1, first {results['batches']} batches or "
        f"{results['max_seconds']:.0f} s), {m['cpus']} CPUs, median of {results['reps']}; "
        f"1-min load average {min(results['load_averages']):.1f}-{max(results['load_averages']):.1f} "
        "(others share this machine)",
        "",
        "| setting | torch threads | " + " | ".join(f"{c} tokens/s" for c in conds) + " | CPU ms/token |",
        "|---|---|" + "---|" * len(conds) + "---|",
    ]
    for label, row in results["summary"].items():
        cells = []
        for c in conds:
            v = row["conditions"].get(c)
            if v is None:
                cells.append("-")
            elif c == "idle" or v["over_idle"] is None:
                cells.append(f"{v['tokens_per_second']:.0f}")
            else:
                cells.append(f"{v['tokens_per_second']:.0f} ({v['over_idle']:.2f}x)")
        cpu = [v["cpu_ms_per_token"] for v in row["conditions"].values()]
        cells.append(f"{min(cpu):.2f}-{max(cpu):.2f}")
        lines.append(f"| {label} | {row['torch_threads_used']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "(x: tokens/s against the same setting's idle figure; CPU ms/token: CPU time of the training process "
        "per token, over all conditions - spinning at OpenMP barriers shows up there)",
    ]
    for f in results.get("full_fit", []):
        lines.append(
            f"\nFull default training ({f['epochs']} epochs, {f['threads']} thread(s)): {f['fit_seconds']:.0f} s, "
            f"{f['tokens_per_second']:.0f} tokens/s, held-out perplexity {f['heldout_perplexity']:.1f} "
            f"(unigram {f['unigram_perplexity']:.1f}), load average {f['load_before']:.1f}-{f['load_after']:.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--batches", type=int, default=16, help="training batches per measurement")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="training seconds cap per measurement")
    parser.add_argument("--full-fit", action="store_true", help="add one full default training to --out")
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--conditions", nargs="*", default=list(LOADS), choices=list(LOADS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bilstm_load.json")
    parser.add_argument("--report-only", action="store_true", help="re-summarise --out's runs and print the table")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        sys.path.insert(0, str(ROOT / "bench"))
        if args.child == "full":
            print(json.dumps(full_fit()))
        else:
            print(json.dumps(child(json.loads(args.child), args.batches, args.max_seconds)))
        return
    if args.full_fit:
        out = subprocess.run([sys.executable, __file__, "--child", "full"], capture_output=True, text=True,
                             check=True, cwd=ROOT).stdout
        saved = json.loads(args.out.read_text()) if args.out.exists() else {}
        saved.setdefault("full_fit", []).append(json.loads(out.strip().splitlines()[-1]))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(saved, indent=2) + "\n")
        print(json.dumps(saved["full_fit"][-1], indent=2))
        return

    if args.report_only:
        saved = json.loads(args.out.read_text())
        saved["summary"] = summarise(saved["runs"])
        args.out.write_text(json.dumps(saved, indent=2) + "\n")
        print(markdown(saved))
        return

    from embedders.storage import library_versions

    started = time.time()
    runs: list[dict[str, Any]] = []
    for rep in range(args.reps):
        for label in args.settings:
            for condition in args.conditions:
                r = measure(label, condition, args)
                r["rep"] = rep
                runs.append(r)
                print(f"rep {rep} {label:36s} {r['condition']:11s} {r['tokens_per_second']:7.0f} tokens/s "
                      f"({r['batches']} batches, {r['seconds']:.0f} s, cpu {r['cpu_per_token_ms']:.2f} ms/token, "
                      f"ctx sw inv {r['involuntary_context_switches']} vol {r['voluntary_context_switches']}, "
                      f"load {r['load_before']:.2f})",
                      file=sys.stderr, flush=True)
    results: dict[str, Any] = {
        "benchmark": "bilstm training tokens/s, idle vs a competing process, per torch thread setting (issue 14)",
        "conditions": {k: (v[0] if v else None) for k, v in LOADS.items() if k in args.conditions},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": library_versions("torch"),
        },
        "spec": "BiLSTMSpec defaults, epochs=1, threads per setting",
        "batches": args.batches,
        "max_seconds": args.max_seconds,
        "reps": args.reps,
        "wall_seconds": time.time() - started,
        "load_averages": [r["load_before"] for r in runs] + [r["load_after"] for r in runs],
        "summary": summarise(runs),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
