"""Bulk INSERT / UPDATE / DELETE at driver speed for the write path (documents, change rows, stored vectors).

Why not the ORM: a unit of work costs tens of microseconds per object (instance
state, events, identity map, flush bookkeeping), which made ingest 10x slower
than the database itself. Why not Core ``insert()`` with a parameter list: on
SQLite, ``RETURNING`` in parameter order makes SQLAlchemy fall back to one
statement per row, and its per-row bind processing (a datetime formatted for
every row) is most of what is left.

So this module renders its own statements from the table metadata, one shape
per dialect, and hands the driver plain values:

* SQLite: multi-row ``INSERT ... VALUES (?, ...), (?, ...)`` in chunks (with
  ``RETURNING`` where asked; SQLite >= 3.35), ``executemany`` for UPDATE
  (sqlite3 loops in C), ``IN (SELECT value FROM json_each(?))`` for DELETE and
  lookups (:func:`in_values`), ``INSERT OR REPLACE`` (executemany) for a
  replacement by primary key (:func:`replace_rows`). Values go through the column
  type's own bind processor for the dialect (JSON serialised as SQLAlchemy
  does, a datetime formatted as SQLite's ``DateTime`` stores it), so a row
  written here reads back exactly like one the ORM wrote.
* PostgreSQL: one statement per call whatever the row count, each column sent
  as one array parameter and expanded with ``unnest(...) WITH ORDINALITY``
  (``INSERT ... SELECT ... ORDER BY ordinality``, with ``ON CONFLICT (key) DO
  UPDATE`` for a replacement, ``UPDATE ... FROM unnest``, ``DELETE ... =
  ANY(...)``). psycopg parses a query with thousands of placeholders slowly in
  Python, and a handful of array parameters avoids it
  and the server's per-row statement overhead alike. JSON goes as text cast to
  ``jsonb``; strings are cast to ``text`` (a cast to ``varchar(n)`` would
  silently truncate; the column's own type still refuses an overlong value).

A value the same for every row (the collection id, the batch's timestamp) is a
"constant": converted once, sent once. Rows are inserted in the order given,
so generated ids increase in input order (the change log relies on it);
callers that map returned ids back to their rows return a natural key with
them, so nothing depends on the order a database returns ``RETURNING`` rows in.

Everything runs on the session's connection, in the caller's transaction: all
or nothing, like the ORM path it replaced.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Table, Text, any_, bindparam, func, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON, DateTime, Integer, LargeBinary, String

INSERT_CHUNK_PARAMS = 30_000
"""Most bound parameters in one SQLite statement (its limit is 32,766)."""

INSERT_CHUNK_ROWS = 1_000
"""Most rows in one SQLite INSERT (longer statements gain nothing)."""

Processor = Callable[[Any], Any] | None
Row = tuple[Any, ...]


def _connection(session: Session) -> Any:
    """The session's connection, after flushing what the session holds (an ORM row added just before, such
    as the space a vector belongs to, must exist first: the ORM path autoflushed the same way)."""
    session.flush()
    return session.connection()


def _is_postgresql(dialect: Dialect) -> bool:
    return dialect.name == "postgresql"


def _quote(dialect: Dialect, name: str) -> str:
    return dialect.identifier_preparer.quote(name)


def _names(dialect: Dialect, names: Sequence[str]) -> str:
    return ", ".join(_quote(dialect, n) for n in names)


def _impl(column: Column[Any], dialect: Dialect) -> Any:
    """The column's type for this dialect (variants such as JSON -> JSONB resolved)."""
    return column.type.dialect_impl(dialect)


def _processor(column: Column[Any], dialect: Dialect) -> Processor:
    return _impl(column, dialect).bind_processor(dialect)


def convert_value(column: Column[Any], dialect: Dialect, value: Any) -> Any:
    """One Python value as the driver gets it for ``column`` (what SQLAlchemy would bind)."""
    proc = _processor(column, dialect)
    return value if proc is None else proc(value)


