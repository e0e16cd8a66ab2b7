"""`vecdex item2vec evaluate --protocol last` (per-user leave-last-out) and `vecdex recommend --user` output.

A small planted log in one SQLite database for the module, built as
tests/service/test_item2vec_cli.py builds its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from embedders.item2vec import planted_log
from service.cli import app

runner = CliRunner()
ITEM_SPEC = ("-p", "workers=1", "-p", "seed=3", "-p", "dim=16", "-p", "epochs=10")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.output


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Collection "shop" with a planted log of 150 users (200 items); returns the number of users."""
    from service.schemas import DocumentIn, InteractionIn
    from service.settings import get_settings
    from service.store.db import Database
    from service.store.interactions import ingest_interactions
    from service.store.repository import create_collection, upsert_documents

    tmp = tmp_path_factory.mktemp("item2vec_protocol")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VECDEX_DATA_DIR", str(tmp / "data"))
        mp.delenv("VECDEX_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        assert run("db", "upgrade")[0] == 0
        events, groups = planted_log(n_users=150, n_groups=8, items_per_group=25, seed=8)
        db = Database(get_settings().resolved_database_url)
        try:
            with db.session() as s:
                create_collection(s, "shop", "items")
                upsert_documents(s, "shop", [DocumentIn(external_id=f"i{i}", text="") for i in sorted(groups)])
                ingest_interactions(s, "shop", [InteractionIn(user=e.user, item=f"i{e.item}", timestamp=e.ts) for e in events])
        finally:
            db.dispose()
        code, _, out = run("space", "create", "shop", "i2v", "-e", "item2vec", *ITEM_SPEC)
        assert code == 0, out
        yield len({e.user for e in events})
        get_settings.cache_clear()


def test_leave_last_out_scores_every_user_against_every_baseline(shop: int) -> None:
    code, stdout, out = run("item2vec", "evaluate", "shop", "--protocol", "last", "--json", *ITEM_SPEC)
    assert code == 0, out
    report = json.loads(stdout)
    assert report["protocol"] == "last" and report["cutoff"] is None and report["test_fraction"] is None
    assert report["cases"] == shop, "one case per user: each user's latest event"
    assert report["train_interactions"] == report["interactions"] - shop
    methods = report["methods"]
    assert set(methods) == {"item2vec", "popularity", "co-occurrence", "adjacent pairs"}
    assert {m["cases"] for m in methods.values()} == {shop}
    assert methods["item2vec"]["hit_rate"] >= 2 * methods["popularity"]["hit_rate"] > 0


def test_leave_last_out_table_and_bad_protocol(shop: int) -> None:
    code, stdout, out = run("item2vec", "evaluate", "shop", "--protocol", "last", "-k", "5", *ITEM_SPEC)
    assert code == 0, out
    assert "each user's latest event held out" in stdout
    rows = [line.split()[0] for line in stdout.splitlines() if line.startswith(("item2vec ", "popularity", "co-", "adjacent"))]
    assert rows == ["item2vec", "popularity", "co-occurrence", "adjacent"]
    code, _, out = run("item2vec", "evaluate", "shop", "--protocol", "random")
    assert code != 0 and "protocol" in out


def test_recommend_for_a_user_lists_ranked_hits(shop: int) -> None:
    code, stdout, out = run("recommend", "shop", "--user", "u1", "-k", "3", "--json")
    assert code == 0, out
    body = json.loads(stdout)
    assert len(body["hits"]) == 3 and body["skipped"] == []
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)
