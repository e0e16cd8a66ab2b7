"""Ingest benchmark: documents/s into a loaded word2vec, doc2vec, bilstm and bert space vs the raw embedding call.

For each family, in one run, on the same texts, with the repetitions interleaved
(raw, vecdex, raw, vecdex, ..., raw), so the ratios hold when the machine is
shared and noisy; absolute throughputs are recorded for context only.

    .venv/bin/python bench/bench_ingest.py [--docs N] [--reps 3] [--families word2vec,doc2vec,bilstm,bert]
                                           [--quick] [--out bench/results/ingest.json]

Writes JSON (default bench/results/ingest.json) and prints a Markdown table.
Progress goes to stderr.

Texts: N distinct news-like documents, each 2-4 random sentences of the Lee
corpus (``bench_bert.bert_documents``, seed 11; each fits one 256-token BERT
window, so vecdex's BERT embedder sends exactly the texts raw
sentence-transformers gets). Every family ingests a prefix of the same list
(``--docs`` sets one N for all; default 5000 word2vec, 2000 doc2vec, 1000 bilstm,
300 bert, so each timed run lasts seconds to tens of seconds; ``--quick``
300/300/100/100).

Threads: torch runs with 1 thread in every thread of the process, both sides
(``--torch-threads 1``, the default, sets OMP_NUM_THREADS/MKL_NUM_THREADS before
torch loads, and the bilstm spec's training ``threads``). On the 2-core machine
these figures come from, shared with another benchmark, torch's default (2
OpenMP threads) made bilstm inference 6-8x slower than 1 thread and erratic
(OpenMP threads spinning against the other process); ``--torch-threads 0``
keeps the library default.

Setup per family (not timed): an in-process vecdex (SQLite data directory in a
temporary directory, ``Settings(data_dir=..., embedded_worker=False)``, the API
app behind FastAPI's TestClient, ``bench_bert.Service``) gets a collection
holding the Lee background corpus (300 documents) and one space of the family,
built by its build job run in-process (``claim_next`` + ``run_job``, what the
worker does): word2vec and doc2vec with their default specs (trained on the 300
documents), bilstm with its default architecture but 1 training epoch and
``threads`` = --torch-threads (its
inference cost depends on the architecture only; ``--quick``: a small
architecture), bert with the default spec (all-MiniLM-L6-v2, torch, batch 32;
nothing to train). One search then loads the space.

vecdex (timed): the N documents POSTed 256 at a time to
``POST /collections/{c}/documents`` (TestClient, in-process), first POST to last
POST returning. Each write upserts the documents in SQL, then catches the
loaded space up: embeds the new documents (``embed_documents``), stores their
vectors in SQL, adds them to the FAISS index. Between repetitions the N
documents are deleted again (untimed; their stored vectors go with them, checked),
so every repetition does the same work with the same external ids. Also
recorded per run: seconds inside ``embed_documents`` and inside the catch-up
(``SpaceRuntime.catch_up``: embed + store vectors + index add), the rest being
the SQL upsert, the change log, validation and the in-process HTTP round trip.

raw (timed): the embedding call alone on the same N texts, with the same
trained model loaded once beforehand from the space's directory, no SQL, no
HTTP, no index. Repeated back to back until at least 1 s has passed (so the
fast families are not timed on a few milliseconds); throughput = documents
embedded / seconds.

* word2vec: vecdex's tokenizer (same spec, stop words removed; tokenizing is part
  of both sides) then, per document, the tf-idf weighted mean of the gensim
  word vectors of its in-vocabulary tokens, in numpy (``w @ V[idx] / w.sum()``,
  the same arithmetic as vecdex). Also measured: the same with gensim's own
  ``KeyedVectors.get_mean_vector(tokens, weights=idf, pre_normalize=False)``
  (a Python loop over the tokens; slower), reported as ``raw_gensim_*``.
* doc2vec: vecdex's tokenizer then gensim ``Doc2Vec.infer_vector(tokens,
  epochs=infer_epochs)`` per document, on the gensim model loaded with
  ``Doc2Vec.load`` (vecdex runs the same per-document inner loop with a fixed
  seed and start vector, see embedders/doc2vec.py).
* bilstm: no outside library; the embedder's own torch forward,
  ``BiLSTMEmbedder.embed_documents(texts)`` on the loaded model (one call over
  the N texts; it embeds document by document either way).
* bert: ``SentenceTransformer(default_model_path(), device="cpu").encode(texts, batch_size=32)``,
  one call over the N texts (vecdex calls ``encode_document`` per 256-document POST,
  which pads each batch a little more: see bench_bert.py's padding figures).

Also per rep, after the raw run that closes it: vecdex's embedder alone
(``embed_documents`` of the embedder instance the API loaded for the space, one
call over the N texts, no SQL/HTTP/index), reported as ``embedder_docs_per_s``
(for bilstm the same code as raw, so a check on noise).

Ratios are vecdex throughput / raw throughput (1.0 = as fast as raw):
``ratio_vecdex_vs_raw`` is the median over reps of each vecdex run against the
mean throughput of the two raw runs that bracket it; ``ratio_of_medians`` is
median vecdex / median raw.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_bert import STREAM_BATCH, Service, bert_documents, log, med, quiet_libraries  # noqa: E402

from embedders.datasets import lee_background  # noqa: E402

FAMILIES = ("word2vec", "doc2vec", "bilstm", "bert")
DEFAULT_DOCS = {"word2vec": 5000, "doc2vec": 2000, "bilstm": 1000, "bert": 300}
QUICK_DOCS = {"word2vec": 300, "doc2vec": 300, "bilstm": 100, "bert": 100}
RAW_MIN_S = 1.0  # a raw run repeats the call until this much time has passed

BILSTM_FULL = {"type": "bilstm", "epochs": 1}  # default architecture; inference cost does not depend on training
BILSTM_QUICK = {  # tests/embedders/test_bilstm.py's SMALL architecture
    "type": "bilstm",
    "char_dim": 8,
    "filters": [[1, 16], [2, 16], [3, 32], [4, 32]],
    "projection_dim": 32,
    "hidden_dim": 64,
    "epochs": 1,
}
SPECS = {"word2vec": {"type": "word2vec"}, "doc2vec": {"type": "doc2vec"}, "bert": {"type": "bert"}}

RAW_IS = {
    "word2vec": "vecdex Tokenizer (stop words removed) + numpy tf-idf weighted mean of the gensim word vectors "
    "of the in-vocabulary tokens (w @ V[idx] / w.sum()), per document",
    "doc2vec": "vecdex Tokenizer + gensim Doc2Vec.infer_vector(tokens, epochs=infer_epochs) per document",
    "bilstm": "BiLSTMEmbedder.embed_documents(texts) on the loaded model (torch forward; no outside library)",
    "bert": "SentenceTransformer(all-MiniLM-L6-v2, cpu).encode(texts, batch_size=32), one call",
}

THREADS_NOTE = (
    "torch runs with 1 thread on both sides by default (OMP_NUM_THREADS=1, --torch-threads): on this 2-core "
    "machine shared with another benchmark, torch's default of 2 OpenMP threads made bilstm inference 6-8x slower "
    "than 1 thread (595-957 vs 4847-6089 words/s, measured side by side) and its timings erratic"
)


# --- instrumentation (bench-side wrappers; nothing in vecdex changes) ----------------------------------


class Counters:
    def __init__(self) -> None:
        self.embed_s = 0.0
        self.embed_calls = 0
        self.embed_texts = 0
        self.catch_up_s = 0.0
        self.torch_threads: set[int] = set()  # torch.get_num_threads() in the threads that embedded

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


COUNTERS = Counters()


def instrument() -> None:
    """Time every family's ``embed_documents`` and ``SpaceRuntime.catch_up``."""
    from embedders import BiLSTMEmbedder, Doc2VecEmbedder, Word2VecEmbedder
    from embedders.bert.embedder import BertEmbedder
    from service.runtime.spaces import SpaceRuntime

    for cls in (Word2VecEmbedder, Doc2VecEmbedder, BiLSTMEmbedder, BertEmbedder):
        original = cls.embed_documents

        def timed_embed(self, texts, _original=original):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return _original(self, texts)
            finally:
                COUNTERS.embed_s += time.perf_counter() - t
                COUNTERS.embed_calls += 1
                COUNTERS.embed_texts += len(texts)
                if "torch" in sys.modules:
                    COUNTERS.torch_threads.add(sys.modules["torch"].get_num_threads())

        cls.embed_documents = timed_embed  # type: ignore[method-assign]

    catch_up = SpaceRuntime.catch_up

    def timed_catch_up(self, db):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return catch_up(self, db)
        finally:
            COUNTERS.catch_up_s += time.perf_counter() - t

    SpaceRuntime.catch_up = timed_catch_up  # type: ignore[method-assign]


