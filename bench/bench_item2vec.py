"""item2vec benchmark: space builds via vecdex vs raw gensim, and recommendations over HTTP vs raw FAISS.

Like bench_core.py, each figure is measured side by side with the raw library in
the same run (interleaved), so the ratios hold on a shared, noisy machine;
absolute seconds are context only.

    .venv/bin/python bench/bench_item2vec.py            # 200k interactions, 100k items
    .venv/bin/python bench/bench_item2vec.py --quick    # 20k interactions, 10k items

Writes bench/results/item2vec.json (``--out``) and prints a Markdown section for RESULTS.md.

Training: a planted log (:func:`embedders.item2vec.synthetic.planted_log`) is
ingested into an items collection; a space with the default item2vec spec is
built through the job pipeline (``create_space`` with its preflight, then the
build job: read interactions from SQL, build sessions, train, index), and raw
gensim ``Word2Vec(sg=1, ...)`` with the same parameters and workers trains on
the very same sessions (built once with ``build_sequences`` from the same SQL
rows, already converted to string tokens). Builds and raw runs alternate; the
job's phases are timed through a progress sink.

Recommend: a catalogue of items whose vectors come from a real item2vec space
(trained on a planted log, through the normal build path), served by a real
``vecdex serve`` process. Each query kind is sent over HTTP right after the same
query is answered by raw FAISS (same index kind and parameters, same vectors,
query vector computed in numpy the way vecdex defines it, excluded items
over-fetched and dropped). Raw FAISS gets everything in memory for free: the
ids of the positives' rows, the users' histories, the filter's allowed ids.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_core import free_port, percentile, raw_faiss  # noqa: E402

# Events per user of planted_log(sessions_per_user=6, session_length=5): immediate repeats are dropped.
EVENTS_PER_USER = 27
# Vectors for serving; their quality is not measured here. Cosine scoring: the raw FAISS side searches the
# item vectors by cosine, as vecdex does with it (context scoring serves the output vectors by inner product).
LATENCY_SPEC = {"type": "item2vec", "epochs": 5, "seed": 1, "scoring": "cosine"}


class PhaseTimer:
    """A progress sink that timestamps each phase start (the job's own phases: sequences, train, embed, index)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []
        self.metrics: dict[str, Any] = {}

    def start(self, phase: str, total: int) -> None:
        self.marks.append((phase, time.perf_counter()))

    def advance(self, n: int = 1) -> None:
        pass

    def note(self, **metrics: Any) -> None:
        self.metrics.update(metrics)

    def durations(self, began: float, ended: float) -> dict[str, float]:
        """Seconds per phase; ``setup`` is everything before the first phase (for item2vec: the SQL read and
        the session building, which the first ``len(sequences)`` triggers)."""
        out = {"setup": (self.marks[0][1] if self.marks else ended) - began}
        for (phase, t), (_, t_next) in zip(self.marks, self.marks[1:] + [("end", ended)]):
            out[phase] = out.get(phase, 0.0) + t_next - t
        return out


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


# ----------------------------------------------------------------------------- setup


def make_catalogue(
    workdir: Path, events: list[Any], groups: dict[int, int], seed: int = 0
) -> tuple[Any, Any, dict[str, float]]:
    """A migrated SQLite database with items collection "shop" (metadata group, in_stock ~50 %) and the log."""
    from service.facade import Vecdex
    from service.store.migrate import upgrade
    from service.schemas import CollectionCreate, DocumentIn, InteractionIn
    from service.settings import Settings

    settings = Settings(data_dir=workdir, embedded_worker=False)
    upgrade(settings.resolved_database_url)
    vx = Vecdex(settings)
    rng = random.Random(seed)
    t0 = time.perf_counter()
    vx.collections.create(body=CollectionCreate(name="shop", kind="items"))
    items = sorted(groups.items())
    for start in range(0, len(items), 5000):
        docs = [
            DocumentIn(external_id=f"i{i}", text="", metadata={"group": g, "in_stock": rng.random() < 0.5})
            for i, g in items[start : start + 5000]
        ]
        vx.documents.write(collection="shop", documents=docs)
    items_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for start in range(0, len(events), 20_000):
        records = [InteractionIn(user=e.user, item=f"i{e.item}", timestamp=e.ts) for e in events[start : start + 20_000]]
        vx.interactions.write(collection="shop", records=records)
    return settings, vx, {"items_s": items_s, "interactions_s": time.perf_counter() - t0}


def build_space(vx: Any, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Space creation (validation + preflight) and the build job, timed, phases included."""
    from service.space_schemas import SpaceCreate

    t0 = time.perf_counter()
    created = vx.spaces.create(collection="shop", body=SpaceCreate.model_validate({"name": name, "embedder": spec}))
    create_s = time.perf_counter() - t0
    space_id = vx.spaces.row_id(collection="shop", space=name)
    timer = PhaseTimer()
    t0 = time.perf_counter()
    job = vx.jobs.run_here(job_id=created.job.id, progress=timer, label="bench")
    ended = time.perf_counter()
    assert job is not None and job.status == "succeeded", job
    return {
        "space_id": space_id,
        "create_s": create_s,
        "job_s": ended - t0,
        "phases_s": timer.durations(t0, ended),
        "job_metrics": dict(job.metrics or {}),
    }


# ----------------------------------------------------------------------------- training


def bench_training(n_interactions: int, repeats: int, workers: int, workdir: Path) -> dict[str, Any]:
    from gensim.models import Word2Vec

    from embedders.item2vec import Item2VecSpec, build_sequences, planted_log
    from service.store.interactions import load_interactions
    from service.store.models import Collection

    t0 = time.perf_counter()
    events, groups = planted_log(
        n_users=max(10, round(n_interactions / EVENTS_PER_USER)), n_groups=40, items_per_group=50,
        sessions_per_user=6, session_length=5, seed=1,
    )
    generate_s = time.perf_counter() - t0
    settings, vx, ingest = make_catalogue(workdir / "train", events, groups)
    db = vx.db
    spec_dict = {"type": "item2vec", "workers": workers, "seed": 1}
    spec = Item2VecSpec.model_validate(spec_dict)
    with db.sessions() as s:
        cid = s.query(Collection.id).filter(Collection.name == "shop").scalar()

    # The raw side's input: the same rows, read and cut into sessions once (timed, for the phase comparison).
    t0 = time.perf_counter()
    rows = load_interactions(db, cid)
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sequences = build_sequences(rows, spec.gap_seconds, min_length=spec.min_session_length)
    sequences_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tokens = [[str(i) for i in seq] for seq in sequences]
    tokens_s = time.perf_counter() - t0
    trained_tokens = sum(len(t) for t in tokens)
    params = dict(
        vector_size=spec.dim, window=spec.window, min_count=spec.min_count, sg=1, hs=0, negative=spec.negative,
        ns_exponent=spec.ns_exponent, sample=spec.sample, alpha=spec.alpha, min_alpha=spec.min_alpha,
        seed=spec.seed, workers=spec.workers, epochs=spec.epochs,
    )

    raw_s: list[float] = []
    builds: list[dict[str, Any]] = []
    for r in range(repeats):
        order = ("raw", "vecdex") if r % 2 == 0 else ("vecdex", "raw")  # alternate who goes first
        for side in order:
            if side == "raw":
                t0 = time.perf_counter()
                Word2Vec(sentences=tokens, **params)
                raw_s.append(time.perf_counter() - t0)
            else:
                builds.append(build_space(vx, f"i2v{r}", spec_dict))
        print(f"  training repeat {r + 1}/{repeats}: raw {raw_s[-1]:.2f} s, vecdex job {builds[-1]['job_s']:.2f} s",
              flush=True)
    vx.close()

    job_s = statistics.median(b["job_s"] for b in builds)
    with_create_s = statistics.median(b["job_s"] + b["create_s"] for b in builds)
    raw = statistics.median(raw_s)
    phases = {p: statistics.median(b["phases_s"].get(p, 0.0) for b in builds) for p in builds[0]["phases_s"]}
    n = len(rows)
    return {
        "interactions": n,
        "items": len(groups),
        "users": len({e.user for e in events}),
        "sessions": len(sequences),
        "trained_tokens": trained_tokens,
        "params": params,
        "repeats": repeats,
        "generate_s": generate_s,
        "ingest": ingest,
        "standalone": {"sql_read_s": read_s, "build_sequences_s": sequences_s, "to_tokens_s": tokens_s},
        "raw_gensim_s": raw,
        "raw_gensim_runs_s": raw_s,
        "vecdex_job_s": job_s,
        "vecdex_job_runs_s": [b["job_s"] for b in builds],
        "vecdex_create_s": statistics.median(b["create_s"] for b in builds),
        "vecdex_create_plus_job_s": with_create_s,
        "vecdex_phases_s": phases,
        "job_metrics": builds[-1]["job_metrics"],
        "raw_interactions_per_s": n / raw,
        "vecdex_interactions_per_s": n / job_s,
        "vecdex_with_create_interactions_per_s": n / with_create_s,
        "raw_gensim_tokens_per_s": trained_tokens * spec.epochs / raw,
        "ratio_job_vs_raw": job_s / raw,
        "ratio_create_plus_job_vs_raw": with_create_s / raw,
        "ratio_train_phase_vs_raw": phases.get("train", 0.0) / raw,
    }


# ----------------------------------------------------------------------------- recommend latency


class RawRecommender:
    """What a raw FAISS user would write for the same queries, with everything already in memory."""

    def __init__(self, kind: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.kind = kind
        self.ids = ids  # ascending (Item2VecEmbedder.item_vectors)
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self.unit = unit.astype(np.float32)
        self.index = raw_faiss(kind, vectors, ids)

    def rows(self, item_ids: list[int]) -> np.ndarray:
        return np.searchsorted(self.ids, np.asarray(item_ids, dtype=np.int64))

    def _search(self, queries: np.ndarray, fetch: int, params: Any = None) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if params is None:
            return self.index.search(q, fetch)
        return self.index.search(q, fetch, params=params)

    def average(
        self, pos: list[int], weights: np.ndarray, neg: list[int], k: int, excluded: set[int], params: Any = None
    ) -> list[int]:
        P = self.unit[self.rows(pos)]
        q = (weights[:, None] * P).sum(axis=0) / weights.sum()
        if neg:
            q = q + (q - self.unit[self.rows(neg)].mean(axis=0))
        _, found = self._search(q[None, :], k + len(excluded), params)
        return [int(i) for i in found[0] if i >= 0 and int(i) not in excluded][:k]

    def best_score(self, pos: list[int], neg: list[int], k: int, excluded: set[int]) -> list[int]:
        P = self.unit[self.rows(pos)]
        N = self.unit[self.rows(neg)]
        _, found = self._search(P, max(4 * k, 50) + len(excluded))
        cand = np.array(sorted({int(i) for i in found.ravel() if i >= 0} - excluded), dtype=np.int64)
        C = self.unit[self.rows(cand.tolist())]
        best_pos = (C @ P.T).max(axis=1)
        best_neg = (C @ N.T).max(axis=1)
        score = np.where(best_pos > best_neg, best_pos, -best_neg)
        return [int(i) for i in cand[np.argsort(-score, kind="stable")[:k]]]

    def filter_params(self, allowed: np.ndarray, ef: int) -> Any:
        sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        params = faiss.SearchParametersHNSW(efSearch=ef, sel=sel) if self.kind == "hnsw" else faiss.SearchParameters(sel=sel)
        params._keep = sel  # the SWIG object does not own the selector
        return params


def bench_recommend(n_items: int, queries: int, k: int, workdir: Path) -> dict[str, Any]:
    from embedders.item2vec import Item2VecEmbedder, planted_log, recency_weights
    from service.store.models import Document, Space
    from service.recommend_schemas import UserRecommendRequest
    from service.runtime.spaces import EMBEDDER_DIR, space_dir

    items_per_group = 50
    t0 = time.perf_counter()
    events, groups = planted_log(
        n_users=n_items // 4, n_groups=n_items // items_per_group, items_per_group=items_per_group,
        sessions_per_user=4, session_length=5, zipf_exponent=0.5, seed=2,
    )
    generate_s = time.perf_counter() - t0
    data = workdir / "serve"
    settings, vx, ingest = make_catalogue(data, events, groups)
    db = vx.db
    build = build_space(vx, "i2v", {**LATENCY_SPEC, "workers": os.cpu_count() or 1})
    with db.sessions() as s:
        space = s.get(Space, build["space_id"])
        kind, generation = space.index_kind, space.generation
        external = dict(s.query(Document.external_id, Document.id).all())
    vx.close()
    embedder = Item2VecEmbedder.load(space_dir(settings.spaces_dir, build["space_id"], generation) / EMBEDDER_DIR)
    ids, vectors = embedder.item_vectors()
    raw = RawRecommender(kind, ids, vectors)
    ext_of = {v: k_ for k_, v in external.items()}
    rng = np.random.default_rng(5)

    # The planted groups give realistic examples: positives from one group, the negative from another.
    by_group: dict[int, list[int]] = defaultdict(list)
    for ext, sql_id in external.items():
        by_group[groups[int(ext[1:])]].append(sql_id)
    vectorised = set(ids.tolist())
    metadata_in_stock = _in_stock_ids(settings)
    allowed = np.intersect1d(metadata_in_stock, ids)
    histories: dict[str, list[Any]] = defaultdict(list)
    for e in events:
        histories[e.user].append(e)
    users = sorted(histories)

    def pick_positives(n: int) -> list[int]:
        while True:
            first = int(ids[rng.integers(len(ids))])
            group = groups[int(ext_of[first][1:])]
            mates = [i for i in by_group[group] if i in vectorised and i != first]
            if len(mates) >= n - 1:
                return [first, *[int(x) for x in rng.choice(mates, n - 1, replace=False)]]

    def pick_negative(pos: list[int]) -> int:
        group = groups[int(ext_of[pos[0]][1:])]
        while True:
            cand = int(ids[rng.integers(len(ids))])
            if groups[int(ext_of[cand][1:])] != group and cand not in pos:
                return cand

    ones = [pick_positives(1) for _ in range(queries)]
    threes = [(p, pick_negative(p)) for p in (pick_positives(3) for _ in range(queries))]
    sample_users = [users[int(i)] for i in rng.integers(len(users), size=queries)]
    live = len(ids)
    filter_ef = min(4096, int(np.ceil(128 * live / max(len(allowed), 1))))  # vecdex widens the beam the same way
    filter_params = raw.filter_params(allowed, filter_ef)

    # The service's defaults for "recommend for a user": its latest `history` events, `half_life`, seen excluded.
    defaults = UserRecommendRequest.model_fields
    history_len, half_life = int(defaults["history"].default), float(defaults["half_life"].default)

    def user_query(user: str) -> tuple[list[int], np.ndarray, list[int], set[int]]:
        history = histories[user][-history_len:]
        weights = recency_weights(history, half_life)
        per_item: dict[int, float] = {}
        for event, w in zip(history, weights):
            sql_id = external[f"i{event.item}"]
            per_item[sql_id] = per_item.get(sql_id, 0.0) + float(w)
        pos = [i for i, w in per_item.items() if w > 0 and i in vectorised]
        seen = {external[f"i{e.item}"] for e in histories[user]}
        return pos, np.array([per_item[i] for i in pos], dtype=np.float32), [], seen

    def raw_user(user: str) -> list[int]:
        pos, weights, neg, seen = user_query(user)
        return raw.average(pos, weights, neg, k, seen)

    cases: dict[str, dict[str, Any]] = {
        "1 positive, average": {
            "raw": lambda i: raw.average(ones[i], np.ones(1, np.float32), [], k, set(ones[i])),
            "http": lambda i: ("/collections/shop/recommend", {"positive": [ext_of[ones[i][0]]], "k": k}),
        },
        "3 positives + 1 negative, average": {
            "raw": lambda i: raw.average(threes[i][0], np.ones(3, np.float32), [threes[i][1]], k,
                                         {*threes[i][0], threes[i][1]}),
            "http": lambda i: ("/collections/shop/recommend", {
                "positive": [ext_of[p] for p in threes[i][0]], "negative": [ext_of[threes[i][1]]], "k": k}),
        },
        "3 positives + 1 negative, best_score": {
            "raw": lambda i: raw.best_score(threes[i][0], [threes[i][1]], k, {*threes[i][0], threes[i][1]}),
            "http": lambda i: ("/collections/shop/recommend", {
                "positive": [ext_of[p] for p in threes[i][0]], "negative": [ext_of[threes[i][1]]], "k": k,
                "strategy": "best_score"}),
        },
        "1 positive + filter in_stock (~50 %)": {
            "raw": lambda i: raw.average(ones[i], np.ones(1, np.float32), [], k, set(ones[i]), filter_params),
            "http": lambda i: ("/collections/shop/recommend", {
                "positive": [ext_of[ones[i][0]]], "k": k, "filter": {"in_stock": True}}),
        },
        "user history (service defaults, seen excluded)": {
            "raw": lambda i: raw_user(sample_users[i]),
            "http": lambda i: (f"/collections/shop/users/{sample_users[i]}/recommend", {"k": k}),
        },
    }

    # In-process: vecdex's Recommender without HTTP (same bodies), to split the HTTP cost from the rest.
    from service.facade import Vecdex
    from service.recommend_schemas import RecommendRequest
    from service.store.repository import filtered_ids, get_collection

    local = Vecdex(settings.model_copy(update={"max_k": 1000}))
    local_db = local.db

    def in_process(path: str, body: dict[str, Any]) -> list[int]:
        if "/users/" in path:
            user = path.split("/users/")[1].split("/")[0]
            response = local.recommend.for_user(
                collection="shop", user=user, body=UserRecommendRequest.model_validate(body)
            )
        else:
            response = local.recommend.from_examples(collection="shop", body=RecommendRequest.model_validate(body))
        return [h.id for h in response.hits]

    # The SQL half of a filtered query: the allowed ids of {"in_stock": true}, as the Recommender resolves them.
    sql_filter: list[float] = []
    for _ in range(20):
        t = time.perf_counter()
        with local_db.sessions() as s:
            filtered_ids(s, get_collection(s, "shop"), {"in_stock": True})
        sql_filter.append(time.perf_counter() - t)

    port = free_port()
    env = {**os.environ, "VECDEX_DATA_DIR": str(data), "VECDEX_EMBEDDED_WORKER": "false"}
    log_path = data / "server.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--no-worker"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    results: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            deadline = time.monotonic() + 300
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            for name, case in cases.items():
                for i in range(min(20, queries)):  # warm-up: loads the space, warms caches
                    path, body = case["http"](i)
                    client.post(path, json=body).raise_for_status()
                    in_process(path, body)
                raw_lat, local_lat, http_lat, agree = [], [], [], []
                for i in range(queries):
                    faiss.omp_set_num_threads(1)
                    t = time.perf_counter()
                    raw_ids = case["raw"](i)
                    raw_lat.append(time.perf_counter() - t)
                    path, body = case["http"](i)
                    t = time.perf_counter()
                    in_process(path, body)
                    local_lat.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    resp = client.post(path, json=body)
                    http_lat.append(time.perf_counter() - t)
                    resp.raise_for_status()
                    got = [h["id"] for h in resp.json()["hits"]]
                    agree.append(len(set(got) & set(raw_ids)) / max(len(raw_ids), 1))
                r = {
                    "raw_faiss": summary(raw_lat),
                    "vecdex_in_process": summary(local_lat),
                    "vecdex_http": summary(http_lat),
                    "agreement": float(np.mean(agree)),
                }
                r["ratio_p50"] = r["vecdex_http"]["p50_ms"] / r["raw_faiss"]["p50_ms"]
                r["ratio_p99"] = r["vecdex_http"]["p99_ms"] / r["raw_faiss"]["p99_ms"]
                results[name] = r
                print(f"  {name}: raw p50 {r['raw_faiss']['p50_ms']:.3f} ms, HTTP p50 {r['vecdex_http']['p50_ms']:.2f} ms, "
                      f"agreement {r['agreement']:.3f}", flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
        local.close()
    return {
        "items": len(groups),
        "items_with_vectors": int(len(ids)),
        "interactions": len(events),
        "users": len(users),
        "in_stock_with_vectors": int(len(allowed)),
        "index_kind": kind,
        "filter_ef_search": filter_ef,
        "user_history": history_len,
        "user_half_life": half_life,
        "spec": {**LATENCY_SPEC, "workers": os.cpu_count() or 1},
        "k": k,
        "queries": queries,
        "generate_s": generate_s,
        "ingest": ingest,
        "build": {key: build[key] for key in ("create_s", "job_s", "phases_s")},
        "sql_filter_ms": summary(sql_filter),
        "cases": results,
    }


def _in_stock_ids(settings: Any) -> np.ndarray:
    """SQL ids of the items whose metadata says in_stock (what the filter selects)."""
    from service.store.db import Database
    from service.store.repository import filtered_ids, get_collection

    db = Database(settings.resolved_database_url)
    try:
        with db.sessions() as s:
            return np.sort(filtered_ids(s, get_collection(s, "shop"), {"in_stock": True}))
    finally:
        db.dispose()


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k interactions and 10k items (a few minutes)")
    parser.add_argument("--interactions", type=int, help="training log size (default 200,000; quick 20,000)")
    parser.add_argument("--items", type=int, help="recommend catalogue size (default 100,000; quick 10,000)")
    parser.add_argument("--repeats", type=int, help="training runs per side (default 3; quick 2)")
    parser.add_argument("--queries", type=int, help="queries per kind (default 300; quick 100)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="training threads, both sides")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-recommend", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "item2vec.json")
    args = parser.parse_args()
    n_interactions = args.interactions or (20_000 if args.quick else 200_000)
    n_items = args.items or (10_000 if args.quick else 100_000)
    repeats = args.repeats or (2 if args.quick else 3)
    queries = args.queries or (100 if args.quick else 300)
    faiss.omp_set_num_threads(1)  # single queries: threads only add overhead, on both sides alike
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(), "python": platform.python_version(), "faiss": faiss.__version__,
            "load_avg_at_start": list(os.getloadavg()),
        },
        "command": " ".join(["bench/bench_item2vec.py", *sys.argv[1:]]),
        "quick": args.quick,
    }
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_training:
            print(f"training benchmark, ~{n_interactions:,} interactions ...", flush=True)
            results["training"] = bench_training(n_interactions, repeats, args.workers, Path(tmp))
        if not args.skip_recommend:
            print(f"recommend benchmark, {n_items:,} items ...", flush=True)
            results["recommend"] = bench_recommend(n_items, queries, args.k, Path(tmp))
    results["machine"]["load_avg_at_end"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    lines: list[str] = []
    if "training" in r:
        t = r["training"]
        p = t["vecdex_phases_s"]
        lines += [
            f"Training: {t['interactions']:,} interactions ({t['users']:,} users, {t['items']:,} items, "
            f"{t['sessions']:,} sessions), default spec (dim {t['params']['vector_size']}, window {t['params']['window']}, "
            f"{t['params']['epochs']} epochs, negative {t['params']['negative']}, ns_exponent {t['params']['ns_exponent']}), "
            f"{t['params']['workers']} workers, median of {t['repeats']} alternating runs.",
            "",
            "| | seconds | interactions/s | vs raw gensim |",
            "|---|---|---|---|",
            f"| raw gensim `Word2Vec(sg=1)` on the same sessions (pre-tokenised) | {t['raw_gensim_s']:.2f} | "
            f"{t['raw_interactions_per_s']:,.0f} | 1.00x |",
            f"| vecdex build job (SQL read, sessions, train, embed, index) | {t['vecdex_job_s']:.2f} | "
            f"{t['vecdex_interactions_per_s']:,.0f} | {t['ratio_job_vs_raw']:.2f}x |",
            f"| vecdex `create_space` (preflight) + build job | {t['vecdex_create_plus_job_s']:.2f} | "
            f"{t['vecdex_with_create_interactions_per_s']:,.0f} | {t['ratio_create_plus_job_vs_raw']:.2f}x |",
            "",
            "| build job phase | seconds | share of job |",
            "|---|---|---|",
        ]
        for phase, label in (
            ("setup", "read interactions from SQL + build sessions"),
            ("sequences", "scan sessions (counts, checks)"),
            ("train", "gensim training"),
            ("embed", "item vectors to rows (+ store)"),
            ("index", "FAISS index + save"),
        ):
            if phase in p:
                lines.append(f"| {phase}: {label} | {p[phase]:.2f} | {p[phase] / t['vecdex_job_s']:.0%} |")
        s = t["standalone"]
        lines += [
            "",
            f"Standalone, same rows: `load_interactions` {s['sql_read_s']:.2f} s, `build_sequences` "
            f"{s['build_sequences_s']:.2f} s, ints to string tokens {s['to_tokens_s']:.2f} s; `create_space` "
            f"preflight {t['vecdex_create_s']:.2f} s. Raw gensim: {t['raw_gensim_tokens_per_s']:,.0f} tokens/s.",
        ]
    if "recommend" in r:
        c = r["recommend"]
        lines += [
            "",
            f"Recommend: {c['items']:,} items ({c['items_with_vectors']:,} with an item2vec vector, trained through the "
            f"build job on a planted log of {c['interactions']:,} interactions, {c['spec']['epochs']} epochs), "
            f"`{c['index_kind']}` index, k = {c['k']}, {c['queries']} queries per kind, `vecdex serve` over HTTP "
            f"(keep-alive, one query at a time) vs raw FAISS in the same run.",
            "",
            "| query | raw FAISS p50 ms | raw p99 ms | vecdex in-process p50 ms | vecdex HTTP p50 ms | HTTP p99 ms "
            "| HTTP / raw p50 | HTTP / raw p99 | same top-k |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, x in c["cases"].items():
            lines.append(
                f"| {name} | {x['raw_faiss']['p50_ms']:.3f} | {x['raw_faiss']['p99_ms']:.3f} | "
                f"{x['vecdex_in_process']['p50_ms']:.2f} | {x['vecdex_http']['p50_ms']:.2f} | "
                f"{x['vecdex_http']['p99_ms']:.2f} | {x['ratio_p50']:.1f}x | {x['ratio_p99']:.1f}x | {x['agreement']:.3f} |"
            )
        lines += [
            "",
            f"The filter's SQL half alone (`filtered_ids` for in_stock = true, {c['in_stock_with_vectors']:,} of the "
            f"items with vectors): p50 {c['sql_filter_ms']['p50_ms']:.1f} ms."
            + (f" HNSW beam under the filter: efSearch {c['filter_ef_search']} on both sides." if c["index_kind"] == "hnsw" else ""),
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
