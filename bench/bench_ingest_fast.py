"""Ingest cost of vecdex's write path against the database itself, and against the embedding call.

Three comparisons, each in one run with its repetitions interleaved (raw, vecdex,
..., raw), so the ratios hold on a shared, noisy machine; absolute throughputs are
context only.

    .venv/bin/python bench/bench_ingest_fast.py [--docs 20000] [--reps 3] [--parts sqlite,postgresql,word2vec]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/vecdex_bench_ingest] [--quick]

Writes bench/results/ingest_fast.json (``--out``) and prints a Markdown table.

Documents (all parts): N distinct texts, each 2-4 random sentences of the Lee
corpus (seed 11), external ids ``d0..``, metadata ``{"n": i, "group": "g<i%10>",
"even": bool, "source": "lee"}``; written in batches of 1,000 (one transaction
per batch on every side).

(a) SQLite, no space. raw: ``sqlite3`` on a database migrated to vecdex's schema
(same tables and indexes, same pragmas as vecdex: WAL, synchronous=NORMAL,
foreign keys), per batch in one transaction: ``json.dumps`` of the metadata and
the sha256 of each text (timed, as vecdex does them), ``executemany`` INSERT of
the documents, then their change rows in one ``INSERT ... SELECT`` from the rows
just inserted. vecdex: the same documents into a new collection each rep,
through the in-process facade (``Vecdex.documents.upsert`` of a
``DocumentsUpsert`` validated from the same dicts: pydantic validation included)
and over HTTP (FastAPI's TestClient, in-process: JSON encode and decode, the ASGI
app, the route). HTTP floor: the same POSTs to a FastAPI route that only parses
the body (what TestClient + JSON cost before vecdex does anything). Before each
SQLite run the WAL is checkpointed and emptied (untimed), so no run pays for
copying the previous run's pages into the database file.

(b) PostgreSQL, the same: raw psycopg (``COPY`` of the documents, then their
change rows by ``INSERT ... SELECT``; the fastest way psycopg has) vs vecdex.
Needs a PostgreSQL server; the database of ``--pg-url`` is created if missing.

(c) word2vec space, SQLite: a collection holding the Lee background corpus (300
documents) with a word2vec space (default spec) built on it by its build job run
here, loaded by one search. vecdex: the N documents upserted 1,000 at a time
through the facade, each write then catching the loaded space up (embed the new
texts, store their vectors in SQL, add them to the FAISS index). raw: the space's
embedder (loaded from the space's directory) embedding the same N texts,
``embed_documents`` in batches of 1,000. Ratio: raw seconds / vecdex seconds
(1.0 = ingest costs no more than the embedding itself); the same ratio in this
process's CPU seconds beside it, as context (on a shared machine wall time also
counts the time other processes held the cores). Between reps the N
documents are deleted again (untimed, one bulk delete logged in the change log;
the space catches up, so their index entries and stored vectors go too).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest_fast_space import bench_word2vec  # noqa: E402
from raw_sqlite_writes import write_batch  # noqa: E402
from machine import cpu_model  # noqa: E402

BATCH = 1000
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/vecdex_bench_ingest"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def med(values: list[float]) -> float:
    return float(statistics.median(values))


# --- the documents -------------------------------------------------------------------------------


def make_documents(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """N documents of 2-4 random Lee sentences, no two texts alike."""
    from embedders.datasets import lee_background

    sentences = [s.strip() for doc in lee_background() for s in re.split(r"(?<=[.!?])\s+", doc) if len(s.split()) > 4]
    rng = random.Random(seed)
    docs: list[dict[str, Any]] = []
    seen: set[str] = set()
    while len(docs) < n:
        text = " ".join(rng.sample(sentences, rng.randint(2, 4)))
        if text in seen:  # distinct texts: vecdex would reuse a repeated text's vector and embed less than raw
            continue
        seen.add(text)
        i = len(docs)
        docs.append({
            "external_id": f"d{i}",
            "text": text,
            "metadata": {"n": i, "group": f"g{i % 10}", "even": i % 2 == 0, "source": "lee"},
        })
    return docs


def batches(docs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [docs[i : i + BATCH] for i in range(0, len(docs), BATCH)]


# --- raw writers ---------------------------------------------------------------------------------


def raw_sqlite(path: str, collection_id: int, docs: list[dict[str, Any]]) -> float:
    """Seconds for raw sqlite3 to write the documents and their change rows, a transaction per batch."""
    import sqlite3

    con = sqlite3.connect(path, isolation_level=None)
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
        con.execute(f"PRAGMA {pragma}")
    t0 = time.perf_counter()
    for batch in batches(docs):
        write_batch(con, collection_id, batch)
    wall = time.perf_counter() - t0
    con.close()
    return wall


def raw_postgresql(url: str, collection_id: int, docs: list[dict[str, Any]]) -> float:
    """Seconds for raw psycopg (COPY, then INSERT ... SELECT of the change rows), a transaction per batch."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
        t0 = time.perf_counter()
        for batch in batches(docs):
            now = datetime.now(timezone.utc)
            with con.transaction(), con.cursor() as cur:
                cur.execute("SELECT coalesce(max(id), 0) FROM documents")
                last = cur.fetchone()[0]  # type: ignore[index]
                with cur.copy("COPY documents (collection_id, external_id, text, metadata, content_hash, created_at, "
                              "updated_at) FROM STDIN") as copy:
                    for d in batch:
                        copy.write_row((collection_id, d["external_id"], d["text"], json.dumps(d["metadata"]),
                                        hashlib.sha256(d["text"].encode("utf-8")).hexdigest(), now, now))
                cur.execute(
                    "INSERT INTO changes (collection_id, document_id, op, created_at) SELECT %s, id, 'upsert', %s "
                    "FROM documents WHERE collection_id = %s AND id > %s ORDER BY id",
                    (collection_id, now, collection_id, last))
        return time.perf_counter() - t0


