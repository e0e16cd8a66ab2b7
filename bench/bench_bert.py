"""BERT embedder benchmark: vecdex ingest vs raw sentence-transformers, and torch vs ONNX vs int8 ONNX.

One run measures every side on the same machine, on the same texts, with the
repetitions interleaved (raw, vecdex, raw, vecdex, ...), so the ratios hold
even when the machine is shared and noisy; absolute seconds are recorded for
context only.

    .venv/bin/python bench/bench_bert.py [--docs 2000] [--reps 3] [--quick] [--profile]

Writes bench/results/bert.json and prints a Markdown section for RESULTS.md.
Progress goes to stderr.

Texts: N distinct news-like documents (2-4 sentences of the Lee corpus), each
checked to fit in one 256-token window (``BertEmbedder.windows``), so vecdex
sends exactly the texts raw sentence-transformers gets and the model does the
same work on both sides.

1. Throughput, default spec (all-MiniLM-L6-v2, torch backend, batch 32):

   * raw: ``SentenceTransformer(default_model_path(), device="cpu").encode(texts, batch_size=32)``,
     model loaded once beforehand (not timed);
   * vecdex build: a collection holding the N documents, a new ``{"type": "bert"}``
     space, its build job run in-process (``claim_next`` + ``run_job``, what the
     worker does). Timed: the job's wall time (model load, reading SQL, embedding,
     storing vectors, index build and save); its phases and the model load and
     encode time inside it are reported too;
   * vecdex streaming: a collection with a ready BERT space, loaded by one search,
     then the N documents POSTed in batches of 256 through the API in-process
     (FastAPI TestClient); each write catches the loaded space up (embeds the new
     documents, stores their vectors, adds them to the index). Timed: first POST
     to last POST returning.

   Each repetition runs raw, build, raw, stream, raw: the ratios are given both
   as medians over all runs and per repetition against the mean of the two raw
   runs that bracket the vecdex run (the fairest pairing on a noisy machine).

2. Backends through vecdex: a build job per backend (torch, onnx, onnx-int8)
   over the same collection, interleaved with the runs above. Each new ONNX
   space exports (and quantises) the model at build time; that time is
   reported apart from the embedding, and measured once more on its own
   (``BertEmbedder(spec).fit``). Quality: Pearson r on the Lee document
   similarity benchmark per backend, and cosine of each backend's vectors to
   the torch vectors (Lee texts, and the N benchmark texts as stored by the
   builds).

``--profile`` adds a cProfile of one torch build job (bench/results/bert_profile.txt).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embedders.datasets import lee_background, lee_test  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")
STREAM_BATCH = 256
SEED_DOCS = 64  # documents a streaming collection holds before its space is built (not timed)


def quiet_libraries() -> None:
    """Keep stderr to our progress lines: the ONNX export's tracer warnings and notices repeat on every build."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*registered as constants in the trace.*")
    warnings.filterwarnings("ignore", message=".*torch_dtype.*is deprecated.*")
    for name in ("sentence_transformers", "transformers", "optimum"):
        logging.getLogger(name).setLevel(logging.ERROR)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sentences() -> list[str]:
    return [s.strip() for doc in lee_background() + lee_test() for s in re.split(r"(?<=[.!?])\s+", doc) if len(s.split()) > 4]


def bert_documents(n: int, seed: int, fits: Callable[[list[str]], list[bool]], exclude: set[str] | None = None) -> list[str]:
    """N distinct documents of 2-4 Lee sentences (bench_core.synthetic_documents, shorter), each one window long."""
    sentences = _sentences()
    rng = random.Random(seed)
    out: list[str] = []
    seen = set(exclude or ())
    while len(out) < n:
        candidates = [" ".join(rng.sample(sentences, rng.randint(2, 4))) for _ in range(n - len(out))]
        candidates = [c for c in dict.fromkeys(candidates) if c not in seen]
        for text, ok in zip(candidates, fits(candidates)):
            if ok:
                out.append(text)
                seen.add(text)
    return out


# --- instrumentation: time the model load and the encode calls inside vecdex ------------------------


class Timers:
    """Seconds spent in BertEmbedder's model load (ONNX: export + quantise) and in embed_documents."""

    def __init__(self) -> None:
        self.load_s = 0.0
        self.embed_s = 0.0
        self.embed_calls = 0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


TIMERS = Timers()


