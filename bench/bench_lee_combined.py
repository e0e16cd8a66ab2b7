"""Lee 2005 document similarity through the service, per space and combined (issue 14).

The in-process facade (``service.facade.Vecdex``) writes the Lee corpus (300 background
documents + the 50 rated ones) into one collection, builds one space per family with its
**default** spec (word2vec / doc2vec seeded per run, ``workers: 1``; bert = all-MiniLM-L6-v2 at 1
thread), and runs the service's similarity evaluation (``POST .../evaluations``, what ``vecdex eval
similarity`` runs) on the 50 rated documents' human matrix (1225 pairs). Reported per seed:
each space's Pearson, the combination of bert + word2vec + tfidf at equal weights (the default a
user gets from those three spaces), the combination of every space at equal weights, and every
space with fitted weights (``fit_weights``) with its two-fold held-out Pearson.

Usage::

    python bench/bench_lee_combined.py [--seeds 1 2 3] [--workdir DIR] [--out PATH]

Writes bench/results/lee_combined.json. About 2 minutes per seed on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from machine import write_report  # noqa: E402

COLLECTION = "lee"
DEFAULT_TRIO = ("bert", "w2v", "tfidf")


def specs(seed: int) -> dict[str, dict[str, Any]]:
    return {
        "bert": {"type": "bert", "threads": 1},
        "w2v": {"type": "word2vec", "seed": seed, "workers": 1},
        "tfidf": {"type": "tfidf"},
        "lsa": {"type": "lsa"},
        "d2v": {"type": "doc2vec", "seed": seed, "workers": 1},
    }


RATED = [f"lee-{i:02d}" for i in range(50)]
"""External ids of the 50 rated Lee documents, in the human matrix's order."""


def lee_with_spaces(workdir: Path, spaces: dict[str, dict[str, Any]]) -> tuple[Any, dict[str, float]]:
    """A Vecdex on a new SQLite database in ``workdir``, collection ``lee`` holding the 300 background and the 50
    rated documents, one built space per entry of ``spaces``; returns it (the caller closes it) and build seconds."""
    from embedders.datasets import lee_background, lee_test
    from service.facade import Vecdex
    from service.schemas import CollectionCreate, DocumentIn
    from service.settings import Settings
    from service.space_schemas import SpaceCreate
    from service.store.migrate import upgrade

    settings = Settings(data_dir=workdir, embedded_worker=False)
    upgrade(settings.resolved_database_url)
    vx = Vecdex(settings)
    vx.collections.create(body=CollectionCreate(name=COLLECTION))
    docs = [DocumentIn(external_id=f"bg-{i:03d}", text=t) for i, t in enumerate(lee_background())]
    docs += [DocumentIn(external_id=RATED[i], text=t) for i, t in enumerate(lee_test())]
    vx.documents.write(collection=COLLECTION, documents=docs)
    build_s = {}
    for name, spec in spaces.items():
        t0 = time.perf_counter()
        created = vx.spaces.create(collection=COLLECTION, body=SpaceCreate.model_validate({"name": name, "embedder": spec}))
        job = vx.jobs.run_here(job_id=created.job.id, label="bench")
        if job is None or job.status != "succeeded":
            vx.close()
            raise RuntimeError(f"build of {name} failed: {job}")
        build_s[name] = round(time.perf_counter() - t0, 2)
    return vx, build_s


def one_seed(seed: int, workdir: Path) -> dict[str, Any]:
    from pydantic import TypeAdapter

    from embedders.datasets import lee_human_similarity
    from service.evaluation.requests import EvaluationRequest

    vx, build_s = lee_with_spaces(workdir, specs(seed))
    rated = RATED
    try:
        matrix = lee_human_similarity().round(6).tolist()
        out: dict[str, Any] = {"seed": seed, "build_s": build_s, "runs": {}}
        for label, spaces, fit in (
            ("every space, equal weights", list(specs(seed)), False),
            ("every space, fitted weights", list(specs(seed)), True),
            ("bert + word2vec + tfidf, equal weights", list(DEFAULT_TRIO), False),
            ("bert + word2vec + tfidf, fitted weights", list(DEFAULT_TRIO), True),
        ):
            body = TypeAdapter(EvaluationRequest).validate_python(
                {"task": "similarity", "ids": rated, "matrix": matrix, "spaces": spaces, "fit_weights": fit,
                 "dataset": "lee-2005"}
            )
            result = vx.evaluations.run(collection=COLLECTION, body=body)
            out["runs"][label] = {
                r.space: {"pearson": r.metrics["pearson"] if r.metrics else None, **(
                    {"weights": r.params["weights"], "held_out": r.params["held_out"]}
                    if r.embedder_type == "combination" else {})}
                for r in result.results
            }
        return out
    finally:
        vx.close()


def summary(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    rows: dict[str, list[float]] = {}
    held: dict[str, list[float]] = {}
    for seed in per_seed:
        first = seed["runs"]["every space, equal weights"]
        for space, r in first.items():
            if "+" not in space:
                rows.setdefault(space, []).append(r["pearson"])
        for label, run in seed["runs"].items():
            for space, r in run.items():
                if "+" in space:
                    rows.setdefault(label, []).append(r["pearson"])
                    if r.get("held_out"):
                        held.setdefault(label, []).append(r["held_out"]["pearson"])
    return {
        name: {"mean": round(statistics.fmean(v), 4), "min": round(min(v), 4), "max": round(max(v), 4),
               **({"held_out_mean": round(statistics.fmean(held[name]), 4)} if name in held else {})}
        for name, v in rows.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lee_combined.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    per_seed = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            per_seed.append(one_seed(seed, Path(tmp)))
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    from embedders.storage import library_versions

    report = {
        "benchmark": "Lee 2005 document similarity through vecdex's similarity evaluation (Pearson r, 1225 pairs)",
        "seeds": args.seeds,
        "summary": summary(per_seed),
        "per_seed": per_seed,
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "versions": library_versions("gensim", "sentence-transformers", "scipy")},
    }
    for name, s in report["summary"].items():
        extra = f"  held-out {s['held_out_mean']:.3f}" if "held_out_mean" in s else ""
        print(f"{name:<45} {s['mean']:.3f} ({s['min']:.3f}-{s['max']:.3f}){extra}")
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