# --- vecdex --------------------------------------------------------------------------------------


class Stack:
    """A migrated database with vecdex in-process (facade) and its API app behind a TestClient."""

    def __init__(self, url: str, data_dir: Path) -> None:
        from fastapi.testclient import TestClient

        from service.api import create_app
        from service.facade import Vecdex
        from service.settings import Settings
        from service.store.migrate import upgrade

        upgrade(url)
        self.url = url
        self.settings = Settings(data_dir=data_dir, database_url=url, embedded_worker=False)
        self.vx = Vecdex(self.settings)
        self.client = TestClient(create_app(self.settings, run_worker=False))
        self.client.__enter__()
        self.counter = 0

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.vx.close()

    def new_collection(self, prefix: str) -> tuple[str, int]:
        from service.schemas import CollectionCreate

        self.counter += 1
        name = f"{prefix}_{os.getpid()}_{int(time.time())}_{self.counter}"
        self.vx.collections.create(body=CollectionCreate(name=name))
        return name, self.collection_id(name)

    def collection_id(self, name: str) -> int:
        from service.store.repository import get_collection

        with self.vx.db.session() as s:
            return get_collection(s, name).id

    def facade(self, name: str, docs: list[dict[str, Any]]) -> float:
        from service.schemas import DocumentsUpsert

        t0 = time.perf_counter()
        for batch in batches(docs):
            result = self.vx.documents.upsert(collection=name, body=DocumentsUpsert.model_validate({"documents": batch}))
            assert result.created == len(batch), result
        return time.perf_counter() - t0

    def http(self, name: str, docs: list[dict[str, Any]]) -> float:
        t0 = time.perf_counter()
        for batch in batches(docs):
            r = self.client.post(f"/collections/{name}/documents", json={"documents": batch})
            if r.status_code != 200 or r.json()["created"] != len(batch):
                raise RuntimeError(f"POST: {r.status_code} {r.text[:300]}")
        return time.perf_counter() - t0

    def drop(self, name: str) -> None:
        self.vx.collections.delete(name=name)

    def settle(self) -> None:
        """Untimed, between runs: on SQLite, checkpoint the WAL into the database file and empty it, so no run
        pays for copying the previous run's pages (the next committer past 1,000 WAL pages would)."""
        if self.url.startswith("sqlite"):
            import sqlite3

            con = sqlite3.connect(self.url.split("sqlite:///", 1)[1])
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.close()


