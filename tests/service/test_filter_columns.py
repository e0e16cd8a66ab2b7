"""In-memory metadata columns answer every filter exactly as the brute-force reference and SQL do.

The columns (:mod:`service.query.filter_columns`) are checked against
``matches`` of test_filters on its documents, after a seeded random sequence
of writes, and through :class:`FilterColumnsCache` against ``filtered_ids`` on
both dialects while documents change over HTTP. Numbers beyond 2**53 are
either answered exactly or handed back to SQL (None), never answered wrongly.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.query.filter_cache import FilterColumnsCache
from service.query import filter_cache, filter_column_kinds, filter_columns
from service.query.filter_columns import MetadataColumns, NotExact
from service.settings import Settings
from service.store.db import Database
from service.store.filter_tree import Node, parse_filter
from service.store.repository import filtered_ids, get_collection, json_type, max_change_id

from .test_filters import FILTERS, QUOTED, _documents, matches

EXTRA: list[dict[str, Any]] = [
    {"tags": {"contains": True}},  # a boolean element, not the number 1
    {"tags": {"contains": 1}},
    {"tags": {"contains": 7.0}},  # 7 and 7.0 are one number
    {"tags": {"exists": True}, "not": {"tags": {"contains": "x"}}},
    {"year": 2020.0},
    {"year": {"in": [2010, 2011, 2012, 2013, 2014, 2016, 2018, 2019.5, 2020, 2022, 2024.5, 2030]}},  # the searchsorted path
    {"year": {"nin": [2015, 2016, 2017, 2018, 2019, 2020, 2021, 2022, 2023]}},
    {"topic": {"gte": "", "lt": "b"}},
    {"topic": {"gt": "Émile"}},
    {"topic": {"in": ["", "ß", "aardvark", "sport"]}},
    {"topic": {"nin": ["sport", "news", "Zebra", "émigré", "banana", "", "ß", "aardvark", "nowhere", "t3"]}},  # > 8: the table path
    {"topic": ""},
    {"draft": {"in": [True, False]}},
    {"extra": {"exists": True}},
    {"not": {"extra": {"exists": True}}, "score": {"gte": 0}},
    {"or": [{"year": {"lt": 2016}}, {"not": {"topic": {"lte": "m"}}}, {"tags": {"contains": 7}}]},
]


def _schema(docs: list[dict[str, Any]]) -> dict[str, str]:
    schema: dict[str, str] = {}
    for meta in docs:
        for key, value in meta.items():
            kind = json_type(value)
            if kind is not None:
                schema.setdefault(key, kind)
    return schema


def _expected(metas: dict[int, dict[str, Any]], flt: dict[str, Any]) -> list[int]:
    return sorted(doc_id for doc_id, meta in metas.items() if matches(meta, flt))


def _check(columns: MetadataColumns, metas: dict[int, dict[str, Any]], filters: list[dict[str, Any]], schema: dict[str, str]) -> None:
    for flt in filters:
        got = columns.matching(parse_filter(flt, schema, "f"))
        assert got.dtype == np.int64
        assert got.tolist() == _expected(metas, flt), flt


@pytest.mark.parametrize("step", [1, 3])
def test_every_filter_matches_the_reference(step: int) -> None:
    """Ids 1, 2, 3, ... (contiguous: ids come from slot positions) and 1, 4, 7, ... (gathered)."""
    metas = {i * step + 1: d["metadata"] for i, d in enumerate(_documents())}
    columns = MetadataColumns()
    columns.load(metas.items())
    _check(columns, metas, FILTERS, _schema(list(metas.values())))


def test_load_takes_rows_in_any_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shuffled rows over several chunks, an id given twice (the last row wins): sorted once, same answers."""
    monkeypatch.setattr(filter_columns, "LOAD_CHUNK", 7)
    metas = {i * 3 + 1: d["metadata"] for i, d in enumerate(_documents())}
    rows = list(metas.items())
    random.Random(3).shuffle(rows)
    rows.insert(5, (rows[20][0], {"topic": "sport", "year": 1900}))  # stale: replaced by rows[20] later
    columns = MetadataColumns()
    columns.load(rows)
    assert len(columns) == len(metas)
    _check(columns, metas, FILTERS, _schema(list(metas.values())))


