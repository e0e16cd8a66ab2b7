"""Progress off a terminal is plain periodic lines (a piped or logged command is not silent), and a build's
embed phase moves in steps sized by the family's speed rather than one jump per page."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from service.facade import Vecdex
from service.runtime import build
from service.runtime.progress import TqdmProgress
from service.schemas import CollectionCreate, DocumentsUpsert
from service.settings import Settings
from service.space_schemas import SpaceCreate
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents


def test_off_a_terminal_each_phase_prints_a_start_periodic_and_end_line() -> None:
    out = io.StringIO()  # not a TTY, as a file or a pipe
    bar = TqdmProgress("news", stream=out, interval=0.0)
    bar.start("embed", 4)
    bar.advance(1)
    bar.note(loss=1.23456)
    bar.advance(3)
    bar.start("index", 2)  # starting the next phase ends the previous one
    bar.advance(2)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "news embed: started, 4 to do"
    assert re.fullmatch(r"news embed: 1/4 \(25%\), [\d.]+/s, [\d.]+ s", lines[1]), lines
    assert re.fullmatch(r"news embed: 4/4 \(100%\), [\d.]+/s, [\d.]+ s, loss=1\.235 - done", lines[2]), lines
    assert lines[3] == "news index: started, 2 to do" and lines[-1].endswith(" - done") and len(lines) == 5


def test_disabled_prints_nothing() -> None:
    out = io.StringIO()
    bar = TqdmProgress("x", disable=True, stream=out, interval=0.0)
    bar.start("embed", 3)
    bar.advance(3)
    bar.close()
    assert out.getvalue() == ""


class Recorder:
    def __init__(self) -> None:
        self.steps: dict[str, list[int]] = {}
        self.totals: dict[str, int] = {}
        self._phase = ""

    def start(self, phase: str, total: int) -> None:
        self._phase = phase
        self.totals[phase] = total
        self.steps[phase] = []

    def advance(self, n: int = 1) -> None:
        self.steps[self._phase].append(n)


def test_the_embed_phase_advances_in_chunks_and_stores_every_vector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "EMBED_CHUNK_SECONDS", 1e-9)  # every chunk at the minimum size
    monkeypatch.setattr(build, "EMBED_CHUNK_MIN", 7)
    vx = Vecdex(Settings(data_dir=tmp_path / "data", embedded_worker=False))
    from service.store.migrate import upgrade

    upgrade(vx.settings.resolved_database_url)
    try:
        vx.collections.create(body=CollectionCreate(name="topics"))
        docs: list[dict[str, Any]] = topical_documents()
        vx.documents.upsert(collection="topics", body=DocumentsUpsert.model_validate({"documents": docs}))
        created = vx.spaces.create(collection="topics", body=SpaceCreate.model_validate({"name": "w2v", "embedder": FAST_W2V}))
        progress = Recorder()
        job = vx.jobs.run_here(job_id=created.job.id, progress=progress)
        assert job is not None and job.status == "succeeded", job
        steps = progress.steps["embed"]
        assert sum(steps) == progress.totals["embed"] == len(docs)
        assert len(steps) == -(-len(docs) // 7) and max(steps) == 7, steps
        from service.store.models import StoredVector
        from sqlalchemy import func, select

        with vx.db.session() as s:
            stored = s.scalar(select(func.count()).select_from(StoredVector))
        assert stored == len(docs)
    finally:
        vx.close()
