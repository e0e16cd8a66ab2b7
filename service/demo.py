"""The demo collection: the Lee news corpus that ships with gensim, with word2vec, doc2vec and BERT spaces.

Idempotent: running it again reuses what is there (documents upsert by
external id, existing ready spaces are kept), so ``make demo`` restarts fast.
Built through :class:`service.facade.Vecdex` like any other client.
"""

from __future__ import annotations

from collections.abc import Callable

from embedders.datasets import lee_background, lee_test

from .errors import NotFound
from .facade import Vecdex
from .store.migrate import upgrade
from .schemas import CollectionCreate, DocumentIn
from .settings import Settings, get_settings
from .space_schemas import SpaceCreate

COLLECTION = "news"
DESCRIPTION = "Lee news corpus (gensim test data): 350 news articles"
# (name, embedder spec) with the families' defaults. The first is the default space: word2vec ranks first on the
# Lee similarity benchmark among the trained families (bench/eval_lee.py: Pearson 0.645 vs doc2vec's 0.534);
# the pretrained all-MiniLM-L6-v2 scores 0.656, served beside them for comparison.
SPACES: list[tuple[str, dict]] = [
    ("w2v", {"type": "word2vec"}),
    ("d2v", {"type": "doc2vec"}),
    ("bert", {"type": "bert"}),
]

JobRunner = Callable[[Vecdex, int, str], None]
"""``on_job(vx, job_id, space_name)``: run a queued build job (the CLI runs it here with a progress bar)."""


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
    vx = Vecdex(settings)
    try:
        vx.check_schema()
        _build(vx, on_job)
    finally:
        vx.close()


def _build(vx: Vecdex, on_job: JobRunner) -> None:
    try:
        vx.collections.get(name=COLLECTION)
    except NotFound:
        vx.collections.create(body=CollectionCreate(name=COLLECTION, description=DESCRIPTION))
    result = vx.documents.write(collection=COLLECTION, documents=demo_documents())
    print(f"collection {COLLECTION}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")
    for name, spec in SPACES:
        try:
            status: str | None = vx.spaces.get(collection=COLLECTION, space=name).status
        except NotFound:
            status = None
        if status == "ready":
            print(f"space {name} ready")
            continue
        if status is not None:  # a failed or interrupted build: start over
            vx.spaces.delete(collection=COLLECTION, space=name)
        body = SpaceCreate.model_validate({"name": name, "embedder": spec, "make_default": name == SPACES[0][0]})
        created = vx.spaces.create(collection=COLLECTION, body=body)
        on_job(vx, created.job.id, name)