def instrument_bert() -> None:
    """Wrap BertEmbedder._load_model and embed_documents with timers (bench-side only; no service change)."""
    from embedders.bert.embedder import BertEmbedder

    load, embed = BertEmbedder._load_model, BertEmbedder.embed_documents

    def timed_load(self):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return load(self)
        finally:
            TIMERS.load_s += time.perf_counter() - t

    def timed_embed(self, texts):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return embed(self, texts)
        finally:
            TIMERS.embed_s += time.perf_counter() - t
            TIMERS.embed_calls += 1

    BertEmbedder._load_model = timed_load  # type: ignore[method-assign]
    BertEmbedder.embed_documents = timed_embed  # type: ignore[method-assign]


class PhaseTimer:
    """A Progress sink (the job runner's ``echo``) that records when each phase starts."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def start(self, phase: str, total: int) -> None:
        self.marks.append((phase, time.perf_counter()))

    def advance(self, n: int = 1) -> None:
        pass

    def phases(self, end: float) -> dict[str, float]:
        out: dict[str, float] = {}
        for (name, t), nxt in zip(self.marks, [m[1] for m in self.marks[1:]] + [end]):
            out[name] = out.get(name, 0.0) + nxt - t
        return out


# --- the service, in-process ---------------------------------------------------------------------------


class Service:
    """A migrated SQLite data directory, the API app behind a TestClient, and a synchronous job runner."""

    def __init__(self, data: Path) -> None:
        from fastapi.testclient import TestClient

        from service.api import create_app
        from service.facade import Vecdex
        from service.store.migrate import upgrade
        from service.settings import Settings

        self.settings = Settings(data_dir=data, embedded_worker=False)
        upgrade(self.settings.resolved_database_url)
        self.vx = Vecdex(self.settings)  # runs build jobs here; the HTTP side goes through the app's own
        self.db = self.vx.db
        self.client = TestClient(create_app(self.settings, run_worker=False))
        self.client.__enter__()

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.vx.close()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(path, json=body)
        if response.status_code >= 300:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def add_documents(self, collection: str, texts: list[str], prefix: str, batch: int, first: int = 0) -> None:
        """POST the texts ``batch`` at a time as documents ``<prefix><first + i>``."""
        for start in range(0, len(texts), batch):
            docs = [
                {"external_id": f"{prefix}{first + i}", "text": texts[i]} for i in range(start, min(len(texts), start + batch))
            ]
            self.post(f"/collections/{collection}/documents", {"documents": docs})

    def build(self, collection: str, space: str, embedder: dict[str, Any]) -> dict[str, Any]:
        """Create a space and run its build job here; returns the job's wall time, phases and the BERT timers."""
        created = self.post(f"/collections/{collection}/spaces", {"name": space, "embedder": embedder})
        phases = PhaseTimer()
        TIMERS.reset()
        t0 = time.perf_counter()
        job = self.vx.jobs.run_here(job_id=created["job"]["id"], progress=phases, label="bench")
        wall = time.perf_counter() - t0
        if job is None or job.status != "succeeded":
            raise RuntimeError(f"build of {space}: {job}")
        return {
            "space_id": self.space_id(collection, space),
            "job_s": wall,
            "phases_s": phases.phases(t0 + wall),
            "model_load_s": TIMERS.load_s,
            "encode_s": TIMERS.embed_s,
        }

    def space_id(self, collection: str, space: str) -> int:
        return self.vx.spaces.row_id(collection=collection, space=space)

    def stored_vectors(self, space_id: int) -> dict[str, np.ndarray]:
        """external id -> the vector the build stored."""
        from sqlalchemy import select

        from service.store.models import Document, StoredVector

        with self.db.session() as s:
            rows = s.execute(
                select(Document.external_id, StoredVector.vector)
                .join(Document, Document.id == StoredVector.document_id)
                .where(StoredVector.space_id == space_id)
            ).all()
        return {r[0]: np.frombuffer(r[1], dtype=np.float32) for r in rows}


# --- the measurements ------------------------------------------------------------------------------------


