"""Raw FAISS behind the same HTTP stack as bench/empty_app.py: the reference for vecdex's QPS over HTTP.

    python bench/faiss_app.py PORT INDEX_FILE EF_SEARCH

POST /search takes ``{"vector": [...], "k": 10}`` and answers the ids and scores
FAISS finds, nothing else: no SQL, no validation beyond FastAPI's, no metadata.
A sync route, so uvicorn runs each call on its thread pool and FAISS (which
releases the GIL) searches on every core, one OpenMP thread per call as vecdex
does for single queries. What vecdex costs over this is what the service adds.
"""

from __future__ import annotations

import sys
from typing import Any

import faiss
import numpy as np
import uvicorn
from fastapi import FastAPI

app = FastAPI()
index: Any = None
params: Any = None


@app.get("/readyz")
def readyz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/search")
def search(body: dict[str, Any]) -> dict[str, Any]:
    faiss.omp_set_num_threads(1)  # per thread, as vecdex sets it for a batch of a few queries
    q = np.asarray([body["vector"]], dtype=np.float32)
    scores, ids = index.search(q, int(body.get("k", 10)), params=params)
    return {"hits": [{"id": int(i), "score": float(s)} for i, s in zip(ids[0], scores[0]) if i >= 0]}


if __name__ == "__main__":
    index = faiss.read_index(sys.argv[2])
    params = faiss.SearchParametersHNSW(efSearch=int(sys.argv[3]))
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
