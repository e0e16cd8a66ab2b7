"""Logging for every vecdex process: text or JSON lines, each carrying the request id of the request it serves.

:func:`configure_logging` is called by the app (``install_observability``)
and by the standalone worker. It puts one handler on the project's loggers
(``vecdex.*``, where the access log and the job log go, and the packages'
own ``service.*``, ``indexers.*`` and ``embedders.*`` module loggers) at
``VECDEX_LOG_LEVEL``, formatting as ``VECDEX_LOG_FORMAT`` says. Records still
propagate to the root logger: under uvicorn nothing is configured there (so
no line is printed twice), and test tools that listen on the root (pytest's
``caplog``) see them.

The request id comes from a context variable set by the request middleware;
a log record factory copies it onto every record as ``request_id``, so any
line logged while a request is being served, by any module, carries it
without passing it around.
"""

from __future__ import annotations

import logging
import sys
import threading
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from ..settings import Settings

REQUEST_ID: ContextVar[str | None] = ContextVar("vecdex_request_id", default=None)
"""The id of the request being served in this context (None outside requests: the worker, the CLI)."""

APP_LOGGERS = ("vecdex", "service", "indexers", "embedders")
"""The loggers :func:`configure_logging` configures (each with its children)."""

TEXT_EXTRAS = ("route", "duration_ms", "job_type", "collection", "space", "error_code")
"""Extra record fields the text format appends as ``key=value`` (those its messages do not already say;
JSON emits every extra)."""

_factory_lock = threading.Lock()
_factory_installed = False


def _iso_time(record: logging.LogRecord) -> str:
    """UTC, ISO 8601 with milliseconds: sortable, and unambiguous across hosts and time zones."""
    return datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """``time level logger [request_id] message key=value ...``: for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (stdlib name)
        return _iso_time(record)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (stdlib name)
        request_id = getattr(record, "request_id", None) or "-"
        extras = "".join(
            f" {key}={getattr(record, key)}" for key in TEXT_EXTRAS if getattr(record, key, None) is not None
        )
        return f"{record.asctime} {record.levelname} {record.name} [{request_id}] {record.message}{extras}"


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, request_id, then the record's extras."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (stdlib name)
        return _iso_time(record)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is at each record (like logging's last-resort handler), so
    replacing stderr later (test capture, a daemoniser) never leaves it writing to a closed stream."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        """Ignored: StreamHandler.setStream and __init__ assign it, but the stream is always the current stderr."""


def _install_request_id_factory() -> None:
    """Make every new log record carry ``request_id`` (once per process: the factory is global)."""
    global _factory_installed
    with _factory_lock:
        if _factory_installed:
            return
        base = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = base(*args, **kwargs)
            record.request_id = REQUEST_ID.get()
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


def log_level(name: str) -> int:
    """The numeric level of ``VECDEX_LOG_LEVEL`` (a name such as INFO, or a number); ValueError names the bad one."""
    value = logging.getLevelName(name.strip().upper()) if not name.strip().isdigit() else int(name)
    if not isinstance(value, int):
        raise ValueError(f"VECDEX_LOG_LEVEL={name!r} is not a logging level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return value


def configure_logging(settings: Settings) -> None:
    """Format the project's loggers as ``settings`` say; calling it again replaces the previous setup."""
    level = log_level(settings.log_level)
    _install_request_id_factory()
    handler = _StderrHandler()
    handler.setFormatter(JsonLineFormatter() if settings.log_format == "json" else TextFormatter())
    handler.vecdex = True  # type: ignore[attr-defined]  # marks ours, so a second call replaces it
    for name in APP_LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "vecdex", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
