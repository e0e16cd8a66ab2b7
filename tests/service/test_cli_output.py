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
