"""The README's "A five-minute tour" runs as written: its three shell blocks, in order, against a live server
over a demo collection, every command succeeding and every request answered without an error status.

The demo is built by :func:`service.demo.build_demo` itself, with cheaper training specs for the trained
families (a couple of epochs, one thread) so the suite stays fast; the queries of the tour do not depend on
how good the vectors are. The blocks run in bash with ``set -euo pipefail``; ``curl`` is wrapped to fail on
an HTTP error status (``--fail-with-body``), ``localhost:8000`` points at the live server, ``vecdex`` is
this interpreter's entry point, and the working directory is the repository (for ``examples/``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service import demo
from service.settings import Settings
from tests.service.test_restart import _free_port, _start

REPO = Path(__file__).resolve().parents[2]
CHEAP_SPACES = [
    ("w2v", {"type": "word2vec", "epochs": 2, "workers": 1, "seed": 1}),
    ("d2v", {"type": "doc2vec", "epochs": 2, "workers": 1, "seed": 1}),
    ("bert", {"type": "bert", "threads": 1}),
]
PRELUDE = 'set -euo pipefail\ncurl() { command curl --silent --show-error --fail-with-body "$@"; echo; }\n'


def tour_blocks() -> list[str]:
    """The ```sh blocks of the README section "A five-minute tour", in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def test_the_tour_has_the_three_blocks_and_ships_its_files() -> None:
    blocks = tour_blocks()
    assert len(blocks) == 3, "the test runs the tour's blocks; update it with the README"
    for name in re.findall(r"examples/[\w.]+", "".join(blocks)):
        assert (REPO / name).is_file(), f"the tour uses {name}, which is not in the repository"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="the tour's HTTP commands are curl commands; no curl here")
def test_the_tour_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setattr(demo, "SPACES", CHEAP_SPACES)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = Settings(data_dir=data, embedded_worker=False)
    demo.build_demo(lambda vx, job_id, _name: vx.jobs.run_here(job_id=job_id), settings)

    port = _free_port()
    env = {**os.environ, "VECDEX_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    env.pop("VECDEX_DATABASE_URL", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    server = _start(env, port)
    try:
        outputs = []
        for i, block in enumerate(tour_blocks(), 1):
            script = PRELUDE + block.replace("localhost:8000", f"127.0.0.1:{port}").replace(
                "export VECDEX_DATA_DIR=./data", f"export VECDEX_DATA_DIR={data}"
            )
            done = subprocess.run(
                ["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, f"tour block {i} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            outputs.append(done.stdout)
    finally:
        server.terminate()
        server.wait(timeout=30)

    # Behaviour, not only exit codes: the first search returns its 3 hits from the demo collection,
    # the filtered doc2vec search only lee_test documents, and the CLI found the sport notes.
    first = json.loads(outputs[0].splitlines()[0])
    assert len(first["hits"]) == 3 and all(h["external_id"].startswith("lee-") for h in first["hits"])
    filtered = json.loads(outputs[0].splitlines()[1])
    assert filtered["hits"] and all(h["metadata"]["source"] == "lee_test" for h in filtered["hits"])
    lines = outputs[2].splitlines()
    start = lines.index("space w2v:") + 1  # `vecdex search articles "late goal" ... --filter topic=sport`
    ranked = [m.group(1) for line in lines[start:] if (m := re.match(r"\s+\d+\. \S+\s+(n\d+)\s", line))]
    sport = {f"n{i}" for i in range(1, 9)}  # examples/notes.jsonl: n1-n8 are the sport notes
    assert ranked[:5] and set(ranked[:5]) <= sport, outputs[2]