def padding(tokenizer: Any, texts: list[str], chunk: int, batch: int = 32) -> dict[str, float]:
    """Model work when ``texts`` are encoded ``chunk`` at a time, as sentence-transformers batches them.

    ``encode`` sorts each call's texts by character length and pads every batch to its
    longest member, so smaller calls (a 256-document POST, a 1000-document build page)
    pad more than one call over everything. Deterministic, unlike the timings: the
    share of the throughput gap that is padding, not overhead.
    """
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]
    tokens = attention = 0
    for start in range(0, len(texts), chunk):
        order = sorted(range(start, min(len(texts), start + chunk)), key=lambda i: -len(texts[i]))
        for b in range(0, len(order), batch):
            longest = max(lengths[i] for i in order[b : b + batch])
            n = len(order[b : b + batch])
            tokens += longest * n
            attention += longest * longest * n
    real = sum(lengths)
    return {"padded_tokens": tokens, "vs_unpadded": tokens / real, "attention_vs_unpadded": attention / sum(x * x for x in lengths)}


def run_raw(model: Any, texts: list[str]) -> float:
    t = time.perf_counter()
    vectors = model.encode(texts, batch_size=32)
    elapsed = time.perf_counter() - t
    assert len(vectors) == len(texts)
    return elapsed


def run_stream(svc: Service, rep: int, texts: list[str], seed_texts: list[str]) -> dict[str, Any]:
    """A fresh collection with a ready, loaded BERT space; then the texts POSTed 256 at a time."""
    name = f"stream{rep}"
    svc.post("/collections", {"name": name})
    svc.add_documents(name, seed_texts, "seed", 1000)
    svc.build(name, "bert", {"type": "bert"})
    svc.post(f"/collections/{name}/search", {"query": "bushfires near Sydney", "k": 3})  # loads the space
    TIMERS.reset()
    posts: list[float] = []
    t0 = time.perf_counter()
    for start in range(0, len(texts), STREAM_BATCH):
        t = time.perf_counter()
        svc.add_documents(name, texts[start : start + STREAM_BATCH], "d", STREAM_BATCH, first=start)
        posts.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    hits = svc.post(f"/collections/{name}/search", {"query": texts[-1], "k": 1})["hits"]
    assert hits and hits[0]["external_id"] == f"d{len(texts) - 1}", hits  # the last write is searchable
    return {
        "wall_s": wall,
        "encode_s": TIMERS.embed_s,
        "model_load_s": TIMERS.load_s,
        "embed_calls": TIMERS.embed_calls,
        "post_s": posts,
    }


def med(values: list[float]) -> float:
    return float(statistics.median(values))


def machine_info() -> dict[str, Any]:
    import onnxruntime
    import sentence_transformers
    import torch
    import transformers

    model = None
    flags: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model is None:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = sorted(f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "fma", "vnni")) or "vnni" in f)
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": affinity,
        "cpu_model": model,
        "cpu_simd_flags": flags,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "onnxruntime": onnxruntime.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "load_average_start": os.getloadavg(),
    }


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def quality(export_reps: int) -> dict[str, Any]:
    """Per backend: export (+ quantise) time on its own, Lee Pearson r, cosine to torch on the Lee texts."""
    from embedders.base import ListCorpus
    from embedders.bert import BertEmbedder, BertSpec
    from embedders.datasets import evaluate_lee

    lee = lee_test()
    out: dict[str, Any] = {}
    reference: np.ndarray | None = None
    for backend in BACKENDS:
        load_times = []
        for _ in range(export_reps):
            embedder = BertEmbedder(BertSpec(backend=backend))
            t = time.perf_counter()
            embedder.fit(ListCorpus([]))
            load_times.append(time.perf_counter() - t)
        vectors = embedder.embed_documents(lee)
        windows = sum(len(w) for w in embedder.windows(lee))
        entry: dict[str, Any] = {
            "load_or_export_s": med(load_times),
            "lee_pearson": evaluate_lee(embedder.embed_documents),
            "lee_windows": windows,
        }
        if reference is None:
            reference = vectors
        else:
            c = cosines(vectors, reference)
            entry["lee_cosine_to_torch_mean"] = float(c.mean())
            entry["lee_cosine_to_torch_min"] = float(c.min())
        out[backend] = entry
        log(f"  {backend}: {json.dumps(entry)}")
    return out


@contextmanager
def profiled(path: Path) -> Iterator[None]:
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        buf = io.StringIO()
        stats = pstats.Stats(profile, stream=buf)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        path.write_text(buf.getvalue())


