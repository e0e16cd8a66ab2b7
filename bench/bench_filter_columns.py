"""Micro benchmark: a metadata filter resolved by the in-memory columns vs one SQL SELECT on SQLite.

    .venv/bin/python bench/bench_filter_columns.py [--quick] [--sizes 100000 1000000] [--out PATH]

Why: a filtered search resolves its filter to document ids before FAISS runs;
in SQL that is a full scan of ``json_extract`` per document, several times the
cost of the search itself. This measures, on the same documents and the same
machine, the median milliseconds of

* ``columns``: :meth:`MetadataColumns.matching` on the parsed filter (what
  :class:`FilterColumnsCache` answers once it is loaded and up to date);
* ``sql``: :func:`service.store.repository.filtered_ids` on SQLite (parse + SELECT);
* ``numpy``: a hand-written dense numpy expression for the same filter over
  plain arrays (year, topic code, draft, a padded tag matrix), the floor any
  columnar evaluation could reach,

for filters of selectivity about 0.1 %, 1 %, 10 %, 50 % and 90 % using eq,
ranges, in, contains, or and not. Each answer is checked against SQL's.
Documents: year (integer 1925-2024, uniform), topic (string, 50 values, skewed
so one is 0.1 %, one 1 %, one 10 %), draft (boolean, 10 % true), tags (array
of 0-4 of 100 tags, "rare" in 0.1 %, "common" in 10 %). They are written
straight into a migrated SQLite file (no HTTP, no change rows), then loaded
into the cache through its own batched reads, which is timed too.

Writes bench/results/filter_columns.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, insert, select  # noqa: E402

from machine import cpu_model  # noqa: E402
from service.query.filter_cache import FilterColumnsCache  # noqa: E402
from service.store.db import Database  # noqa: E402
from service.store.filter_tree import parse_filter  # noqa: E402
from service.store.migrate import upgrade  # noqa: E402
from service.store.models import Collection, Document  # noqa: E402
from service.store.repository import filtered_ids, get_collection  # noqa: E402

TOPICS = [f"t{i:02d}" for i in range(50)]
TAGS = ["rare", "common"] + [f"tag{i:02d}" for i in range(98)]
SCHEMA = {"year": "number", "topic": "string", "draft": "boolean", "tags": "array"}


def topic_weights() -> np.ndarray:
    """t00 0.1 %, t01 1 %, t02 10 %, the other 47 share the rest evenly."""
    w = np.full(len(TOPICS), (1 - 0.111) / 47)
    w[:3] = [0.001, 0.01, 0.10]
    return w


def make_columns(n: int, seed: int) -> dict[str, np.ndarray]:
    """The dense arrays the documents are made from (and the numpy baseline reads)."""
    rng = np.random.default_rng(seed)
    year = rng.integers(1925, 2025, n).astype(np.int16)
    topic = rng.choice(len(TOPICS), n, p=topic_weights()).astype(np.int16)
    draft = rng.random(n) < 0.10
    count = rng.integers(0, 5, n)
    tags = np.full((n, 4), -1, dtype=np.int16)
    others = rng.integers(2, len(TAGS), (n, 4))
    tags[:] = np.where(np.arange(4) < count[:, None], others, -1)
    has = count > 0
    tags[has & (rng.random(n) < 0.00125), 0] = 0  # "rare" (80 % of documents have tags)
    common = has & (rng.random(n) < 0.125)
    tags[common, count[common] - 1] = 1  # "common" in the last used position
    return {"year": year, "topic": topic, "draft": draft, "tags": tags}


def metadata(cols: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    return {
        "year": int(cols["year"][i]),
        "topic": TOPICS[cols["topic"][i]],
        "draft": bool(cols["draft"][i]),
        "tags": [TAGS[t] for t in cols["tags"][i] if t >= 0],
    }


def _topics(names: list[str]) -> np.ndarray:
    return np.asarray([TOPICS.index(t) for t in names], dtype=np.int16)


IN_10 = ["t01", "t10", "t11", "t12", "t13", "t14"]  # 1 % + 5 x 1.9 %

# name, target selectivity, filter, the same filter as dense numpy over the arrays
FILTERS: list[tuple[str, str, dict[str, Any], Callable[[dict[str, np.ndarray]], np.ndarray]]] = [
    ("eq string", "0.1%", {"topic": "t00"}, lambda c: c["topic"] == 0),
    ("contains", "0.1%", {"tags": {"contains": "rare"}}, lambda c: (c["tags"] == 0).any(1)),
    ("range", "1%", {"year": {"gte": 2024}}, lambda c: c["year"] >= 2024),
    ("eq + bool", "1%", {"topic": "t02", "draft": True}, lambda c: (c["topic"] == 2) & c["draft"]),
    ("in", "10%", {"topic": {"in": IN_10}}, lambda c: np.isin(c["topic"], _topics(IN_10))),
    ("range gte+lt", "10%", {"year": {"gte": 1990, "lt": 2000}}, lambda c: (c["year"] >= 1990) & (c["year"] < 2000)),
    ("contains", "10%", {"tags": {"contains": "common"}}, lambda c: (c["tags"] == 1).any(1)),
    ("range", "50%", {"year": {"gte": 1975}}, lambda c: c["year"] >= 1975),
    ("or", "50%", {"or": [{"draft": True}, {"year": {"lt": 1970}}]}, lambda c: c["draft"] | (c["year"] < 1970)),
    ("not eq", "90%", {"not": {"topic": "t02"}}, lambda c: c["topic"] != 2),
    ("ne bool", "90%", {"draft": {"ne": True}}, lambda c: ~c["draft"]),
    ("and + not contains", "90%", {"year": {"gte": 1926}, "not": {"tags": {"contains": "common"}}},
     lambda c: (c["year"] >= 1926) & ~(c["tags"] == 1).any(1)),
]


def median_ms(fn: Callable[[], Any], reps: int) -> float:
    fn()  # warm
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def write_sqlite(url: str, cols: dict[str, np.ndarray]) -> None:
    upgrade(url)
    db = Database(url)
    n = len(cols["year"])
    try:
        with db.session() as s:
            s.execute(insert(Collection.__table__).values(name="bench", kind="documents", metadata_schema=SCHEMA))
            cid = get_collection(s, "bench").id
            for start in range(0, n, 20_000):
                s.execute(
                    insert(Document.__table__),
                    [
                        {"collection_id": cid, "external_id": f"d{i}", "text": "", "metadata": metadata(cols, i), "content_hash": "-"}
                        for i in range(start, min(n, start + 20_000))
                    ],
                )
    finally:
        db.dispose()


def bench_size(n: int, workdir: Path, seed: int, reps: int, sql_reps: int) -> dict[str, Any]:
    cols = make_columns(n, seed)
    url = f"sqlite:///{workdir / f'filters_{n}.db'}"
    t0 = time.perf_counter()
    write_sqlite(url, cols)
    write_s = time.perf_counter() - t0
    db = Database(url)
    cache = FilterColumnsCache(db)
    rows = []
    try:
        with db.sessions() as s:
            collection = get_collection(s, "bench")
            id0 = int(s.scalar(select(func.min(Document.id))))  # rows were written in order: ids id0 + i
            t0 = time.perf_counter()
            assert cache.ids(s, collection, 0, parse_filter({}, SCHEMA, "bench")) is not None
            load_s = time.perf_counter() - t0
            columns = cache.columns(collection.id)
            assert columns is not None and len(columns) == n
            for name, target, flt, dense in FILTERS:
                tree = parse_filter(flt, SCHEMA, "bench")
                got = columns.matching(tree)
                sql = np.sort(filtered_ids(s, collection, flt))
                ref = np.flatnonzero(dense(cols)) + id0
                assert np.array_equal(got, sql) and np.array_equal(got, ref), (n, flt)
                row = {
                    "filter": name,
                    "target": target,
                    "selectivity": len(got) / n,
                    "json": flt,
                    "columns_ms": median_ms(lambda: columns.matching(tree), reps),
                    "numpy_ms": median_ms(lambda: np.flatnonzero(dense(cols)) + id0, reps),
                    "sql_ms": median_ms(lambda: filtered_ids(s, collection, flt), sql_reps),
                }
                row["sql_over_columns"] = row["sql_ms"] / row["columns_ms"]
                rows.append(row)
                print(f"  {n:>8} {name:<20} {row['selectivity']:7.3%}  columns {row['columns_ms']:7.3f} ms  "
                      f"numpy {row['numpy_ms']:7.3f} ms  sql {row['sql_ms']:8.1f} ms", file=sys.stderr)
    finally:
        db.dispose()
    return {"documents": n, "write_s": write_s, "load_s": load_s, "columns_nbytes": columns.nbytes(), "filters": rows}


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Filter to ids, median ms ({results['params']['reps']} reps in memory, {results['params']['sql_reps']} in SQL); "
        f"{m['cpu']}, {m['cores']} cores, load average {m['load_average_start']:.2f} at start.",
        "",
        "| docs | filter | target | selectivity | columns ms | numpy dense ms | SQLite ms | SQL / columns |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in results["sizes"]:
        for r in size["filters"]:
            lines.append(
                f"| {size['documents']:,} | {r['filter']} | {r['target']} | {r['selectivity']:.2%} | {r['columns_ms']:.3f} "
                f"| {r['numpy_ms']:.3f} | {r['sql_ms']:.1f} | {r['sql_over_columns']:.0f}x |"
            )
    lines.append("")
    for size in results["sizes"]:
        lines.append(
            f"{size['documents']:,} docs: cache load {size['load_s']:.2f} s, numpy arrays {size['columns_nbytes'] / 2**20:.1f} MiB."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k documents only")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--sql-reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "filter_columns.json")
    args = parser.parse_args()
    sizes = args.sizes or ([100_000] if args.quick else [100_000, 1_000_000])
    random.seed(args.seed)
    results: dict[str, Any] = {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "load_average_start": os.getloadavg()[0],
        },
        "command": " ".join(sys.argv[1:]),
        "params": {"reps": args.reps, "sql_reps": args.sql_reps, "seed": args.seed},
        "sizes": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            print(f"{n} documents ...", file=sys.stderr)
            results["sizes"].append(bench_size(n, Path(tmp), args.seed, args.reps, args.sql_reps))
    results["machine"]["load_average_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
