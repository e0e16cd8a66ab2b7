"""The demo collection: the Lee news corpus that ships with gensim, with word2vec, doc2vec and BERT spaces.

Idempotent: running it again reuses what is there (documents upsert by
external id, existing ready spaces are kept), so ``make demo`` restarts fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from embedders.datasets import lee_background, lee_test

from .db import Database
from .errors import NotFound
from .migrate import upgrade
from .repository import create_collection, get_collection, get_space, upsert_documents
from .schemas import DocumentIn
from .settings import Settings, get_settings
from .space_admin import create_space
from .space_schemas import SpaceCreate

COLLECTION = "news"
# (name, embedder spec) with the families' defaults. The first is the default space: word2vec ranks first on the
# Lee similarity benchmark among the trained families (bench/eval_lee.py: Pearson 0.645 vs doc2vec's 0.534);
# the pretrained all-MiniLM-L6-v2 scores 0.656, served beside them for comparison.
SPACES: list[tuple[str, dict]] = [
    ("w2v", {"type": "word2vec"}),
    ("d2v", {"type": "doc2vec"}),
    ("bert", {"type": "bert"}),
]

JobRunner = Callable[[Database, Path, int, str], None]


def demo_documents() -> list[DocumentIn]:
    docs = [
        DocumentIn(external_id=f"lee-bg-{i:03d}", text=t, metadata={"source": "lee_background", "line": i})
        for i, t in enumerate(lee_background(), 1)
    ]
    docs += [
        DocumentIn(external_id=f"lee-test-{i:02d}", text=t, metadata={"source": "lee_test", "line": i})
        for i, t in enumerate(lee_test(), 1)
    ]
    return docs


def build_demo(on_job: JobRunner, settings: Settings | None = None) -> None:
    """Migrate, load the corpus, build each space that is not ready yet (via ``on_job``, e.g. with a progress bar)."""
    settings = settings or get_settings()
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    with db.session() as session:
        try:
            get_collection(session, COLLECTION)
        except NotFound:
            create_collection(session, COLLECTION, description="Lee news corpus (gensim test data): 350 news articles")
    with db.session() as session:
        result = upsert_documents(session, COLLECTION, demo_documents())
    print(f"collection {COLLECTION}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")
    for name, spec in SPACES:
        with db.session() as session:
            collection = get_collection(session, COLLECTION)
            try:
                space = get_space(session, collection, name)
                status = space.status
            except NotFound:
                status = None
        if status == "ready":
            print(f"space {name} ready")
            continue
        if status is not None:  # a failed or interrupted build: start over
            from .space_admin import delete_space

            with db.session() as session:
                delete_space(session, COLLECTION, name)
        _, job_id = create_space(
            db, COLLECTION, SpaceCreate.model_validate({"name": name, "embedder": spec, "make_default": name == SPACES[0][0]})
        )
        on_job(db, settings.spaces_dir, job_id, name)
    db.dispose()
