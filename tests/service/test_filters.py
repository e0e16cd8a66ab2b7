"""The filter language: every operator and nesting matches a brute-force evaluation, on both dialects.

The same documents are filtered in SQL (``filtered_ids``) and by the plain Python
reading of the README's semantics below; the two must agree exactly. A null or
absent field is missing: comparisons never match it, their negations do.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.settings import Settings
from service.store.db import Database
from service.store.repository import filtered_ids, get_collection
from tests.service.conftest import run_jobs

QUOTED = 'we"ird\\key'
MISSING = object()


def _documents() -> list[dict[str, Any]]:
    rng = random.Random(13)
    topics = ["sport", "news", "Zebra", "émigré", "apple", "banana"]
    docs = []
    for i in range(60):
        meta: dict[str, Any] = {}
        if i % 7:
            meta["year"] = 2015 + i % 11 if i % 5 else 2019.5 + i % 3
        if i % 4:
            meta["topic"] = topics[i % len(topics)]
        if i % 3:
            meta["draft"] = bool(i % 2)
        if i % 6 != 5:
            meta["tags"] = rng.sample(["goal", "rain", "x", "y", "long tag"], k=i % 4) + ([7] if i % 9 == 0 else [])
        if i % 10 == 0:
            meta["year"] = None  # null: the same as missing
        if i % 2:
            meta[QUOTED] = "v" if i % 3 else "w"
        meta["score"] = -1.5 + i / 10
        docs.append({"external_id": f"d{i}", "text": f"alpha note {i}", "metadata": meta})
    return docs


def _kind(v: Any) -> str:
    return "boolean" if isinstance(v, bool) else "number" if isinstance(v, (int, float)) else "string"


def _same(a: Any, b: Any) -> bool:
    return a is not MISSING and a is not None and _kind(a) == _kind(b) and a == b


def _op(actual: Any, op: str, arg: Any) -> bool:
    present = actual is not MISSING and actual is not None
    if op == "eq":
        return _same(actual, arg)
    if op == "ne":
        return not _same(actual, arg)
    if op == "in":
        return any(_same(actual, a) for a in arg)
    if op == "nin":
        return not any(_same(actual, a) for a in arg)
    if op == "exists":
        return present == arg
    if op == "contains":
        return present and isinstance(actual, list) and any(not isinstance(e, list) and _same(e, arg) for e in actual)
    if not present:
        return False
    return {"gt": actual > arg, "gte": actual >= arg, "lt": actual < arg, "lte": actual <= arg}[op]


def matches(meta: dict[str, Any], flt: dict[str, Any]) -> bool:
    """The reference semantics, written without SQL."""
    for key, spec in flt.items():
        if key == "and":
            ok = all(matches(meta, f) for f in spec)
        elif key == "or":
            ok = any(matches(meta, f) for f in spec)
        elif key == "not":
            ok = not matches(meta, spec)
        elif isinstance(spec, dict):
            ok = all(_op(meta.get(key, MISSING), op, arg) for op, arg in spec.items())
        else:
            ok = _op(meta.get(key, MISSING), "eq", spec)
        if not ok:
            return False
    return True


FILTERS: list[dict[str, Any]] = [
    {"topic": "sport"},
    {"topic": "news", "draft": True},
    {"year": 2020},
    {"year": {"gte": 2020, "lt": 2024}},
    {"year": {"gt": 2019.5}},
    {"year": {"lte": 2019.5}},
    {"score": {"gt": -0.5, "lte": 2.05}},
    {"topic": {"gt": "banana"}},
    {"topic": {"lt": "apple"}},  # code point order: "Zebra" < "apple" (a locale collation says otherwise)
    {"topic": {"gte": "apple", "lte": "news"}},
    {"topic": {"ne": "sport"}},
    {"draft": {"ne": False}},
    {"topic": {"in": ["sport", "émigré", "nowhere"]}},
    {"topic": {"nin": ["sport", "news"]}},
    {"year": {"in": [2016, 2019.5, 2025]}},
    {"draft": {"in": [True]}},
    {"year": {"exists": True}},
    {"year": {"exists": False}},
    {"tags": {"exists": False}},
    {"tags": {"contains": "goal"}},
    {"tags": {"contains": 7}},
    {"tags": {"contains": "long tag"}, "draft": {"exists": True}},
    {QUOTED: "v"},
    {QUOTED: {"ne": "v"}},
    {QUOTED: {"in": ["w"]}, "score": {"lt": 3}},
    {QUOTED: {"exists": False}},
    {"or": [{"topic": "sport"}, {"year": {"gte": 2024}}]},
    {"and": [{"year": {"gte": 2016}}, {"not": {"tags": {"contains": "x"}}}]},
    {"not": {"or": [{"draft": True}, {"topic": {"in": ["news", "apple"]}}]}},
    {"or": [{"and": [{"draft": False}, {"not": {"year": {"lt": 2020}}}]}, {QUOTED: "w", "tags": {"contains": "rain"}}]},
    {"not": {}},
    {"or": [{}, {"topic": "sport"}]},
]


# Every test here reads one loaded collection (or checks that a refused filter changed nothing): it is
# loaded once per dialect for the module.
@pytest.fixture(scope="module")
def settings(module_settings: Settings) -> Settings:
    return module_settings


@pytest.fixture(scope="module")
def client(module_client: TestClient) -> TestClient:
    return module_client


@pytest.fixture(scope="module")
def loaded(client: TestClient, settings: Settings) -> list[dict[str, Any]]:
    docs = _documents()
    assert client.post("/collections", json={"name": "f"}).status_code == 201
    assert client.post("/collections/f/documents", json={"documents": docs}).status_code == 200
    assert client.post("/collections/f/spaces", json={"name": "kw", "embedder": {"type": "bm25"}}).status_code == 202
    assert run_jobs(settings) == 1
    return docs


def _sql(settings: Settings, flt: dict[str, Any]) -> set[str]:
    db = Database(settings.resolved_database_url)
    try:
        with db.sessions() as s:
            collection = get_collection(s, "f")
            ids = [int(i) for i in filtered_ids(s, collection, flt)]
            from service.store.models import Document
            from sqlalchemy import select

            return set(s.scalars(select(Document.external_id).where(Document.id.in_(ids)))) if ids else set()
    finally:
        db.dispose()


def test_every_filter_matches_the_reference(loaded: list[dict[str, Any]], settings: Settings) -> None:
    for flt in FILTERS:
        expected = {d["external_id"] for d in loaded if matches(d["metadata"], flt)}
        assert _sql(settings, flt) == expected, flt
    # the filters are not trivial: most select some but not all documents
    sizes = [sum(matches(d["metadata"], f) for d in loaded) for f in FILTERS]
    assert sum(0 < n < len(loaded) for n in sizes) == len(FILTERS) - 2  # all but {"not": {}} and {"or": [{}, ...]}


@pytest.mark.parametrize("flt", FILTERS[:6] + FILTERS[26:30])
def test_search_returns_every_match(loaded: list[dict[str, Any]], client: TestClient, flt: dict[str, Any]) -> None:
    """Through the API, k = all documents: the hits are exactly the filter's documents (k is guaranteed)."""
    r = client.post("/collections/f/search", json={"query": "note", "k": 100, "filter": flt})
    assert r.status_code == 200, r.text
    assert {h["external_id"] for h in r.json()["hits"]} == {d["external_id"] for d in loaded if matches(d["metadata"], flt)}