# --- raw embedding calls -------------------------------------------------------------------------------


def raw_callable(family: str, svc: Service, space_id: int, quick_model: Any = None) -> tuple[Callable[[list[str]], Any], dict[str, Callable[[list[str]], Any]]]:
    """The raw call for a family (and extra raw variants), on the trained model loaded from the space's directory."""
    from embedders import registry
    from service.runtime.spaces import EMBEDDER_DIR, space_dir

    directory = space_dir(svc.settings.spaces_dir, space_id, 0) / EMBEDDER_DIR
    extras: dict[str, Callable[[list[str]], Any]] = {}
    if family == "word2vec":
        loaded = registry.load(directory)
        kv = loaded.keyed_vectors  # gensim KeyedVectors over the trained vectors
        idf = np.asarray(loaded._pooling.weights, dtype=np.float32)  # the spec's tf-idf weights, per vocabulary row
        vectors = np.ascontiguousarray(kv.vectors, dtype=np.float32)
        k2i = kv.key_to_index
        tokenize = loaded.tokenizer.tokenize

        def w2v_numpy(texts: list[str]) -> list[np.ndarray]:
            out = []
            for text in texts:
                idx = [k2i[t] for t in tokenize(text) if t in k2i]
                if idx:
                    w = idf[idx].astype(np.float64)
                    out.append((w @ vectors[idx].astype(np.float64)) / w.sum())
            return out

        def w2v_gensim(texts: list[str]) -> list[np.ndarray]:
            out = []
            for text in texts:
                known = [t for t in tokenize(text) if t in k2i]
                if known:
                    out.append(kv.get_mean_vector(known, weights=idf[[k2i[t] for t in known]], pre_normalize=False))
            return out

        extras["gensim"] = w2v_gensim
        return w2v_numpy, extras
    if family == "doc2vec":
        from gensim.models.doc2vec import Doc2Vec

        manifest = json.loads((directory / "manifest.json").read_text())
        model = Doc2Vec.load(str(directory / manifest["files"]["model"]))
        loaded = registry.load(directory)
        tokenize, epochs = loaded.tokenizer.tokenize, loaded.spec.infer_epochs

        def d2v(texts: list[str]) -> list[np.ndarray]:
            return [model.infer_vector(tokenize(t), epochs=epochs) for t in texts]

        return d2v, extras
    if family == "bilstm":
        loaded = registry.load(directory)
        return loaded.embed_documents, extras
    from sentence_transformers import SentenceTransformer

    from embedders.bert.source import default_model_path

    model = quick_model or SentenceTransformer(str(default_model_path()), device="cpu")
    return (lambda texts: model.encode(texts, batch_size=32, show_progress_bar=False)), extras


