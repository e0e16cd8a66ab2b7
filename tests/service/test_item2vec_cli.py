"""`vecdex recommend`, `vecdex item2vec evaluate` and `vecdex item2vec tune` through typer's CliRunner.

One SQLite database per module: an items collection holding a planted log
(:func:`embedders.item2vec.synthetic.planted_log`, 300 users, ~8k interactions,
200 items in 8 groups) with an item2vec space built by `vecdex space create`,
a documents collection, and two small items collections for the error cases.
The commands under test only read, so the tests share it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedders.item2vec import Item2VecSpec, planted_log
from service.cli import app

runner = CliRunner()
ITEM_SPEC = ("-p", "workers=1", "-p", "seed=3")


def run(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout, and stdout + stderr."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.output


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, int]]:
    """The planted log in collection "shop" (items "i<id>", metadata group and in_stock), space "i2v" built."""
    from service.store.db import Database
    from service.store.interactions import ingest_interactions
    from service.store.repository import create_collection, upsert_documents
    from service.schemas import DocumentIn, InteractionIn
    from service.settings import get_settings

    tmp = tmp_path_factory.mktemp("item2vec_cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VECDEX_DATA_DIR", str(tmp / "data"))
        mp.delenv("VECDEX_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        assert run("db", "upgrade")[0] == 0
        events, groups = planted_log(n_users=300, seed=3)
        db = Database(get_settings().resolved_database_url)
        try:
            with db.session() as s:
                create_collection(s, "shop", "items")
                create_collection(s, "notes")
                create_collection(s, "empty", "items")
                create_collection(s, "tiny", "items")
                upsert_documents(
                    s,
                    "shop",
                    [
                        DocumentIn(external_id=f"i{i}", text="", metadata={"group": g, "in_stock": i % 2 == 0})
                        for i, g in sorted(groups.items())
                    ],
                )
                upsert_documents(s, "notes", [DocumentIn(external_id="n1", text="a note about nothing")])
                records = [InteractionIn(user=e.user, item=f"i{e.item}", timestamp=e.ts) for e in events]
                ingest_interactions(s, "shop", records)
                # One user, one event: no test case can be made of it.
                ingest_interactions(s, "tiny", [InteractionIn(user="u", item="x", timestamp=1.7e9)], "create")
        finally:
            db.dispose()
        code, _, out = run("space", "create", "shop", "i2v", "-e", "item2vec", *ITEM_SPEC)
        assert code == 0, out
        assert "space i2v ready" in out
        yield groups
        get_settings.cache_clear()


def test_evaluate_json_beats_popularity(shop: dict[int, int]) -> None:
    code, stdout, out = run("item2vec", "evaluate", "shop", "-k", "10", "--json", *ITEM_SPEC)
    assert code == 0, out
    report = json.loads(stdout)
    methods = report["methods"]
    assert set(methods) == {"item2vec", "popularity", "co-occurrence"}
    assert methods["item2vec"]["hit_rate"] >= 2 * methods["popularity"]["hit_rate"] > 0
    assert {m["cases"] for m in methods.values()} == {report["cases"]}
    assert report["cases"] >= 30 and report["space"] is None
    assert report["train_interactions"] < report["interactions"] and report["train_seconds"] > 0
    assert report["spec"]["seed"] == 3 and report["cutoff_iso"].endswith("Z")


def test_evaluate_table_with_a_space_spec(shop: dict[int, int]) -> None:
    code, stdout, out = run("item2vec", "evaluate", "shop", "--space", "i2v", "-k", "5", "--test-fraction", "0.2")
    assert code == 0, out
    assert "space i2v" in stdout and "test cases" in stdout
    header, *rows = [line for line in stdout.splitlines() if line.startswith(("method", "item2vec ", "popularity", "co-"))]
    assert header.split() == ["method", "HR@5", "MRR@5", "nDCG@5", "coverage", "cases"]
    assert [r.split()[0] for r in rows] == ["item2vec", "popularity", "co-occurrence"]


@pytest.mark.parametrize(
    ("args", "code_", "message"),
    [
        (("notes",), "not_an_items_collection", "kind items"),
        (("empty",), "corpus_too_small", "has no interactions"),
        (("tiny",), "corpus_too_small", "no test case"),
        (("nowhere",), "collection_not_found", "'nowhere'"),
        (("shop", "-p", "epochs=0"), "invalid_input", "epochs"),
        (("shop", "--space", "nope"), "space_not_found", "'nope'"),
    ],
)
def test_evaluate_errors(shop: dict[int, int], args: tuple[str, ...], code_: str, message: str) -> None:
    code, stdout, out = run("item2vec", "evaluate", *args)
    assert code == 2 and stdout == ""
    assert f"error [{code_}]" in out and message in out and "Traceback" not in out


def test_tune_json_within_budget(shop: dict[int, int]) -> None:
    code, stdout, out = run("item2vec", "tune", "shop", "--budget", "5", "--json", *ITEM_SPEC)
    assert code == 0, out
    report = json.loads(stdout)
    trials = report["trials"]
    assert len(trials) >= 1 and trials[0]["changes"] == {}  # the base spec runs first
    best = Item2VecSpec.model_validate(report["best_spec"])
    assert best.seed == 3 and best.workers == 1
    # The chosen spec is the base, or a trial that beat the base on validation (and was confirmed by a second seed).
    chosen = next(t for t in trials if {**report["base_spec"], **t["changes"]} == report["best_spec"])
    assert chosen["changes"] == {} or chosen["ndcg"] > trials[0]["ndcg"]
    assert report["create_command"].startswith("vecdex space create shop item2vec-tuned -e item2vec")


def test_tune_table(shop: dict[int, int]) -> None:
    code, stdout, out = run("item2vec", "tune", "shop", "--budget", "0", "-p", "workers=1")
    assert code == 0, out
    assert "1 trials" in stdout and "(base spec)" in stdout and "best spec:" in stdout
    assert "vecdex space create shop NAME -e item2vec" in stdout
    assert "vecdex item2vec evaluate shop" in stdout
    code, _, out = run("item2vec", "tune", "notes", "--budget", "0")
    assert code == 2 and "not_an_items_collection" in out


def test_recommend_from_items(shop: dict[int, int]) -> None:
    item = next(iter(sorted(shop)))
    code, stdout, out = run("recommend", "shop", "--positive", f"i{item}", "-k", "5", "--json")
    assert code == 0, out
    response = json.loads(stdout)
    hits = response["hits"]
    assert response["space"] == "i2v" and len(hits) == 5
    assert f"i{item}" not in {h["external_id"] for h in hits}
    assert all(h["source"] == "item2vec" for h in hits)
    # Group mates come first: the planted structure is what the model should have learnt.
    assert sum(h["metadata"]["group"] == shop[item] for h in hits) >= 3

    other = next(i for i in sorted(shop) if shop[i] != shop[item])
    code, stdout, out = run(
        "recommend", "shop", "--positive", f"i{item}", "--positive", f"i{other}", "--negative", f"i{other + 1}",
        "--strategy", "best_score", "--filter", "in_stock=true", "--exclude", f"i{item + 1}", "-k", "7", "--json",
    )
    assert code == 0, out
    hits = json.loads(stdout)["hits"]
    assert len(hits) == 7 and all(h["metadata"]["in_stock"] is True for h in hits)
    assert not {h["external_id"] for h in hits} & {f"i{item}", f"i{other}", f"i{other + 1}", f"i{item + 1}"}

    code, stdout, out = run("recommend", "shop", "--positive", f"i{item}", "-k", "3")
    assert code == 0, out
    lines = stdout.splitlines()
    assert lines[0] == "space i2v (average):" and len(lines) == 4
    assert lines[1].split()[0] == "1." and "item2vec" in lines[1] and '"group":' in lines[1]


def test_recommend_for_a_user(shop: dict[int, int]) -> None:
    code, stdout, out = run("recommend", "shop", "--user", "u7", "-k", "10", "--json")
    assert code == 0, out
    hits = json.loads(stdout)["hits"]
    assert len(hits) == 10
    code, stdout, out = run("recommend", "shop", "--user", "u7", "-k", "10", "--strategy", "best_score")
    assert code == 0 and len(stdout.splitlines()) == 11


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("shop", "--positive", "i999999"), "error [item_not_found] positive[0]: item 'i999999' not found"),
        (("shop", "--user", "nobody"), "error [user_not_found]"),
        (("shop",), "give at least one --positive"),
        (("shop", "--user", "u1", "--positive", "i101"), "--user"),
        (("shop", "--positive", "i101", "--strategy", "best"), "unknown strategy"),
        (("shop", "--positive", "i101", "--filter", "in_stock"), "expected key=value"),
        (("shop", "--positive", "i101", "-k", "0"), "k"),
        (("notes", "--positive", "n1"), "error [space_not_found]"),
    ],
)
def test_recommend_errors(shop: dict[int, int], args: tuple[str, ...], message: str) -> None:
    code, stdout, out = run("recommend", *args)
    assert code == 2 and stdout == "", out
    assert message in out and "Traceback" not in out
