"""Listings: tab-separated lines off a terminal (what scripts parse), a rich table on one, JSON with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import common
from tests.service.test_cli import env, run  # noqa: F401  (the fixture)


@pytest.fixture
def two(env: Path) -> Path:  # noqa: F811
    assert run("db", "upgrade")[0] == 0
    assert run("collection", "create", "notes")[0] == 0
    assert run("collection", "create", "shop", "--kind", "items")[0] == 0
    return env


def test_off_a_terminal_lines_are_tab_separated(two: Path) -> None:
    code, out = run("collection", "list")
    assert code == 0
    assert sorted(out.splitlines()) == [
        "notes\tdocuments\t0 documents\tdefault space: -", "shop\titems\t0 documents\tdefault space: -",
    ]
    assert run("jobs", "list")[1] == ""


def test_on_a_terminal_a_table_with_headers(two: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "_stdout_is_terminal", lambda: True)
    code, out = run("collection", "list")
    assert code == 0
    header = next(line for line in out.splitlines() if "name" in line)
    assert all(h in header for h in ("name", "kind", "documents", "default space")) and "\t" not in out
    assert any("notes" in line and "documents" in line and "0" in line for line in out.splitlines())


@pytest.mark.parametrize("args", [["collection", "list"], ["space", "list", "notes"], ["jobs", "list"], ["keys", "list"]])
def test_json_everywhere(two: Path, args: list[str]) -> None:
    code, out = run(*args, "--json")
    assert code == 0, out
    data = json.loads(out)
    assert isinstance(data, list)
    if args[0] == "collection":
        assert {c["name"]: c["kind"] for c in data} == {"notes": "documents", "shop": "items"}


@pytest.fixture
def topics(env: Path) -> Path:  # noqa: F811
    from tests.service.corpus import topical_documents

    assert run("db", "upgrade")[0] == 0
    src = env / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in topical_documents()))
    assert run("ingest", str(src), "--collection", "topics", "--create")[0] == 0
    assert run("space", "create", "topics", "kw", "-e", "bm25")[0] == 0
    return env


def test_search_on_a_terminal_is_a_table_with_the_terms_marked(topics: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, plain = run("search", "topics", "penalty", "-k", "2")
    assert code == 0 and plain.splitlines()[0] == "space kw:" and plain.splitlines()[1].startswith("  1. ")
    monkeypatch.setattr(common, "_stdout_is_terminal", lambda: True)
    code, out = run("search", "topics", "penalty", "-k", "2")
    assert code == 0, out
    header = next(line for line in out.splitlines() if "score" in line)
    assert all(h in header for h in ("#", "score", "id", "snippet")) and "space kw" in out
    assert "penalty" in out and "  1. " not in out


def test_a_snippet_cell_marks_each_highlight() -> None:
    from service.schemas import Highlight

    cell = common.highlighted("a late\ngoal, a goal", [Highlight(start=7, end=11), Highlight(start=15, end=19)])
    assert cell.plain == "a late goal, a goal"
    assert [(s.start, s.end, str(s.style)) for s in cell.spans] == [(7, 11, "bold yellow"), (15, 19, "bold yellow")]


def test_evaluation_and_recommend_tables_on_a_terminal(topics: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    queries, qrels = topics / "q.jsonl", topics / "qrels.txt"
    queries.write_text(json.dumps({"id": "q1", "text": "penalty goal"}) + "\n")
    qrels.write_text("q1 0 sport-1 1\nq1 0 sport-4 1\n")
    args = ("eval", "retrieval", "topics", "--queries", str(queries), "--qrels", str(qrels))
    code, plain = run(*args)
    assert code == 0, plain
    assert plain.splitlines()[0].startswith("retrieval on ") and plain.splitlines()[1].startswith("space")
    monkeypatch.setattr(common, "_stdout_is_terminal", lambda: True)
    code, out = run(*args)
    assert code == 0, out
    header = next(line for line in out.splitlines() if "status" in line)
    assert "space" in header and "mrr@10" in header and any("kw" in line and "ok" in line for line in out.splitlines())