ERRORS: list[tuple[dict[str, Any], str, str]] = [
    ({"nope": 1}, "filter.nope", "unknown_filter_field"),
    ({"or": [{"topic": "a"}, {"year": {"gte": "2020"}}]}, "filter.or[1].year.gte", "filter_type_mismatch"),
    ({"or": [{"topic": "a"}, {"nope": {"exists": True}}]}, "filter.or[1].nope", "unknown_filter_field"),
    ({"topic": 3}, "filter.topic", "filter_type_mismatch"),
    ({"draft": {"gt": True}}, "filter.draft.gt", "filter_type_mismatch"),
    ({"tags": "goal"}, "filter.tags", "filter_type_mismatch"),
    ({"topic": {"contains": "a"}}, "filter.topic.contains", "filter_type_mismatch"),
    ({"tags": {"contains": ["goal"]}}, "filter.tags.contains", "invalid_filter"),
    ({"year": {"between": [1, 2]}}, "filter.year.between", "invalid_filter"),
    ({"year": {}}, "filter.year", "invalid_filter"),
    ({"year": None}, "filter.year", "invalid_filter"),
    ({"year": [2020]}, "filter.year", "invalid_filter"),
    ({"year": {"in": []}}, "filter.year.in", "invalid_filter"),
    ({"year": {"in": 2020}}, "filter.year.in", "invalid_filter"),
    ({"year": {"in": list(range(1001))}}, "filter.year.in", "invalid_filter"),
    ({"year": {"nin": [2020, "x"]}}, "filter.year.nin[1]", "filter_type_mismatch"),
    ({"year": {"exists": 1}}, "filter.year.exists", "invalid_filter"),
    ({"and": []}, "filter.and", "invalid_filter"),
    ({"or": {"topic": "a"}}, "filter.or", "invalid_filter"),
    ({"not": [{"topic": "a"}]}, "filter.not", "invalid_filter"),
    ({"and": [{"topic": "a"}, 3]}, "filter.and[1]", "invalid_filter"),
    ({"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"topic": "a"}}}}}}}}}},
     "filter.not.not.not.not.not.not.not.not.not", "invalid_filter"),
    ({"or": [{"topic": "a"}] * 300}, "filter.or[255].topic", "invalid_filter"),
]


@pytest.mark.parametrize(("flt", "field", "code"), ERRORS, ids=[e[1] + ":" + e[2] for e in ERRORS])
def test_errors_name_the_path(loaded: list[dict[str, Any]], client: TestClient, flt: Any, field: str, code: str) -> None:
    before = client.get("/collections/f").json()
    r = client.post("/collections/f/search", json={"query": "note", "k": 5, "filter": flt})
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == (code, field), r.text
    assert client.get("/collections/f").json() == before  # nothing changed


def test_short_form_and_nesting_depth_limit(loaded: list[dict[str, Any]], client: TestClient) -> None:
    deep: dict[str, Any] = {"topic": "sport"}
    for _ in range(8):
        deep = {"not": deep}  # eight levels: allowed (an even number of nots is the filter itself)
    r = client.post("/collections/f/search", json={"query": "note", "k": 100, "filter": deep})
    assert r.status_code == 200, r.text
    assert {h["external_id"] for h in r.json()["hits"]} == {
        d["external_id"] for d in loaded if matches(d["metadata"], {"topic": "sport"})
    }


@pytest.mark.parametrize("value", [2**70, -(2**64), 10**400, 1e300])
def test_numbers_beyond_64_bits_are_compared_not_refused(loaded: list[dict[str, Any]], client: TestClient, value: Any) -> None:
    """SQLite cannot bind an integer beyond 64 bits; the filter still answers (no 500) on both dialects."""
    for flt in ({"year": value}, {"year": {"lt": value}}, {"year": {"in": [value]}}, {"tags": {"contains": value}}):
        r = client.post("/collections/f/search", json={"query": "note", "k": 100, "filter": flt})
        assert r.status_code == 200, (flt, r.text)
        assert {h["external_id"] for h in r.json()["hits"]} == {d["external_id"] for d in loaded if matches(d["metadata"], flt)}


def test_too_many_values_are_refused(loaded: list[dict[str, Any]], client: TestClient) -> None:
    flt = {"or": [{"year": {"in": list(range(1000))}} for _ in range(6)]}
    r = client.post("/collections/f/search", json={"query": "note", "k": 5, "filter": flt})
    assert r.status_code == 422
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == ("invalid_filter", "filter.or[5].year.in")


def test_largest_filter_runs(loaded: list[dict[str, Any]], client: TestClient) -> None:
    """At the caps (256 conditions, 5,000 values) the SQL still runs: SQLite's expression depth and variables."""
    flt = {"or": [{"year": {"in": list(range(i * 20, i * 20 + 20))}} for i in range(250)]}
    r = client.post("/collections/f/search", json={"query": "note", "k": 100, "filter": flt})
    assert r.status_code == 200, r.text
    assert {h["external_id"] for h in r.json()["hits"]} == {d["external_id"] for d in loaded if matches(d["metadata"], flt)}
