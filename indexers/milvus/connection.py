"""Which Milvus to talk to, one client per URI per process, and engine errors as vecdex errors.

Where the data goes (``resolve_uri``), first match wins:

1. ``IndexSpec.milvus_uri`` -- a space pinned to its own Milvus;
2. ``EngineOptions.milvus_uri`` -- the deployment's Milvus (the service passes
   ``VECDEX_MILVUS_URI``, or ``<VECDEX_DATA_DIR>/milvus.db`` when unset);
3. the milvus-lite file ``milvus.db`` beside the index directory (in its
   parent), recomputed at every open so it moves with that parent. Only direct
   library use (tests, benchmarks) gets here: the service always passes 2.

A URI is either a Milvus server (``http://host:19530``, ``https://...``,
``tcp://...``) or a milvus-lite file (a path ending in ``.db``). milvus-lite
serves a file from a gRPC server thread started inside the process that opens
it, and locks the file: a second *process* cannot open the same ``.db``, so
several API processes must share a Milvus server, not a lite file.

Clients are cached per URI (``client_for``): milvus-lite starts one server per
file, and a real server wants one connection pool per process, not one per
index object. pymilvus clients are safe to share between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BackendUnavailable, IndexerError

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = [
    "DEFAULT_LITE_FILE",
    "MilvusUnavailable",
    "client_for",
    "engine_errors",
    "is_lite",
    "normalise_uri",
    "release_lite",
    "resolve_uri",
    "unavailable_reason",
]

DEFAULT_LITE_FILE = "milvus.db"
CONNECT_TIMEOUT_S = 10.0
_SERVER_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "unix:")

_CLIENTS: dict[str, MilvusClient] = {}
_LOCK = threading.Lock()


class MilvusUnavailable(BackendUnavailable):
    """Milvus cannot be reached or refused an operation for a reason of its own (503: retry or fix the server).

    A subclass of the factory's ``BackendUnavailable`` so callers that handle an
    engine being down handle this one too; ``code`` says which engine it was.
    """

    code = "index_unavailable"
    status = 503


def is_lite(uri: str) -> bool:
    """A milvus-lite file rather than a server address."""
    return not uri.startswith(_SERVER_SCHEMES)


def normalise_uri(uri: str) -> str:
    """Server URIs as given; a lite file as an absolute path (so two spellings share one client)."""
    if not is_lite(uri):
        return uri
    if not uri.endswith(".db"):
        raise IndexerError(
            f"milvus_uri {uri!r} is neither a server address (http://host:19530) nor a milvus-lite file ending in .db",
            field="index.milvus_uri",
        )
    return str(Path(uri).expanduser().resolve())


def resolve_uri(spec_uri: str | None, option_uri: str | None, directory: Path) -> str:
    """The URI an index uses: spec, else engine options, else ``<directory>/../milvus.db`` (see module doc)."""
    uri = spec_uri or option_uri or str(Path(directory).expanduser().resolve().parent / DEFAULT_LITE_FILE)
    return normalise_uri(uri)


def client_for(uri: str) -> MilvusClient:
    """The process's client for ``uri`` (created on first use; a lite file's directory is created).

    Raises:
        MilvusUnavailable: pymilvus / milvus-lite missing, or the server cannot be reached.
    """
    uri = normalise_uri(uri)
    with _LOCK:
        client = _CLIENTS.get(uri)
        if client is not None:
            return client
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise MilvusUnavailable(f"pymilvus is not installed: {exc}", field="index.backend") from exc
        if is_lite(uri):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        with engine_errors(f"connecting to Milvus at {uri}"):
            client = MilvusClient(uri=uri, timeout=CONNECT_TIMEOUT_S)
        _CLIENTS[uri] = client
        return client


def release_lite(uri: str) -> None:
    """Close this process's client for a lite file and stop its server thread (the file stays).

    What a restart does to a lite file; the next ``client_for`` starts it again.
    Only for lite files: a server's client is simply dropped from the cache.
    """
    uri = normalise_uri(uri)
    with _LOCK:
        client = _CLIENTS.pop(uri, None)
    if client is not None:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - closing a dead connection must not mask anything
            pass
    if is_lite(uri):
        from milvus_lite import server_manager_instance

        server_manager_instance.release_server(uri)


@contextmanager
def engine_errors(action: str) -> Iterator[None]:
    """Turn pymilvus / gRPC failures into ``MilvusUnavailable`` naming what was being done.

    vecdex's own errors pass through untouched, so validation stays a 422.
    """
    try:
        yield
    except IndexerError:
        raise
    except Exception as exc:  # pymilvus raises MilvusException, grpc RpcError, or plain errors from lite
        if not _is_engine_error(exc):
            raise
        raise MilvusUnavailable(f"Milvus failed while {action}: {exc}", field="index") from exc


def _is_engine_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("pymilvus", "grpc", "milvus_lite")) or isinstance(exc, (ConnectionError, TimeoutError))


_availability: str | None | bool = False  # False: not probed yet


def unavailable_reason() -> str | None:
    """None when pymilvus and milvus-lite import and a lite server starts here; else why not.

    Probed once per process (a throwaway lite file in a temporary directory),
    because "installed" is not "works": milvus-lite starts a gRPC server thread
    and may fail to bind or to load its native index library.
    """
    global _availability
    if _availability is not False:
        return _availability  # type: ignore[return-value]
    _availability = _probe()
    return _availability


def _probe() -> str | None:
    try:
        import pymilvus  # noqa: F401
    except ImportError as exc:
        return f"pymilvus is not installed ({exc}); pip install pymilvus"
    try:
        import milvus_lite  # noqa: F401
    except ImportError as exc:
        return f"milvus-lite is not installed ({exc}); pip install milvus-lite"
    import tempfile

    tmp = tempfile.mkdtemp(prefix="vecdex-milvus-probe-")
    uri = str(Path(tmp) / "probe.db")
    try:
        client = client_for(uri)
        client.list_collections()
    except Exception as exc:  # noqa: BLE001 - any failure to start is the reason to report
        return f"milvus-lite could not start here: {exc}"
    finally:
        try:
            release_lite(uri)
        except Exception:  # noqa: BLE001
            pass
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return None

