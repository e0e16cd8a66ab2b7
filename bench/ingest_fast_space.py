"""Part (c) of bench/bench_ingest_fast.py: ingest into a loaded word2vec space vs the space's embedding call.

Kept apart so the benchmark module stays readable; it takes the benchmark's
``Stack`` (a migrated database, vecdex in-process) and documents, and returns
the figures that go into bench/results/ingest_fast.json (see the benchmark's
docstring for what is measured and how).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def med(values: list[float]) -> float:
    return float(statistics.median(values))


class Timers:
    """Seconds inside the space's embedding call and its catch-up during vecdex's runs (bench-side wrappers)."""

    def __init__(self) -> None:
        self.embed_s = 0.0
        self.catch_up_s = 0.0
        self.embedded = 0

    def install(self) -> None:
        from embedders import Word2VecEmbedder
        from service.runtime.spaces import SpaceRuntime

        embed, catch_up, timers = Word2VecEmbedder.embed_documents, SpaceRuntime.catch_up, self

        def timed_embed(self, texts):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return embed(self, texts)
            finally:
                timers.embed_s += time.perf_counter() - t
                timers.embedded += len(texts)

        def timed_catch_up(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return catch_up(self, *args, **kwargs)
            finally:
                timers.catch_up_s += time.perf_counter() - t

        Word2VecEmbedder.embed_documents = timed_embed  # type: ignore[method-assign]
        SpaceRuntime.catch_up = timed_catch_up  # type: ignore[method-assign]


def build_word2vec(stack: Any) -> tuple[str, int, int, dict[str, Any]]:
    """A collection with the Lee background corpus and a ready, loaded word2vec space (default spec)."""
    from embedders.datasets import lee_background
    from service.runtime.jobs import claim_next, run_job
    from service.schemas import DocumentsUpsert, SearchRequest
    from service.space_schemas import SpaceCreate

    name, cid = stack.new_collection("w2v")
    corpus = [{"external_id": f"lee{i}", "text": t} for i, t in enumerate(lee_background())]
    stack.vx.documents.upsert(collection=name, body=DocumentsUpsert.model_validate({"documents": corpus}))
    spec = {"type": "word2vec"}
    stack.vx.spaces.create(collection=name, body=SpaceCreate.model_validate({"name": "w2v", "embedder": spec}))
    t0 = time.perf_counter()
    while (job_id := claim_next(stack.vx.db, "bench")) is not None:
        run_job(stack.vx.db, stack.settings.spaces_dir, job_id, engine_options=stack.settings.engine_options)
    build_s = time.perf_counter() - t0
    stack.vx.queries.search(collection=name, body=SearchRequest(query="bushfires near Sydney", k=3))  # loads it
    space_id = stack.vx.spaces.row_id(collection=name, space="w2v")
    return name, cid, space_id, {"spec": spec, "build_job_s": build_s, "training_documents": len(corpus)}


def delete_batch(stack: Any, collection_id: int, external_ids: list[str]) -> None:
    """Delete the documents in one transaction, logged; the loaded space catches up (untimed)."""
    from sqlalchemy import select

    from service.store.models import Collection, Document

    with stack.vx.db.session() as s:
        try:
            from service.store.document_writes import delete_rows
        except ImportError:  # a checkout from before the bulk write path (to measure it): one by one
            from service.store.repository import delete_document

            name = s.scalar(select(Collection.name).where(Collection.id == collection_id))
            for ext in external_ids:
                delete_document(s, name, ext)
        else:
            ids = list(s.scalars(select(Document.id).where(
                Document.collection_id == collection_id, Document.external_id.in_(external_ids))))
            delete_rows(s, collection_id, ids)
    stack.vx.core.runtimes.sync_collection(collection_id)


def raw_pipeline(stack: Any, embedder: Any, space_id: int, docs: list[dict[str, Any]], batch: int) -> float:
    """Seconds for the same work done by the raw tools, one step after the other, in one process.

    A fresh collection (created untimed) in the same SQLite database; per batch of ``batch``: raw sqlite3
    writes the documents and their change rows in one transaction (as ``raw_sqlite`` in the benchmark:
    JSON and sha256 timed), the space's embedder embeds the texts, sqlite3 ``executemany`` inserts the
    vectors (float32 bytes, keyed as vecdex keys them) in a second transaction, and the vectors go into a
    FAISS ``IndexIDMap(IndexFlatIP)``. No pydantic, no change-log replay, no index snapshot: what vecdex's
    ingest would cost with nothing of its own. The rows are deleted again afterwards (untimed).
    """
    import sqlite3

    import faiss
    import numpy as np
    from raw_sqlite_writes import write_batch

    name, collection_id = stack.new_collection("rawpipe")
    path = stack.url.split("sqlite:///", 1)[1]
    con = sqlite3.connect(path, isolation_level=None)
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
        con.execute(f"PRAGMA {pragma}")
    index = faiss.IndexIDMap(faiss.IndexFlatIP(embedder.dim))
    stack.settle()
    t0 = time.perf_counter()
    for start in range(0, len(docs), batch):
        part = docs[start : start + batch]
        last, hashes = write_batch(con, collection_id, part)
        ids = np.arange(last + 1, last + 1 + len(part), dtype=np.int64)  # ids follow input order (one writer)
        vectors = np.ascontiguousarray(embedder.embed_documents([d["text"] for d in part]), dtype=np.float32)
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO vectors (space_id, generation, document_id, content_hash, vector) VALUES (?, 0, ?, ?, ?)",
            [(space_id, int(i), h, v.tobytes()) for i, h, v in zip(ids, hashes, vectors)])
        con.execute("COMMIT")
        index.add_with_ids(vectors, ids)
    wall = time.perf_counter() - t0
    con.execute("BEGIN")
    con.execute("DELETE FROM vectors WHERE document_id IN (SELECT id FROM documents WHERE collection_id = ?)",
                (collection_id,))
    con.execute("DELETE FROM changes WHERE collection_id = ?", (collection_id,))
    con.execute("DELETE FROM documents WHERE collection_id = ?", (collection_id,))
    con.execute("COMMIT")
    con.close()
    stack.drop(name)
    return wall


def bench_word2vec(stack: Any, docs: list[dict[str, Any]], reps: int, batch: int) -> dict[str, Any]:
    """raw, vecdex, raw, ..., raw over the same texts; ratios are raw seconds / vecdex seconds."""
    from embedders import registry
    from service.runtime.spaces import EMBEDDER_DIR, space_dir
    from service.store.models import StoredVector
    from sqlalchemy import func, select

    name, cid, space_id, info = build_word2vec(stack)
    embedder = registry.load(space_dir(stack.settings.spaces_dir, space_id, 0) / EMBEDDER_DIR)
    texts = [d["text"] for d in docs]
    n = len(docs)
    timers = Timers()
    timers.install()
    embedder.embed_documents(texts[:100])  # warm-up

    raw_cpu: list[float] = []
    vec_cpu: list[float] = []

    def raw_run() -> float:
        t, c = time.perf_counter(), time.process_time()
        for start in range(0, n, batch):
            embedder.embed_documents(texts[start : start + batch])
        raw_cpu.append(time.process_time() - c)
        return time.perf_counter() - t

    def vectors() -> int:
        with stack.vx.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(StoredVector).where(StoredVector.space_id == space_id)) or 0)

    base = vectors()
    raws, vec, embed_s, catch_s = [raw_run()], [], [], []
    pipes = [raw_pipeline(stack, embedder, space_id, docs, batch)]
    for rep in range(reps):
        if rep:
            delete_batch(stack, cid, [d["external_id"] for d in docs])
            assert vectors() == base, ("delete left vectors", vectors(), base)
        timers.__init__()  # type: ignore[misc]
        stack.settle()
        c = time.process_time()
        vec.append(stack.facade(name, docs))
        vec_cpu.append(time.process_time() - c)
        if timers.embedded != n:
            raise RuntimeError(f"vecdex embedded {timers.embedded} texts, expected {n} (vector reuse?)")
        embed_s.append(timers.embed_s)
        catch_s.append(timers.catch_up_s)
        raws.append(raw_run())
        pipes.append(raw_pipeline(stack, embedder, space_id, docs, batch))
        log(f"[word2vec] rep {rep + 1}/{reps}: raw pipeline {pipes[-2]:.2f} / {pipes[-1]:.2f} s")
        log(f"[word2vec] rep {rep + 1}/{reps}: raw embed {raws[-2]:.2f} / {raws[-1]:.2f} s, vecdex {vec[-1]:.2f} s "
            f"(embed {embed_s[-1]:.2f}, catch-up {catch_s[-1]:.2f}) (load {os.getloadavg()[0]:.2f})")
    assert vectors() == base + n, ("stored vectors after ingest", vectors(), base + n)
    ratios = [((raws[i] + raws[i + 1]) / 2) / vec[i] for i in range(reps)]
    pipe_ratios = [((pipes[i] + pipes[i + 1]) / 2) / vec[i] for i in range(reps)]
    cpu_ratios = [((raw_cpu[i] + raw_cpu[i + 1]) / 2) / vec_cpu[i] for i in range(reps)]
    return {
        "documents": n,
        "raw_embed_docs_per_s": med([n / s for s in raws]),
        "vecdex_docs_per_s": med([n / s for s in vec]),
        "ratio_raw_time_over_vecdex_time": med(ratios),
        "ratio_per_rep": ratios,
        "vecdex_embed_s": embed_s,
        "vecdex_catch_up_s": catch_s,
        "vecdex_outside_catch_up_s": [v - c for v, c in zip(vec, catch_s)],
        "raw_s": raws,
        # The raw tools doing all of ingest's work one step after the other (raw_pipeline): how far vecdex's
        # own overhead is from the floor of the sequential work itself.
        "raw_pipeline_docs_per_s": med([n / s for s in pipes]),
        "raw_pipeline_s": pipes,
        "ratio_raw_pipeline_over_vecdex_per_rep": pipe_ratios,
        "ratio_raw_pipeline_over_vecdex": med(pipe_ratios),
        # raw embed time / raw pipeline time, each pipeline run against the embed run just before it: the best
        # ratio the goal's measure allows when ingest's SQL work is done after the embedding, not beside it.
        "raw_embed_over_raw_pipeline": med([raws[i] / pipes[i] for i in range(len(pipes))]),
        "vecdex_s": vec,
        # The same ratio in this process's CPU seconds (context, not the goal's figure): on a shared machine a
        # run's wall time includes the time other processes held the cores, which CPU time leaves out.
        "ratio_cpu_time_per_rep": cpu_ratios,
        "ratio_cpu_time": med(cpu_ratios),
        "raw_cpu_s": raw_cpu,
        "vecdex_cpu_s": vec_cpu,
        **info,
    }
