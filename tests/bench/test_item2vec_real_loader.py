"""bench/bench_item2vec_real.py reads MovieLens 100k out of the recbole wheel as a zip, and splits it.

A tiny wheel-shaped zip stands in for the real one (tests download nothing); the real
wheel is checked too when a bench run has already fetched it into bench/out/wheels/.
"""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_item2vec_real.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_item2vec_real", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_item2vec_real", module)
    spec.loader.exec_module(module)
    return module


def test_reads_ratings_and_titles_from_a_wheel(bench: ModuleType, tmp_path: Path) -> None:
    wheel = tmp_path / "recbole-1.2.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(bench.INTER, "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                "1\t10\t5\t300\n1\t11\t3\t100\n1\t12\t4\t200\n2\t10\t1\t50\n2\t12\t2\t60\n")
        z.writestr(bench.ITEMS, "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
                                "10\tToy Story\t1995\tAnimation\n11\tCaf\xe9\t1990\tDrama\n".encode("latin-1"))
    events, titles = bench.load_movielens(wheel)
    assert [(e.user, e.item, e.ts) for e in events][:2] == [("u1", 10, 300.0), ("u1", 11, 100.0)]
    assert len(events) == 5 and titles == {10: "Toy Story", 11: "Caf\xe9"}
    test = bench.make_split(events, "test")
    assert {c.user: c.target for c in test.cases} == {"u1": 10, "u2": 12}, "latest by timestamp, not file order"
    val = bench.make_split(events, "val")
    # Validation: each user's last rating is gone first, so u1's target is its second-to-last (12, at ts
    # 200) and u2, left with one rating, gives no case.
    assert {c.user: c.target for c in val.cases} == {"u1": 12}
    assert sorted((e.user, e.item) for e in val.train) == [("u1", 11), ("u2", 10)]


@pytest.mark.skipif(not (BENCH.parent / "out" / "wheels" / "recbole-1.2.1-py3-none-any.whl").exists(),
                    reason="the recbole wheel is fetched by a bench run (bench/bench_item2vec_real.py)")
def test_the_real_log_is_movielens_100k(bench: ModuleType) -> None:
    events, titles = bench.load_movielens(bench.WHEEL)
    assert len(events) == 100_000 and len({e.user for e in events}) == 943 and len(titles) == 1682
    assert len(bench.make_split(events, "test").cases) == 943