def run_raw(call: Callable[[list[str]], Any], texts: list[str], desc: str) -> dict[str, float]:
    """Repeat ``call(texts)`` until RAW_MIN_S has passed; documents/s over all passes."""
    passes = 0
    t0 = time.perf_counter()
    with tqdm(desc=desc, unit="pass", leave=False, file=sys.stderr) as bar:
        while True:
            call(texts)
            passes += 1
            bar.update(1)
            elapsed = time.perf_counter() - t0
            if elapsed >= RAW_MIN_S:
                break
    return {"seconds": elapsed, "passes": passes, "docs_per_s": passes * len(texts) / elapsed}


# --- vecdex side -----------------------------------------------------------------------------------------


def count_rows(svc: Service, collection: str, space_id: int) -> tuple[int, int]:
    from sqlalchemy import func, select

    from service.store.models import Collection, Document, StoredVector

    with svc.db.session() as s:
        docs = s.scalar(
            select(func.count()).select_from(Document).join(Collection, Collection.id == Document.collection_id)
            .where(Collection.name == collection)
        )
        vecs = s.scalar(select(func.count()).select_from(StoredVector).where(StoredVector.space_id == space_id))
    return int(docs or 0), int(vecs or 0)


def delete_documents(svc: Service, collection: str, external_ids: list[str]) -> None:
    """Delete the documents (all but the last through the bench's own facade, untimed, the last through
    the API, whose write catches the app's loaded space up on every delete: index entries removed)."""
    for ext in tqdm(external_ids[:-1], desc="  delete (untimed)", unit="doc", leave=False, file=sys.stderr):
        svc.vx.documents.delete(collection=collection, external_id=ext)
    r = svc.client.delete(f"/collections/{collection}/documents/{external_ids[-1]}")
    if r.status_code != 204:
        raise RuntimeError(f"DELETE: {r.status_code} {r.text[:300]}")