def test_types_never_mix() -> None:
    """One field holding every JSON type (the schema forbids it; the columns keep one sub-column per type anyway):
    1 is 1.0 but not true nor "1", and nothing equals an array or object holding it."""
    metas = {1: {"v": True}, 2: {"v": 1}, 3: {"v": 1.0}, 4: {"v": "1"}, 5: {"v": [1, True]}, 6: {"v": {"a": 1}}, 7: {"v": None}, 8: {}}
    columns = MetadataColumns()
    columns.load(metas.items())
    for flt, kind in [
        ({"v": 1}, "number"), ({"v": True}, "boolean"), ({"v": "1"}, "string"), ({"v": {"ne": 1}}, "number"),
        ({"v": {"in": [1.0, 2]}}, "number"), ({"v": {"nin": [False, True]}}, "boolean"), ({"v": {"exists": True}}, "number"),
        ({"v": {"contains": 1}}, "array"), ({"v": {"contains": True}}, "array"), ({"v": {"contains": "1"}}, "array"),
    ]:
        _check(columns, metas, [flt], {"v": kind})


# ----------------------------------------------------------------------------- random writes


def _random_meta(rng: random.Random) -> dict[str, Any]:
    """Metadata of the schema's types (year number, topic string, ...), any field possibly absent or null."""
    meta: dict[str, Any] = {}
    choices = {
        "year": lambda: rng.choice([rng.randint(2010, 2030), rng.randint(2010, 2030) + 0.5, 2020.0]),
        "topic": lambda: rng.choice(["sport", "news", "Zebra", "émigré", "apple", "banana", "", "ß", "aardvark", "Émile", f"t{rng.randint(0, 40)}"]),
        "draft": lambda: rng.random() < 0.5,
        "tags": lambda: rng.sample(["goal", "rain", "x", "y", "long tag", 7, 7.0, 1, True, False, None, ["x"], {"a": 1}], k=rng.randint(0, 4)),
        "score": lambda: round(rng.uniform(-2, 5), 2),
        QUOTED: lambda: rng.choice(["v", "w"]),
        "extra": lambda: {"k": rng.randint(0, 3)},
    }
    for key, make in choices.items():
        r = rng.random()
        if r < 0.6:
            meta[key] = make()
        elif r < 0.7:
            meta[key] = None
    return meta