def bench(n: int, reps: int, profile_to: Path | None, workdir: Path) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from embedders.bert import BertEmbedder, BertSpec
    from embedders.bert.source import default_model_path

    instrument_bert()
    log("loading the model (raw sentence-transformers) ...")
    raw_model = SentenceTransformer(str(default_model_path()), device="cpu")
    checker = BertEmbedder(BertSpec())
    fits = lambda texts: [len(w) == 1 for w in checker.windows(texts)]  # noqa: E731
    texts = bert_documents(n, seed=11, fits=fits)
    seed_texts = bert_documents(SEED_DOCS, seed=12, fits=fits, exclude=set(texts))
    tokens = [len(ids) for ids in raw_model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    assert max(tokens) <= raw_model.max_seq_length, max(tokens)
    log(f"{n} documents, {statistics.mean(tokens):.0f} tokens on average (max {max(tokens)}); warming up ...")
    raw_model.encode(texts[:64], batch_size=32)
    from service.store.corpus import SqlCorpus

    build_page = SqlCorpus.__init__.__defaults__[0]  # type: ignore[index]  # documents per embed call in a build
    pad = {
        "raw": padding(raw_model.tokenizer, texts, len(texts)),
        "build": {**padding(raw_model.tokenizer, texts, build_page), "chunk": build_page},
        "stream": padding(raw_model.tokenizer, texts, STREAM_BATCH),
    }
    log(f"padded tokens per call size: {json.dumps(pad)}")

    svc = Service(workdir / "data")
    svc.post("/collections", {"name": "build"})
    svc.add_documents("build", texts, "d", 1000)

    raw_runs: list[float] = []
    builds: dict[str, list[dict[str, Any]]] = {b: [] for b in BACKENDS}
    streams: list[dict[str, Any]] = []
    pairs: dict[str, list[float]] = {"build": [], "stream": []}
    space_ids: dict[str, int] = {}
    load_average: list[tuple[float, float, float]] = []
    for rep in range(reps):
        # raw, build, raw, stream, raw: each vecdex run is bracketed by the raw runs just before and after it.
        load_average.append(os.getloadavg())
        log(f"rep {rep + 1}/{reps} (load average {load_average[-1][0]:.2f}): raw ...")
        r1 = run_raw(raw_model, texts)
        log(f"  raw {n / r1:.1f} docs/s; vecdex build (torch) ...")
        b = svc.build("build", f"torch{rep}", {"type": "bert"})
        builds["torch"].append(b)
        space_ids.setdefault("torch", b["space_id"])
        log(f"  vecdex build {n / b['job_s']:.1f} docs/s {json.dumps({k: v for k, v in b.items() if k != 'space_id'})}; raw ...")
        r2 = run_raw(raw_model, texts)
        log(f"  raw {n / r2:.1f} docs/s; vecdex streaming ingest ...")
        s = run_stream(svc, rep, texts, seed_texts)
        streams.append(s)
        log(f"  vecdex stream {n / s['wall_s']:.1f} docs/s {json.dumps(s)}; raw ...")
        r3 = run_raw(raw_model, texts)
        log(f"  raw {n / r3:.1f} docs/s")
        raw_runs += [r1, r2, r3]
        pairs["build"].append((r1 + r2) / 2 / b["job_s"])
        pairs["stream"].append((r2 + r3) / 2 / s["wall_s"])
        for backend in BACKENDS[1:]:
            b = svc.build("build", f"{backend.replace('-', '')}{rep}", {"type": "bert", "backend": backend})
            builds[backend].append(b)
            space_ids.setdefault(backend, b["space_id"])
            log(f"  vecdex build {backend}: {(n / (b['job_s'] - b['model_load_s'])):.1f} docs/s without export, "
                f"{json.dumps({k: v for k, v in b.items() if k != 'space_id'})}")

    if profile_to is not None:
        log(f"profiling one torch build job -> {profile_to} ...")
        with profiled(profile_to):
            svc.build("build", "torchprofile", {"type": "bert"})

    # Cosine of each backend's stored vectors to torch's, over the benchmark texts.
    stored = {b: svc.stored_vectors(space_ids[b]) for b in BACKENDS}
    keys = sorted(stored["torch"])
    bench_cos: dict[str, dict[str, float]] = {}
    for backend in BACKENDS[1:]:
        c = cosines(np.stack([stored[backend][k] for k in keys]), np.stack([stored["torch"][k] for k in keys]))
        bench_cos[backend] = {"mean": float(c.mean()), "min": float(c.min())}
    svc.close()

    raw_s = med(raw_runs)
    per_backend: dict[str, Any] = {}
    for backend, runs in builds.items():
        job_s = med([x["job_s"] for x in runs])
        no_load = med([x["job_s"] - x["model_load_s"] for x in runs])
        per_backend[backend] = {
            "runs": runs,
            "job_s": job_s,
            "model_load_s": med([x["model_load_s"] for x in runs]),
            "encode_s": med([x["encode_s"] for x in runs]),
            "job_without_load_s": no_load,
            "docs_per_s": n / job_s,
            "docs_per_s_without_load": n / no_load,
            "encode_docs_per_s": n / med([x["encode_s"] for x in runs]),
        }
        if backend in bench_cos:
            per_backend[backend]["bench_cosine_to_torch"] = bench_cos[backend]
    torch_b = per_backend["torch"]
    for backend in BACKENDS:
        per_backend[backend]["speedup_vs_torch"] = per_backend[backend]["docs_per_s"] / torch_b["docs_per_s"]
        per_backend[backend]["speedup_vs_torch_without_load"] = (
            per_backend[backend]["docs_per_s_without_load"] / torch_b["docs_per_s_without_load"]
        )
        per_backend[backend]["encode_speedup_vs_torch"] = per_backend[backend]["encode_docs_per_s"] / torch_b["encode_docs_per_s"]
        per_backend[backend]["speedup_without_load_per_rep"] = [
            (t["job_s"] - t["model_load_s"]) / (x["job_s"] - x["model_load_s"]) for t, x in zip(builds["torch"], builds[backend])
        ]
    stream_s = med([x["wall_s"] for x in streams])
    return {
        "documents": n,
        "reps": reps,
        "tokens_mean": statistics.mean(tokens),
        "tokens_max": max(tokens),
        "load_average_per_rep": load_average,
        "padding": pad,
        "raw": {"runs_s": raw_runs, "median_s": raw_s, "docs_per_s": n / raw_s},
        "vecdex_build": {**torch_b, "ratio_vs_raw": raw_s / torch_b["job_s"], "ratio_bracketed_per_rep": pairs["build"],
                         "ratio_bracketed_median": med(pairs["build"]),
                         "ratio_without_load_vs_raw": raw_s / torch_b["job_without_load_s"]},
        "vecdex_stream": {
            "batch": STREAM_BATCH,
            "runs": streams,
            "median_s": stream_s,
            "docs_per_s": n / stream_s,
            "ratio_vs_raw": raw_s / stream_s,
            "ratio_bracketed_per_rep": pairs["stream"],
            "ratio_bracketed_median": med(pairs["stream"]),
        },
        "backends": per_backend,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=None, help="documents (default 2000; --quick 300)")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repetitions (default 3; --quick 1)")
    parser.add_argument("--quick", action="store_true", help="a small run to check the script works")
    parser.add_argument("--profile", action="store_true", help="cProfile one torch build (bench/results/bert_profile.txt)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bert.json")
    args = parser.parse_args()
    quiet_libraries()
    n = args.docs or (300 if args.quick else 2000)
    reps = args.reps or (1 if args.quick else 3)
    results: dict[str, Any] = {"machine": machine_info(), "command": " ".join(sys.argv[1:])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        profile_to = args.out.with_name("bert_profile.txt") if args.profile else None
        results["throughput"] = bench(n, reps, profile_to, Path(tmp))
    log("quality and export time per backend ...")
    results["quality"] = quality(export_reps=1 if args.quick else 2)
    results["machine"]["load_average_end"] = os.getloadavg()
    results["elapsed_s"] = time.time() - started
    args.out.write_text(json.dumps(results, indent=2))
    log(f"wrote {args.out}")
    print(markdown(results))


def build_page_size(t: dict[str, Any]) -> int:
    return int(t["padding"]["build"].get("chunk", 0))


def markdown(r: dict[str, Any]) -> str:
    t, q, m = r["throughput"], r["quality"], r["machine"]
    raw, build, stream = t["raw"], t["vecdex_build"], t["vecdex_stream"]
    n_docs = t["documents"]
    first_post = med([x["post_s"][0] for x in stream["runs"]])
    full = [p for x in stream["runs"] for p in x["post_s"][1 : n_docs // stream["batch"]]]
    later_posts = med(full) if full else float("nan")
    spread = lambda xs: f" ({min(xs):.2f}-{max(xs):.2f})" if len(xs) > 1 else ""  # noqa: E731
    per_rep = lambda xs: ", ".join(f"{x:.2f}" for x in xs) + (f" (median {med(xs):.2f})" if len(xs) > 1 else "")  # noqa: E731
    ph = {k: med([x["phases_s"].get(k, 0.0) for x in build["runs"]]) for k in build["runs"][0]["phases_s"]}
    lines = [
        f"{t['documents']:,} documents, {t['tokens_mean']:.0f} tokens on average (max {t['tokens_max']}), one window each; "
        f"median of {t['reps']} interleaved runs; {m['cpu_model']}, {m['cpus']} cores, torch {m['torch']} "
        f"({m['torch_threads']} threads), onnxruntime {m['onnxruntime']}, sentence-transformers {m['sentence_transformers']}.",
        "",
        "| all-MiniLM-L6-v2, torch, batch 32 | seconds | docs/s | vecdex / raw (medians) | vecdex / raw, per rep (bracketed) |",
        "|---|---|---|---|---|",
        f"| raw `SentenceTransformer.encode` | {raw['median_s']:.2f} | {raw['docs_per_s']:.1f} | 1.00 | "
        f"{min(n_docs / x for x in raw['runs_s']):.1f}-{max(n_docs / x for x in raw['runs_s']):.1f} docs/s over {len(raw['runs_s'])} runs |",
        f"| vecdex build job (wall: model load, SQL, embed, store vectors, index) | {build['job_s']:.2f} | {build['docs_per_s']:.1f} "
        f"| {build['ratio_vs_raw']:.2f} | {per_rep(build['ratio_bracketed_per_rep'])} |",
        f"| vecdex build job without the model load ({build['model_load_s']:.2f} s) | {build['job_without_load_s']:.2f} "
        f"| {build['docs_per_s_without_load']:.1f} | {build['ratio_without_load_vs_raw']:.2f} | |",
        f"| vecdex streaming ingest (POST {stream['batch']} docs at a time, loaded space catches up) | {stream['median_s']:.2f} "
        f"| {stream['docs_per_s']:.1f} | {stream['ratio_vs_raw']:.2f} | {per_rep(stream['ratio_bracketed_per_rep'])} |",
        "",
        "Padded tokens the model runs (sentence-transformers sorts each call by characters, pads each batch of 32): "
        f"raw, one call {t['padding']['raw']['vs_unpadded']:.3f}x the real tokens; build, pages of "
        f"{build_page_size(t)} {t['padding']['build']['vs_unpadded']:.3f}x; streaming, {stream['batch']} per POST "
        f"{t['padding']['stream']['vs_unpadded']:.3f}x, i.e. {t['padding']['stream']['padded_tokens'] / t['padding']['raw']['padded_tokens']:.3f}x "
        "raw's model work.",
        "",
        f"Streaming, per POST of {stream['batch']} documents: the first after the space loads {first_post:.2f} s, "
        f"the later full ones {later_posts:.2f} s (medians).",
        "",
        "Build job phases (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in ph.items())
        + f"; inside embed: model load {build['model_load_s']:.2f}, `embed_documents` {build['encode_s']:.2f}.",
        "",
        "| backend (via vecdex build job) | job s | export / load s (in job) | docs/s without it | speed-up vs torch (range over reps) "
        "| `embed_documents` speed-up | export alone s | Lee Pearson r | cosine to torch, Lee (mean / min) "
        "| cosine to torch, bench texts (mean / min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for backend in BACKENDS:
        b, qb = t["backends"][backend], q[backend]
        lee_cos = (
            f"{qb['lee_cosine_to_torch_mean']:.4f} / {qb['lee_cosine_to_torch_min']:.4f}" if "lee_cosine_to_torch_mean" in qb else "1 (reference)"
        )
        bc = b.get("bench_cosine_to_torch")
        bench_cos = f"{bc['mean']:.4f} / {bc['min']:.4f}" if bc else "1 (reference)"
        lines.append(
            f"| {backend} | {b['job_s']:.2f} | {b['model_load_s']:.2f} | {b['docs_per_s_without_load']:.1f} "
            f"| {b['speedup_vs_torch_without_load']:.2f}x{spread(b['speedup_without_load_per_rep'])} | {b['encode_speedup_vs_torch']:.2f}x | {qb['load_or_export_s']:.2f} "
            f"| {qb['lee_pearson']:.3f} | {lee_cos} | {bench_cos} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