def run_vecdex(svc: Service, collection: str, texts: list[str], desc: str) -> dict[str, Any]:
    """POST the texts STREAM_BATCH at a time as documents d0..d{N-1}; the loaded space catches up on each."""
    COUNTERS.reset()
    posts: list[float] = []
    t0 = time.perf_counter()
    for start in tqdm(range(0, len(texts), STREAM_BATCH), desc=desc, unit="POST", leave=False, file=sys.stderr):
        t = time.perf_counter()
        svc.add_documents(collection, texts[start : start + STREAM_BATCH], "d", STREAM_BATCH, first=start)
        posts.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    if COUNTERS.embed_texts != len(texts):
        raise RuntimeError(f"vecdex embedded {COUNTERS.embed_texts} texts, expected {len(texts)} (vector reuse?)")
    hits = svc.post(f"/collections/{collection}/search", {"query": texts[-1], "k": 3, "snippet_chars": 0})["hits"]
    found = any(h["external_id"] == f"d{len(texts) - 1}" for h in hits)
    return {
        "wall_s": wall,
        "docs_per_s": len(texts) / wall,
        "embed_s": COUNTERS.embed_s,
        "embed_calls": COUNTERS.embed_calls,
        "catch_up_s": COUNTERS.catch_up_s,
        "post_s": posts,
        "last_document_found": found,
        "torch_threads_in_request_threads": sorted(COUNTERS.torch_threads),
    }


def setup_family(svc: Service, family: str, quick: bool, torch_threads: int = 0) -> tuple[str, int, dict[str, Any]]:
    """A collection with the Lee background corpus and a ready, loaded space of the family."""
    spec = BILSTM_QUICK if (family == "bilstm" and quick) else BILSTM_FULL if family == "bilstm" else SPECS[family]
    if family == "bilstm" and torch_threads:
        spec = {**spec, "threads": torch_threads}  # training sets its own thread count (default: one torch thread)
    name = f"ingest_{family}"
    svc.post("/collections", {"name": name})
    svc.add_documents(name, lee_background(), "lee", 1000)
    log(f"[{family}] building the space {json.dumps(spec)} over {len(lee_background())} documents ...")
    built = svc.build(name, family, spec)
    svc.post(f"/collections/{name}/search", {"query": "bushfires near Sydney", "k": 3})  # loads the space
    log(f"[{family}] build job {built['job_s']:.1f} s")
    return name, int(built["space_id"]), {"spec": spec, "build_job_s": built["job_s"], "build_phases_s": built["phases_s"]}