@pytest.mark.parametrize("compact_min", [0, 1024])
def test_random_writes_keep_the_columns_exact(compact_min: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upserts (changed values, fields added and dropped), deletes and re-inserts (old ids too: out of order).

    With ``compact_min`` 0 every kind of housekeeping runs many times (counted
    below): slot compaction, array element log compaction, string dictionary re-sorts.
    """
    calls = {"slots": 0, "log": 0, "sort": 0}

    def spy(name: str, cls: Any, attr: str, when: Any = lambda self, *a: True) -> None:
        original = getattr(cls, attr)

        def wrapped(self: Any, *args: Any) -> Any:
            calls[name] += bool(when(self, *args))
            return original(self, *args)

        monkeypatch.setattr(cls, attr, wrapped)

    spy("slots", MetadataColumns, "_maintain", lambda self: not self._ordered or self._dead > self.compact_min and 4 * self._dead > self._n)
    spy("log", filter_column_kinds.Arrays, "_compact_log")
    spy("sort", filter_column_kinds.Strings, "prepare", lambda self, n: not self.ordered)
    rng = random.Random(20240607 + compact_min)
    metas = {i * 3 + 1: d["metadata"] for i, d in enumerate(_documents())}
    columns = MetadataColumns(compact_min=compact_min)
    columns.load(metas.items())
    gone: list[int] = []
    next_id = max(metas) + 1
    filters = FILTERS + EXTRA
    schema = _schema(list(metas.values()) + [_random_meta(random.Random(s)) for s in range(50)])
    schema["extra"] = "object"
    for step in range(400):
        op = rng.random()
        if op < 0.35 and metas:  # change an existing document
            doc_id = rng.choice(list(metas))
            metas[doc_id] = _random_meta(rng)
            columns.upsert(doc_id, metas[doc_id])
        elif op < 0.55 and metas:
            doc_id = rng.choice(list(metas))
            del metas[doc_id]
            gone.append(doc_id)
            columns.remove(doc_id)
        elif op < 0.65 and gone:  # an id back (SQLite reuses max + 1): appended out of id order
            doc_id = gone.pop(rng.randrange(len(gone)))
            metas[doc_id] = _random_meta(rng)
            columns.upsert(doc_id, metas[doc_id])
        elif op < 0.75:  # a batch: new ids, an existing one twice (the last row wins), a removal of an unknown id
            batch = [(next_id + k, _random_meta(rng)) for k in range(rng.randint(1, 6))]
            next_id += len(batch)
            if metas:
                existing = rng.choice(list(metas))
                batch += [(existing, _random_meta(rng)), (existing, _random_meta(rng))]
            columns.upsert_many(batch)
            metas.update(dict(batch))
            columns.remove_many([10**9])
        else:
            doc_id = next_id
            next_id += 1
            metas[doc_id] = _random_meta(rng)
            columns.upsert(doc_id, metas[doc_id])
        assert len(columns) == len(metas)
        if step % 20 == 19:
            _check(columns, metas, filters, schema)
    _check(columns, metas, filters, schema)
    if compact_min == 0:
        assert min(calls.values()) >= 5, calls
    columns.remove_many(list(metas))
    assert len(columns) == 0
    assert all(columns.matching(parse_filter(f, schema, "f")).size == 0 for f in filters)


# ----------------------------------------------------------------------------- numbers beyond 2**53


@pytest.mark.parametrize("stored", [2.0**60, 1e300, 2020])
def test_filter_numbers_beyond_2_53_are_compared_exactly(stored: float) -> None:
    """A filter integer no float64 equals: eq never matches, ranges round the right way (Python compares exactly)."""
    metas = {1: {"n": stored}, 2: {"n": -stored}, 3: {"n": 0}, 4: {}}
    columns = MetadataColumns()
    columns.load(metas.items())
    big = int(stored)
    for value in (big - 1, big, big + 1, -big - 1, -big + 1, 2**70 + 1, 10**400, -(10**400)):
        flts = [{"n": value}, {"n": {"in": [value, 0]}}, {"n": {"ne": value}}]
        flts += [{"n": {op: value}} for op in ("gt", "gte", "lt", "lte")]
        _check(columns, metas, flts, {"n": "number"})


def test_stored_integers_beyond_2_53_fall_back_to_sql() -> None:
    """float64 cannot hold 2**53 + 1: value tests on that field raise NotExact; exists, other fields still answer."""
    metas = {1: {"n": 2**53 + 1, "t": "a"}, 2: {"n": 2**53, "t": "b"}, 3: {"t": "a"}}
    columns = MetadataColumns()
    columns.load(metas.items())
    schema = {"n": "number", "t": "string"}
    for flt in ({"n": 2**53}, {"n": {"gt": 5}}, {"n": {"in": [1]}}, {"t": "a", "not": {"n": {"lt": 0}}}):
        tree = parse_filter(flt, schema, "f")
        assert not columns.exact(tree)
        with pytest.raises(NotExact):
            columns.matching(tree)
    _check(columns, metas, [{"n": {"exists": True}}, {"t": "a"}, {"n": {"exists": False}, "t": "a"}], schema)
    columns.upsert(1, {"n": 3, "t": "a"})  # the big integer is gone: exact again
    metas[1] = {"n": 3, "t": "a"}
    _check(columns, metas, [{"n": 2**53}, {"n": {"gt": 5}}, {"n": {"lte": 3}}], schema)


# ----------------------------------------------------------------------------- the cache against SQL


def _sql_and_cache(settings: Settings, cache: FilterColumnsCache, filters: list[dict[str, Any]]) -> list[np.ndarray | None]:
    """Each filter through the cache (at the current head) and in SQL; asserts they agree, returns the cache's answers."""
    db = Database(settings.resolved_database_url)
    answers = []
    try:
        with db.sessions() as s:
            collection = get_collection(s, "f")
            head = max_change_id(s, collection.id)
            for flt in filters:
                tree = parse_filter(flt, collection.metadata_schema, "f")
                got = cache.ids(s, collection, head, tree)
                sql = np.sort(filtered_ids(s, collection, flt))
                if got is not None:
                    assert got.tolist() == sql.tolist(), flt
                answers.append(got)
            assert cache.change_id(collection.id) == head
    finally:
        db.dispose()
    return answers


def _post(client: TestClient, docs: list[dict[str, Any]]) -> None:
    r = client.post("/collections/f/documents", json={"documents": docs})
    assert r.status_code == 200, r.text


def test_cache_follows_sql_through_the_change_log(client: TestClient, settings: Settings) -> None:
    docs = _documents()
    assert client.post("/collections", json={"name": "f"}).status_code == 201
    _post(client, docs)
    db = Database(settings.resolved_database_url)
    cache = FilterColumnsCache(db)
    try:
        assert all(a is not None for a in _sql_and_cache(settings, cache, FILTERS))
        assert (cache.loads, cache.catch_ups) == (1, 0)

        rng = random.Random(5)
        changed = [{"external_id": d["external_id"], "text": d["text"], "metadata": _typed(rng, d["metadata"])} for d in docs[::3]]
        _post(client, changed + [{"external_id": f"new{i}", "text": "fresh note", "metadata": _typed(rng, {})} for i in range(8)])
        for d in docs[1::7]:
            assert client.delete(f"/collections/f/documents/{d['external_id']}").status_code == 204
        _post(client, [{"external_id": docs[1]["external_id"], "text": "back again", "metadata": {"topic": "news", "tags": ["x"]}}])

        assert all(a is not None for a in _sql_and_cache(settings, cache, FILTERS + EXTRA))
        assert (cache.loads, cache.catch_ups) == (1, 1)  # caught up once, not reloaded
        assert all(a is not None for a in _sql_and_cache(settings, cache, FILTERS[:3]))
        assert cache.catch_ups == 1  # up to date: no SQL at all

        with db.sessions() as s:
            collection = get_collection(s, "f")
        cache.forget(collection.id)
        assert cache.change_id(collection.id) is None
        _sql_and_cache(settings, cache, FILTERS[:3])
        assert cache.loads == 2
    finally:
        db.dispose()


def _typed(rng: random.Random, meta: dict[str, Any]) -> dict[str, Any]:
    """New metadata of the collection's types (the schema refuses another type): values changed, fields dropped or added."""
    new = dict(meta)
    if new:
        new.pop(rng.choice(sorted(new)))
    new["year"] = rng.choice([2016, 2020, 2021.0, 2024.5, None])
    new["topic"] = rng.choice(["sport", "apple", "aardvark", "Émile", "news"])
    if rng.random() < 0.5:
        new["tags"] = rng.sample(["goal", "rain", "x", 7, True, 1, None, ["x"], {"k": "x"}], k=rng.randint(0, 4))
    if rng.random() < 0.5:
        new["draft"] = rng.random() < 0.5
    if rng.random() < 0.3:
        new["extra"] = {"k": 1}
    return new


def test_cache_readers_in_threads_agree(client: TestClient, settings: Settings) -> None:
    """Threads asking at once (one loads, the rest wait for it or read the loaded copy) all get SQL's answer."""
    assert client.post("/collections", json={"name": "f"}).status_code == 201
    _post(client, _documents())
    db = Database(settings.resolved_database_url)
    cache = FilterColumnsCache(db)
    errors: list[BaseException] = []
    try:
        with db.sessions() as s:
            collection = get_collection(s, "f")
            head = max_change_id(s, collection.id)
            trees: list[Node] = [parse_filter(f, collection.metadata_schema, "f") for f in FILTERS]
            expected = [np.sort(filtered_ids(s, collection, f)).tolist() for f in FILTERS]

        def ask() -> None:
            try:
                for tree, want in zip(trees, expected):
                    got = cache.ids(None, collection, head, tree)  # each thread its own session, from cache.db
                    assert got is not None and got.tolist() == want
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert cache.loads == 1
    finally:
        db.dispose()


def test_cache_falls_back_on_stored_integers_beyond_2_53(client: TestClient, settings: Settings) -> None:
    """SQL holds 2**53 + 1 exactly, float64 cannot: the cache answers None for value tests (SQL decides), exactly otherwise."""
    assert client.post("/collections", json={"name": "f"}).status_code == 201
    _post(client, [
        {"external_id": "big", "text": "a note", "metadata": {"n": 2**53 + 1, "t": "a"}},
        {"external_id": "near", "text": "a note", "metadata": {"n": 2**53, "t": "b"}},
        {"external_id": "small", "text": "a note", "metadata": {"n": 7, "t": "a"}},
    ])
    cache = FilterColumnsCache()
    value_tests = [{"n": 2**53}, {"n": {"gt": 2**53}}, {"n": {"in": [7]}}, {"t": "a", "n": {"lt": 10}}]
    answers = _sql_and_cache(settings, cache, value_tests + [{"n": {"exists": True}}, {"t": "a"}])
    assert answers[: len(value_tests)] == [None] * len(value_tests)
    assert all(a is not None for a in answers[len(value_tests) : len(value_tests) + 2])
    assert client.delete("/collections/f/documents/big").status_code == 204
    answers = _sql_and_cache(settings, cache, value_tests + [{"n": {"gt": 2**70}}, {"n": {"lte": 2**53 + 1}}])
    assert all(a is not None for a in answers)  # the big integer is gone: answered in memory, and equal to SQL


def test_cache_needs_a_session_or_a_database() -> None:
    with pytest.raises(ValueError):
        FilterColumnsCache().ids(None, type("C", (), {"id": 1, "name": "f"})(), 0, parse_filter({}, {}, "f"))


def test_background_load_answers_none_until_loaded(client: TestClient, settings: Settings) -> None:
    """With background_load the first query goes to SQL (None) while a thread loads; later ones are answered in memory."""
    assert client.post("/collections", json={"name": "f"}).status_code == 201
    _post(client, _documents())
    db = Database(settings.resolved_database_url)
    cache = FilterColumnsCache(db, background_load=True)
    try:
        with db.sessions() as s:
            collection = get_collection(s, "f")
            head = max_change_id(s, collection.id)
        tree = parse_filter(FILTERS[3], collection.metadata_schema, "f")
        assert cache.ids(None, collection, head, tree) is None
        assert cache.wait_loaded(collection.id, timeout=60)
        assert cache.loads == 1
        assert _sql_and_cache(settings, cache, FILTERS)
        assert cache.loads == 1

        warm = FilterColumnsCache()
        warm.warm(db, collection)
        assert warm.change_id(collection.id) == head and warm.loads == 1
    finally:
        db.dispose()


def test_small_batches_and_reload_on_a_big_catch_up(client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads page by id (7 rows a read here); a catch-up over more changed documents than the limit reloads instead."""
    monkeypatch.setattr(filter_cache, "LOAD_BATCH", 7)
    monkeypatch.setattr(filter_cache, "ID_CHUNK", 5)
    docs = _documents()
    assert client.post("/collections", json={"name": "f"}).status_code == 201
    _post(client, docs)
    cache = FilterColumnsCache()
    _sql_and_cache(settings, cache, FILTERS)
    rng = random.Random(9)
    _post(client, [{"external_id": d["external_id"], "text": d["text"], "metadata": _typed(rng, d["metadata"])} for d in docs[:5]])
    _sql_and_cache(settings, cache, FILTERS)  # 5 changes: under the limit (7), applied in chunks of 5
    assert (cache.loads, cache.catch_ups) == (1, 1)
    _post(client, [{"external_id": d["external_id"], "text": d["text"], "metadata": _typed(rng, d["metadata"])} for d in docs[5:40]])
    _sql_and_cache(settings, cache, FILTERS + EXTRA)
    assert (cache.loads, cache.catch_ups) == (2, 1)


def test_a_repeated_filter_is_answered_once_until_the_columns_change(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers are remembered per collection while its columns stay as they are: shared, read-only, and never
    served after a write (the next answer is SQL's again)."""
    docs = _documents()
    assert client.post("/collections", json={"name": "f"}).status_code == 201
    _post(client, docs)
    db = Database(settings.resolved_database_url)
    cache = FilterColumnsCache(db)
    evaluated: list[Node] = []
    original = MetadataColumns.matching

    def counted(self: MetadataColumns, node: Node) -> np.ndarray:
        evaluated.append(node)
        return original(self, node)

    monkeypatch.setattr(MetadataColumns, "matching", counted)
    try:
        first = _sql_and_cache(settings, cache, FILTERS[:4])
        again = _sql_and_cache(settings, cache, FILTERS[:4])
        assert len(evaluated) == 4 and all(a is b for a, b in zip(first, again))
        assert all(a is not None and not a.flags.writeable for a in again)
        with pytest.raises(ValueError):
            again[0][:1] = 0  # a caller cannot spoil what the next one gets

        changed = [{"external_id": d["external_id"], "text": d["text"], "metadata": {"topic": "news"}} for d in docs[:5]]
        _post(client, changed)
        after = _sql_and_cache(settings, cache, FILTERS[:4])  # equal to SQL after the write (asserted inside)
        assert len(evaluated) == 8 and not any(a is b for a, b in zip(first, after))

        monkeypatch.setattr(filter_cache, "RESULT_BYTES", 4 * max(a.nbytes for a in after if a is not None))
        with db.sessions() as s:
            cache.forget(get_collection(s, "f").id)
        _sql_and_cache(settings, cache, FILTERS)
        copy = next(iter(cache._copies.values()))
        assert copy.result_bytes <= filter_cache.RESULT_BYTES and len(copy.results) < len(FILTERS)
    finally:
        db.dispose()
