"""Lee 2005 document similarity of the lineage's deterministic first steps through the service (issue 14).

one-hot (``tfidf`` with ``weighting: binary``) -> TF-IDF (``tfidf``) -> LSA (``lsa``), and bm25 (its
symmetric similarity), each at its default spec, on the same collection as
bench/bench_lee_combined.py (300 Lee background documents + the 50 rated ones), scored by the
service's similarity evaluation on the 50 rated documents' human matrix (1225 pairs). These families
have no seed: one run is the figure. The later steps (word2vec, doc2vec, bert) are seeded or
heavier and are in bench_lee_combined.py's results.

Usage::

    python bench/eval_lee_lineage.py [--workdir DIR] [--out PATH]

Writes bench/results/lee_lineage.json. About a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from machine import write_report  # noqa: E402

COLLECTION = "lee"
SPECS: dict[str, dict[str, Any]] = {
    "onehot": {"type": "tfidf", "weighting": "binary"},
    "tfidf": {"type": "tfidf"},
    "lsa": {"type": "lsa"},
    "bm25": {"type": "bm25"},
}


def run(workdir: Path) -> dict[str, Any]:
    from pydantic import TypeAdapter

    from bench_lee_combined import RATED, lee_with_spaces
    from embedders.datasets import lee_human_similarity
    from service.evaluation.requests import EvaluationRequest

    vx, build_s = lee_with_spaces(workdir, SPECS)
    rated = RATED
    try:
        body = TypeAdapter(EvaluationRequest).validate_python(
            {"task": "similarity", "ids": rated, "matrix": lee_human_similarity().round(6).tolist(),
             "spaces": list(SPECS), "dataset": "lee-2005"}
        )
        result = vx.evaluations.run(collection=COLLECTION, body=body)
        scores = {r.space: {k: r.metrics[k] for k in ("pearson", "spearman")} for r in result.results if r.metrics}
        return {"specs": SPECS, "build_s": build_s, "scores": scores}
    finally:
        vx.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lee_lineage.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        report = run(Path(tmp))
    report["wall_s"] = round(time.perf_counter() - started, 1)
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    for name, s in report["scores"].items():
        print(f"{name:<28} pearson {s['pearson']:.3f}  spearman {s['spearman']:.3f}")
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