def bench_family(
    svc: Service, family: str, texts: list[str], reps: int, quick: bool, bert_model: Any, torch_threads: int
) -> dict[str, Any]:
    name, space_id, info = setup_family(svc, family, quick, torch_threads)
    base_docs, base_vecs = count_rows(svc, name, space_id)
    raw, extras = raw_callable(family, svc, space_id, bert_model)
    embedder = _loaded_embedder(svc, space_id)
    n = len(texts)
    log(f"[{family}] {n} documents; warming up ...")
    raw(texts[:32])
    for call in extras.values():
        call(texts[:32])
    embedder.embed_documents(texts[:32])

    raws: list[dict[str, float]] = []
    extra_runs: dict[str, list[dict[str, float]]] = {k: [] for k in extras}
    embedder_runs: list[float] = []
    vec_runs: list[dict[str, Any]] = []
    load_average: list[list[float]] = []

    def raw_round(label: str) -> None:
        raws.append(run_raw(raw, texts, f"  {family} raw {label}"))
        for key, call in extras.items():
            extra_runs[key].append(run_raw(call, texts, f"  {family} raw ({key}) {label}"))

    raw_round("0")
    for rep in range(reps):
        load_average.append(list(os.getloadavg()))
        if rep:
            delete_documents(svc, name, [f"d{i}" for i in range(n)])
            docs, vecs = count_rows(svc, name, space_id)
            assert (docs, vecs) == (base_docs, base_vecs), ("delete left rows", docs, vecs, base_docs, base_vecs)
        v = run_vecdex(svc, name, texts, f"  {family} vecdex rep {rep + 1}/{reps}")
        vec_runs.append(v)
        raw_round(str(rep + 1))
        t = time.perf_counter()  # vecdex's embedder alone, after the bracketing raw run
        embedder.embed_documents(texts)
        embedder_runs.append(n / (time.perf_counter() - t))
        log(f"[{family}] rep {rep + 1}/{reps} (load {load_average[-1][0]:.2f}): raw {raws[-2]['docs_per_s']:.0f} / "
            f"{raws[-1]['docs_per_s']:.0f} docs/s, vecdex {v['docs_per_s']:.0f} docs/s "
            f"(embed {v['embed_s']:.2f} s, catch-up {v['catch_up_s']:.2f} s of {v['wall_s']:.2f} s)"
            + f", embedder alone {embedder_runs[-1]:.0f} docs/s")
    docs, vecs = count_rows(svc, name, space_id)
    assert (docs, vecs) == (base_docs + n, base_vecs + n), ("after ingest", docs, vecs)

    raw_tp = [r["docs_per_s"] for r in raws]
    vec_tp = [v["docs_per_s"] for v in vec_runs]
    bracketed = [vec_tp[i] / ((raw_tp[i] + raw_tp[i + 1]) / 2) for i in range(reps)]
    out: dict[str, Any] = {
        "documents": n,
        "raw_docs_per_s": med(raw_tp),
        "vecdex_docs_per_s": med(vec_tp),
        "ratio_vecdex_vs_raw": med(bracketed),
        "ratio_bracketed_per_rep": bracketed,
        "ratio_of_medians": med(vec_tp) / med(raw_tp),
        "raw_is": RAW_IS[family],
        "reps": reps,
        **info,
        "vecdex_time_split_s": {  # medians over reps
            "wall": med([v["wall_s"] for v in vec_runs]),
            "embed_documents": med([v["embed_s"] for v in vec_runs]),
            "catch_up_incl_embed": med([v["catch_up_s"] for v in vec_runs]),
            "catch_up_minus_embed (store vectors, index add, snapshot)": med([v["catch_up_s"] - v["embed_s"] for v in vec_runs]),
            "outside_catch_up (SQL upsert, change log, validation, HTTP in-process)": med([v["wall_s"] - v["catch_up_s"] for v in vec_runs]),
        },
        "embed_share_of_vecdex_wall": med([v["embed_s"] / v["wall_s"] for v in vec_runs]),
        "raw_runs": raws,
        "vecdex_runs": vec_runs,
        "load_average_per_rep": load_average,
    }
    for key, runs in extra_runs.items():
        tp = [r["docs_per_s"] for r in runs]
        out[f"raw_{key}_docs_per_s"] = med(tp)
        out[f"ratio_vecdex_vs_raw_{key}"] = med([vec_tp[i] / ((tp[i] + tp[i + 1]) / 2) for i in range(reps)])
        out[f"raw_{key}_runs"] = runs
    if family == "word2vec":
        out["raw_gensim_is"] = ("vecdex Tokenizer + gensim KeyedVectors.get_mean_vector(known tokens, weights=idf, "
                                "pre_normalize=False) per document")
    out["embedder_docs_per_s"] = med(embedder_runs)
    out["embedder_is"] = ("embed_documents(texts) of the embedder instance the API process loaded for the space, "
                          "one call, no SQL/HTTP/index (for bilstm the same code as raw, another instance)")
    out["embedder_runs_docs_per_s"] = embedder_runs
    out["vecdex_vs_embedder_alone"] = med(vec_tp) / med(embedder_runs)
    log(f"[{family}] raw {out['raw_docs_per_s']:.0f} docs/s, vecdex {out['vecdex_docs_per_s']:.0f} docs/s, "
        f"ratio {out['ratio_vecdex_vs_raw']:.3f} (bracketed median)")
    return out