def _convert_columns(table: Table, names: Sequence[str], dialect: Dialect, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The rows as columns of SQLite driver values, each column through its type's bind processor."""
    out: list[list[Any]] = []
    for name, values in zip(names, zip(*rows)):
        if isinstance(_impl(table.c[name], dialect), LargeBinary):
            # sqlite3 binds bytes as a BLOB itself; the type's processor only wraps each in a memoryview
            # (sqlite3.Binary), a Python call per stored vector for the same bytes on disk.
            out.append(list(values))
            continue
        proc = _processor(table.c[name], dialect)  # called for None too, as SQLAlchemy does (JSON null)
        out.append(list(values) if proc is None else [proc(v) for v in values])
    return out


# --- PostgreSQL: one array parameter per column ----------------------------------------------------


def _pg_type(column: Column[Any], dialect: Dialect) -> str:
    """The element type a column's array parameter is cast to (never a length-limited one)."""
    impl = _impl(column, dialect)
    if isinstance(impl, JSON):
        return "jsonb" if impl.compile(dialect=dialect).upper() == "JSONB" else "json"
    if isinstance(impl, String):
        return "text"
    if isinstance(impl, LargeBinary):
        return "bytea"
    if isinstance(impl, Integer):
        return "bigint"
    if isinstance(impl, DateTime):
        return "timestamptz" if impl.timezone else "timestamp"
    return str(impl.compile(dialect=dialect))


def _pg_values(column: Column[Any], dialect: Dialect, values: Sequence[Any]) -> list[Any]:
    """A column's values for its array parameter: JSON as text (cast to jsonb by the server), the rest as is."""
    if isinstance(_impl(column, dialect), JSON):
        dumps = getattr(dialect, "_json_serializer", None) or json.dumps
        return [dumps(v) for v in values]  # None too: JSON null, as SQLAlchemy's JSON type binds it
    return list(values)


def _pg_unnest(table: Table, dialect: Dialect, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """``unnest(%s::t1[], %s::t2[], ...) WITH ORDINALITY AS u(c1, c2, ..., ord)`` and its array parameters."""
    columns = [table.c[n] for n in names]
    arrays = [_pg_values(c, dialect, list(v)) for c, v in zip(columns, zip(*rows))]
    # %b: psycopg sends the arrays in binary, element by element, instead of quoting each into array text.
    casts = ", ".join(f"%b::{_pg_type(c, dialect)}[]" for c in columns)
    alias = ", ".join(f"c{i}" for i in range(len(names)))
    return f"unnest({casts}) WITH ORDINALITY AS u({alias}, ord)", arrays


def _pg_constants(table: Table, dialect: Dialect, constants: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    """``CAST(%s AS type)`` per constant, and the values."""
    exprs = [f"CAST(%s AS {_pg_type(table.c[n], dialect)})" for n in constants]
    values = [_pg_values(table.c[n], dialect, [v])[0] for n, v in constants.items()]
    return exprs, values


# --- the operations ------------------------------------------------------------------------------


def insert_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    constants: Mapping[str, Any] | None = None,
    returning: Sequence[str] = (),
) -> list[Row]:
    """INSERT ``rows`` (tuples in ``columns`` order), each with the ``constants`` (column -> one value).

    Rows are inserted in the given order (ids increase along it). Returns the
    ``returning`` columns of the inserted rows as the driver gives them (ask
    only for ids and plain strings), in no promised order.
    """
    if not rows:
        return []
    constants = dict(constants or {})
    dialect = session.get_bind().dialect
    connection = _connection(session)
    names = [*columns, *constants]
    tail = f" RETURNING {_names(dialect, returning)}" if returning else ""
    head = f"INSERT INTO {_quote(dialect, table.name)} ({_names(dialect, names)}) "
    if _is_postgresql(dialect):
        source, arrays = _pg_unnest(table, dialect, columns, rows)
        exprs, fixed = _pg_constants(table, dialect, constants)
        picked = ", ".join([*(f"u.c{i}" for i in range(len(columns))), *exprs])
        sql = f"{head}SELECT {picked} FROM {source} ORDER BY u.ord{tail}"
        # The constants' placeholders come first in the statement (the select list), the arrays after (FROM).
        result = connection.exec_driver_sql(sql, (*fixed, *arrays))
        return [tuple(r) for r in result] if returning else []
    fixed_row = tuple(convert_value(table.c[n], dialect, v) for n, v in constants.items())
    if len(columns) == 1 and not returning and _processor(table.c[columns[0]], dialect) is None:
        # One plain column (change rows: a document id each): one JSON array parameter expanded by SQLite in
        # C, in array order (``key`` is the position), instead of a statement execution per row.
        marks = ", ".join(["?"] * len(constants))
        picked = f"value, {marks}" if constants else "value"
        sql = f"{head}SELECT {picked} FROM json_each(?) ORDER BY key"
        connection.exec_driver_sql(sql, (*fixed_row, json.dumps([r[0] for r in rows])))
        return []
    params = [tuple(r) + fixed_row for r in zip(*_convert_columns(table, columns, dialect, rows))]
    group = "(" + ", ".join(["?"] * len(names)) + ")"
    per_chunk = max(1, min(INSERT_CHUNK_ROWS, INSERT_CHUNK_PARAMS // len(names)))
    out: list[Row] = []
    if not returning:  # sqlite3 prepares the statement once and loops in C
        connection.exec_driver_sql(f"{head}VALUES {group}", params)
        return out
    for start in range(0, len(params), per_chunk):
        chunk = params[start : start + per_chunk]
        sql = f"{head}VALUES {', '.join([group] * len(chunk))}{tail}"
        result = connection.exec_driver_sql(sql, tuple(v for row in chunk for v in row))
        out.extend(tuple(r) for r in result)
    return out


def replace_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    constants: Mapping[str, Any],
    key: Sequence[str],
) -> None:
    """INSERT ``rows`` (with the ``constants``), a row whose ``key`` (the primary key) already exists replaced.

    The same end state as DELETE of those keys then INSERT, in one statement rather than two: SQLite
    ``INSERT OR REPLACE`` (executemany, sqlite3 loops in C), PostgreSQL ``INSERT ... SELECT unnest ...
    ON CONFLICT (key) DO UPDATE`` with one array parameter per column. Only for a table that no foreign
    key references (SQLite's REPLACE deletes the old row) and whose only unique constraint is ``key``.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    connection = _connection(session)
    names = [*columns, *constants]
    if _is_postgresql(dialect):
        source, arrays = _pg_unnest(table, dialect, columns, rows)
        exprs, fixed = _pg_constants(table, dialect, constants)
        picked = ", ".join([*(f"u.c{i}" for i in range(len(columns))), *exprs])
        updates = ", ".join(f"{_quote(dialect, n)} = EXCLUDED.{_quote(dialect, n)}" for n in names if n not in key)
        sql = (
            f"INSERT INTO {_quote(dialect, table.name)} ({_names(dialect, names)}) SELECT {picked} FROM {source} "
            f"ORDER BY u.ord ON CONFLICT ({_names(dialect, key)}) DO UPDATE SET {updates}"
        )
        connection.exec_driver_sql(sql, (*fixed, *arrays))
        return
    fixed_row = tuple(convert_value(table.c[n], dialect, v) for n, v in constants.items())
    params = [tuple(r) + fixed_row for r in zip(*_convert_columns(table, columns, dialect, rows))]
    group = "(" + ", ".join(["?"] * len(names)) + ")"
    connection.exec_driver_sql(
        f"INSERT OR REPLACE INTO {_quote(dialect, table.name)} ({_names(dialect, names)}) VALUES {group}", params
    )


def update_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    key: str,
    rows: Sequence[Sequence[Any]],
    *,
    constants: Mapping[str, Any] | None = None,
) -> None:
    """``UPDATE table SET columns = ..., constants = ... WHERE key = ...`` per row (``columns`` values, then the key).

    Keys are unique (a primary key): each row updates its own record.
    """
    if not rows:
        return
    constants = dict(constants or {})
    dialect = session.get_bind().dialect
    connection = _connection(session)
    target = _quote(dialect, table.name)
    if _is_postgresql(dialect):
        names = [*columns, key]
        source, arrays = _pg_unnest(table, dialect, names, rows)
        exprs, fixed = _pg_constants(table, dialect, constants)
        sets = [f"{_quote(dialect, n)} = u.c{i}" for i, n in enumerate(columns)]
        sets += [f"{_quote(dialect, n)} = {e}" for n, e in zip(constants, exprs)]
        sql = (
            f"UPDATE {target} SET {', '.join(sets)} FROM {source} "
            f"WHERE {target}.{_quote(dialect, key)} = u.c{len(columns)}"
        )
        # The constants' placeholders come first in the statement (SET), the arrays after (FROM).
        connection.exec_driver_sql(sql, (*fixed, *arrays))
        return
    fixed_row = tuple(convert_value(table.c[n], dialect, v) for n, v in constants.items())
    assignments = ", ".join(f"{_quote(dialect, n)} = ?" for n in [*constants, *columns])
    sql = f"UPDATE {target} SET {assignments} WHERE {_quote(dialect, key)} = ?"
    params = [fixed_row + tuple(r) for r in zip(*_convert_columns(table, [*columns, key], dialect, rows))]
    connection.exec_driver_sql(sql, params)


def delete_in(session: Session, table: Table, where: Mapping[str, Any], column: str, values: Sequence[Any]) -> int:
    """``DELETE FROM table WHERE where... AND column IN (values)``; returns the rows deleted."""
    if not len(values):
        return 0
    dialect = session.get_bind().dialect
    connection = _connection(session)
    target = _quote(dialect, table.name)
    if _is_postgresql(dialect):
        exprs, fixed = _pg_constants(table, dialect, where)
        tests = [f"{_quote(dialect, n)} = {e}" for n, e in zip(where, exprs)]
        tests.append(f"{_quote(dialect, column)} = ANY(%b::{_pg_type(table.c[column], dialect)}[])")
        sql = f"DELETE FROM {target} WHERE {' AND '.join(tests)}"
        return connection.exec_driver_sql(sql, (*fixed, list(values))).rowcount or 0
    fixed_row = [convert_value(table.c[n], dialect, v) for n, v in where.items()]
    tests = [f"{_quote(dialect, n)} = ?" for n in where]
    tests.append(f"{_quote(dialect, column)} IN (SELECT value FROM json_each(?))")  # see in_values
    sql = f"DELETE FROM {target} WHERE {' AND '.join(tests)}"
    return connection.exec_driver_sql(sql, (*fixed_row, json.dumps(list(values)))).rowcount or 0


def in_values(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """``column IN (values)`` as the dialect reads a long list fastest.

    PostgreSQL: ``column = ANY(%s)`` with one array parameter (psycopg parses a query of a
    thousand placeholders slowly in Python). SQLite: ``column IN (SELECT value FROM
    json_each(?))``, one JSON text parameter parsed in C, instead of a statement of a
    thousand placeholders compiled anew each time (and no 32,766-parameter limit).
    Only for values JSON writes as their SQL equal: strings and integers.
    """
    values = list(values)
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        element = _impl(column, session.get_bind().dialect) if isinstance(column, Column) else column.type
        array = ARRAY(Text() if isinstance(element, String) else BigInteger())
        return column == any_(bindparam(None, values, type_=array))
    if name == "sqlite":
        each = select(text("value")).select_from(func.json_each(bindparam(None, json.dumps(values), type_=Text())))
        return column.in_(each)
    return column.in_(values)
