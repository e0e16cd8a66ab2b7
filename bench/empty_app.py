"""The HTTP baseline of bench/suite.py: a trivial FastAPI route served by uvicorn as `vecdex serve` does.

    python bench/empty_app.py PORT

POST /search accepts any JSON body and answers an empty hit list, so its latency
is the cost of uvicorn + FastAPI + JSON + the loopback round trip alone.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/readyz")
def readyz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/search")
def search(body: dict[str, Any]) -> dict[str, Any]:
    return {"space": "empty", "hits": []}


if __name__ == "__main__":
    # Same call as service.cli.serve: uvicorn.run(app, host=..., port=..., log_level="info").
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