class HttpFloor:
    """The same POSTs to a FastAPI route that only parses the JSON body (``dict``) and answers a constant:
    what TestClient + JSON + ASGI cost before vecdex does anything (context for the HTTP figures)."""

    def __init__(self) -> None:
        from fastapi import FastAPI
        from fastapi.testclient import TestClient

        app = FastAPI()

        @app.post("/sink")
        def sink(body: dict[str, Any]) -> dict[str, int]:
            return {"created": len(body["documents"]), "updated": 0, "unchanged": 0}

        self.client = TestClient(app)

    def run(self, docs: list[dict[str, Any]]) -> float:
        t0 = time.perf_counter()
        for batch in batches(docs):
            r = self.client.post("/sink", json={"documents": batch})
            assert r.status_code == 200 and r.json()["created"] == len(batch)
        return time.perf_counter() - t0


def create_pg_database(url: str) -> None:
    """Create the benchmark's own database if it is missing (never the tests' database)."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as con:
        if con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone() is None:
            con.execute(f'CREATE DATABASE "{parsed.database}"')


def count_rows(stack: Stack, collection_id: int) -> tuple[int, int]:
    from sqlalchemy import func, select

    from service.store.models import Change, Document

    with stack.vx.db.session() as s:
        docs = s.scalar(select(func.count()).select_from(Document).where(Document.collection_id == collection_id))
        changes = s.scalar(select(func.count()).select_from(Change).where(Change.collection_id == collection_id))
    return int(docs or 0), int(changes or 0)


def bench_sql(label: str, stack: Stack, raw: Callable[[int, list[dict[str, Any]]], float],
              docs: list[dict[str, Any]], reps: int) -> dict[str, Any]:
    """raw, facade, http, raw, facade, http, ..., raw; each vecdex run into a fresh collection."""
    n = len(docs)
    raws: list[float] = []
    fac: list[float] = []
    web: list[float] = []
    dropped: list[str] = []

    def raw_run() -> None:
        name, cid = stack.new_collection(f"raw_{label}")
        stack.settle()
        raws.append(raw(cid, docs))
        assert count_rows(stack, cid) == (n, n), ("raw rows", count_rows(stack, cid))
        dropped.append(name)

    floor = HttpFloor()
    floors: list[float] = []
    raw_run()
    for rep in range(reps):
        for kind, runs, call in (("facade", fac, stack.facade), ("http", web, stack.http)):
            name, cid = stack.new_collection(f"vx_{label}_{kind}")
            stack.settle()
            runs.append(call(name, docs))
            assert count_rows(stack, cid) == (n, n), (kind, count_rows(stack, cid))
            dropped.append(name)
        stack.settle()
        floors.append(floor.run(docs))
        raw_run()
        log(f"[{label}] rep {rep + 1}/{reps}: raw {n / raws[-2]:.0f} / {n / raws[-1]:.0f} docs/s, facade "
            f"{n / fac[-1]:.0f}, http {n / web[-1]:.0f} (load {os.getloadavg()[0]:.2f})")
        for name in dropped:  # untimed; keeps every rep's tables the same size
            stack.drop(name)
        dropped.clear()

    def ratio(runs: list[float]) -> list[float]:  # vecdex docs/s over the mean of the two bracketing raw runs
        return [(n / runs[i]) / ((n / raws[i] + n / raws[i + 1]) / 2) for i in range(reps)]

    return {
        "documents": n,
        "raw_docs_per_s": med([n / s for s in raws]),
        "facade_docs_per_s": med([n / s for s in fac]),
        "http_docs_per_s": med([n / s for s in web]),
        "http_floor_docs_per_s": med([n / s for s in floors]),
        "http_floor_is": "the same POSTs (TestClient) to a FastAPI route that parses the JSON body as a dict and "
                         "answers a constant: no validation, no SQL",
        "ratio_facade_vs_raw": med(ratio(fac)),
        "ratio_http_vs_raw": med(ratio(web)),
        "ratio_facade_per_rep": ratio(fac),
        "ratio_http_per_rep": ratio(web),
        "raw_s": raws,
        "facade_s": fac,
        "http_s": web,
        "http_floor_s": floors,
    }


# --- report --------------------------------------------------------------------------------------


def markdown(results: dict[str, Any]) -> str:
    m, p = results["machine"], results["params"]
    lines = [
        f"{p['documents']} documents in batches of {BATCH}, {p['reps']} interleaved reps; {m['cpu']}, {m['cores']} "
        f"cores, load average {m['load_start']:.2f} at start, {m['load_end']:.2f} at end.",
        "",
        "| part | raw | raw docs/s | vecdex facade docs/s | facade / raw | vecdex HTTP docs/s | HTTP / raw "
        "| HTTP floor docs/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, label, raw in (("sqlite", "SQLite, no space", "sqlite3 executemany"),
                            ("postgresql", "PostgreSQL, no space", "psycopg COPY")):
        r = results["parts"].get(key)
        if r:
            lines.append(
                f"| {label} | {raw} | {r['raw_docs_per_s']:.0f} | {r['facade_docs_per_s']:.0f} "
                f"| {r['ratio_facade_vs_raw']:.2f} | {r['http_docs_per_s']:.0f} | {r['ratio_http_vs_raw']:.2f} "
                f"| {r['http_floor_docs_per_s']:.0f} |")
    w = results["parts"].get("word2vec")
    if w:
        cpu = (f"{w['ratio_cpu_time']:.2f} ({', '.join(f'{x:.2f}' for x in w['ratio_cpu_time_per_rep'])})"
               if "ratio_cpu_time" in w else "-")
        lines += [
            "",
            "| part | raw embed docs/s | vecdex ingest docs/s (facade, loaded space) | raw time / vecdex time "
            "| per rep | vecdex: embed s | catch-up s | outside catch-up s | same ratio in CPU time (per rep) |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| word2vec space, SQLite | {w['raw_embed_docs_per_s']:.0f} | {w['vecdex_docs_per_s']:.0f} "
            f"| {w['ratio_raw_time_over_vecdex_time']:.2f} | {', '.join(f'{x:.2f}' for x in w['ratio_per_rep'])} "
            f"| {med(w['vecdex_embed_s']):.2f} | {med(w['vecdex_catch_up_s']):.2f} "
            f"| {med(w['vecdex_outside_catch_up_s']):.2f} | {cpu} |",
        ]
        if "raw_pipeline_s" in w:
            lines += [
                "",
                "| raw pipeline docs/s | raw embed time / raw pipeline time | raw pipeline time / vecdex time (per rep) |",
                "|---|---|---|",
                f"| {w['raw_pipeline_docs_per_s']:.0f} | {w['raw_embed_over_raw_pipeline']:.2f} "
                f"| {w['ratio_raw_pipeline_over_vecdex']:.2f} "
                f"({', '.join(f'{x:.2f}' for x in w['ratio_raw_pipeline_over_vecdex_per_rep'])}) |",
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=None, help="documents per run (default 20000; --quick 3000)")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repetitions (default 3; --quick 1)")
    parser.add_argument("--parts", default="sqlite,postgresql,word2vec", help="comma-separated subset")
    parser.add_argument("--pg-url", default=os.environ.get("VECDEX_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--quick", action="store_true", help="a small run to check the script works")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ingest_fast.json")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    n = args.docs or (3000 if args.quick else 20000)
    reps = args.reps or (1 if args.quick else 3)
    docs = make_documents(n)
    results: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "bench/bench_ingest_fast.py", *sys.argv[1:]]),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load_start": os.getloadavg()[0]},
        "params": {"documents": n, "reps": reps, "batch": BATCH, "parts": parts,
                   "texts": "2-4 random Lee background sentences (seed 11), metadata of 4 scalar fields"},
        "parts": {},
    }
    started = time.time()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench_ingest_fast_") as tmp:
        if "sqlite" in parts or "word2vec" in parts:
            path = f"{tmp}/sqlite/vecdex.db"
            Path(path).parent.mkdir(parents=True)
            stack = Stack(f"sqlite:///{path}", Path(tmp) / "sqlite")
            try:
                if "sqlite" in parts:
                    results["parts"]["sqlite"] = bench_sql(
                        "sqlite", stack, lambda cid, d: raw_sqlite(path, cid, d), docs, reps)
                if "word2vec" in parts:
                    results["parts"]["word2vec"] = bench_word2vec(stack, docs, reps, BATCH)
            finally:
                stack.close()
        if "postgresql" in parts:
            create_pg_database(args.pg_url)
            stack = Stack(args.pg_url, Path(tmp) / "pg")
            try:
                results["parts"]["postgresql"] = bench_sql(
                    "postgresql", stack, lambda cid, d: raw_postgresql(args.pg_url, cid, d), docs, reps)
            finally:
                stack.close()
    results["machine"]["load_end"] = os.getloadavg()[0]
    results["elapsed_s"] = time.time() - started
    args.out.write_text(json.dumps(results, indent=2))
    log(f"wrote {args.out}")
    print(markdown(results))


if __name__ == "__main__":
    main()