def _loaded_embedder(svc: Service, space_id: int) -> Any:
    """The embedder instance of the space the API process has loaded (the one the writes use)."""
    from service.runtime.spaces import SpaceRuntime

    for obj in _app_runtimes(svc)._cache.values():
        if isinstance(obj, SpaceRuntime) and obj.space_id == space_id:
            return obj.embedder
    raise RuntimeError(f"space {space_id} is not loaded")


def _app_runtimes(svc: Service) -> Any:
    return svc.client.app.state.vecdex.runtimes


# --- report ------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """The suite's machine record plus torch's thread count (imported late: faiss must not load OpenMP
    before the thread settings above are in place)."""
    import torch
    from suite import machine_info as suite_machine_info

    info = suite_machine_info()
    info["torch_threads"] = torch.get_num_threads()
    info["load_average_start"] = info.pop("load_avg_at_start")
    return info


def markdown(results: dict[str, Any]) -> str:
    m, p = results["machine"], results["params"]
    lines = [
        f"Ingest, {p['batch']} documents per POST into a loaded space (in-process TestClient), vs the raw embedding "
        f"call on the same texts; {p['reps']} interleaved reps; {m['cpu_model']}, {m['cores']} cores, load average "
        f"{m['load_average_start'][0]:.2f} at start, {m['load_average_end'][0]:.2f} at end.",
        "",
        "| family | docs | raw docs/s | vecdex docs/s | vecdex / raw (bracketed median) | per rep | ratio of medians "
        "| embed share of vecdex wall | vecdex embedder alone docs/s | raw is |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in results["families"].items():
        lines.append(
            f"| {name} | {f['documents']} | {f['raw_docs_per_s']:.0f} | {f['vecdex_docs_per_s']:.0f} "
            f"| {f['ratio_vecdex_vs_raw']:.3f} | {', '.join(f'{x:.3f}' for x in f['ratio_bracketed_per_rep'])} "
            f"| {f['ratio_of_medians']:.3f} | {f['embed_share_of_vecdex_wall']:.0%} "
            f"| {f.get('embedder_docs_per_s', float('nan')):.0f} | {f['raw_is']} |"
        )
    if "word2vec" in results["families"]:
        w = results["families"]["word2vec"]
        lines += ["", f"word2vec with gensim's own `KeyedVectors.get_mean_vector` as raw: {w['raw_gensim_docs_per_s']:.0f} "
                      f"docs/s, vecdex / that {w['ratio_vecdex_vs_raw_gensim']:.3f}."]
    lines += ["", "Where vecdex's ingest time goes (median seconds per run):", "",
              "| family | wall | embed_documents | catch-up minus embed (store vectors, index add, snapshot) "
              "| outside catch-up (SQL upsert, change log, validation, HTTP) |", "|---|---|---|---|---|"]
    for name, f in results["families"].items():
        s = list(f["vecdex_time_split_s"].values())
        lines.append(f"| {name} | {s[0]:.2f} | {s[1]:.2f} | {s[3]:.2f} | {s[4]:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=None, help="documents per family (default: 5000 word2vec, 2000 doc2vec, "
                        "1000 bilstm, 500 bert; --quick 300/300/100/100)")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repetitions (default 3; --quick 1)")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated subset of " + ",".join(FAMILIES))
    parser.add_argument("--quick", action="store_true", help="a small run (a few minutes) to check the script works")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/ingest.json)")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch/OpenMP threads in every thread of the "
                        "process, both sides (default 1; 0: leave the library default, every core)")
    args = parser.parse_args()
    if args.torch_threads:
        # Before torch is first imported: OpenMP reads these once, and they are the default of every thread,
        # including the API's request threads (torch.set_num_threads only sets the calling thread's).
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.torch_threads)
        import torch

        torch.set_num_threads(args.torch_threads)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = set(families) - set(FAMILIES)
    if unknown:
        parser.error(f"unknown families {sorted(unknown)}")
    quiet_libraries()
    out_path = args.out or ROOT / "bench" / "results" / "ingest.json"
    reps = args.reps or (1 if args.quick else 3)
    sizes = {f: args.docs or (QUICK_DOCS if args.quick else DEFAULT_DOCS)[f] for f in families}
    results: dict[str, Any] = {"machine": machine_info(), "command": " ".join(sys.argv[1:])}
    results["params"] = {
        "quick": args.quick, "reps": reps, "batch": STREAM_BATCH, "documents": sizes, "families": families,
        "raw_min_seconds_per_run": RAW_MIN_S, "texts": "2-4 random Lee sentences, bench_bert.bert_documents(seed=11), "
        "each one BERT window; every family ingests a prefix of the same list",
        "training_corpus": "Lee background (300 documents), external ids lee0..",
        "torch_threads": args.torch_threads or "library default",
        "torch_threads_note": THREADS_NOTE,
    }
    started = time.time()
    instrument()
    from sentence_transformers import SentenceTransformer

    from embedders.bert import BertEmbedder, BertSpec
    from embedders.bert.source import default_model_path

    checker = BertEmbedder(BertSpec())
    texts = bert_documents(max(sizes.values()), seed=11, fits=lambda ts: [len(w) == 1 for w in checker.windows(ts)])
    results["params"]["words_per_text_mean"] = statistics.mean(len(t.split()) for t in texts)
    bert_model = SentenceTransformer(str(default_model_path()), device="cpu") if "bert" in families else None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    results["families"] = {}
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        svc = Service(Path(tmp) / "data")
        try:
            for family in tqdm(families, desc="families", unit="family", file=sys.stderr):
                results["families"][family] = bench_family(
                    svc, family, texts[: sizes[family]], reps, args.quick, bert_model, args.torch_threads
                )
                results["machine"]["load_average_end"] = list(os.getloadavg())
                results["elapsed_s"] = time.time() - started
                out_path.write_text(json.dumps(results, indent=2))  # partial results survive a later failure
        finally:
            svc.close()
    results["machine"]["load_average_end"] = list(os.getloadavg())
    results["elapsed_s"] = time.time() - started
    out_path.write_text(json.dumps(results, indent=2))
    log(f"wrote {out_path}")
    print(markdown(results))


if __name__ == "__main__":
    main()
