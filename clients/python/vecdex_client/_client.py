"""``Client`` (sync) and ``AsyncClient``: the same methods, one sending with ``httpx.Client``, the
other with ``httpx.AsyncClient``.

Each method is a call function of :mod:`._calls` / :mod:`._query_calls` wrapped by
:func:`_sync` or :func:`_async`, so the signature (and docstring) a user sees is the call's own,
typed through ``ParamSpec``, and the two clients cannot drift apart: there is one definition of
every request. Only sending, and waiting for jobs (which sleeps), differ between them.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from . import _calls as c
from . import _query_calls as q
from ._errors import APIConnectionError, JobFailedError, WaitTimeout, error_from_response
from ._models import JobPublic

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 60.0


def _settings(base_url: str | None, api_key: str | None) -> tuple[str, dict[str, str]]:
    """``base_url`` and ``api_key``, or ``VECDEX_URL`` / ``VECDEX_API_KEY`` from the environment."""
    url = (base_url or os.environ.get("VECDEX_URL") or DEFAULT_URL).rstrip("/")
    key = api_key if api_key is not None else os.environ.get("VECDEX_API_KEY")
    return url, ({"Authorization": f"Bearer {key}"} if key else {})


def _request(call: c.Call[Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"params": call.params or None}
    if call.json is not None:
        kwargs["json"] = call.json
    return kwargs


def _answer(call: c.Call[T], response: httpx.Response) -> T:
    if response.status_code >= 400:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise error_from_response(response.status_code, body, response.headers)
    if response.status_code == 204 or not response.content:
        return call.read(None)
    return call.read(response.json())


def _job_done(job: JobPublic, started: float, timeout: float | None) -> bool:
    """True when the job succeeded; raises when it failed, was cancelled or the wait is over."""
    if job.status == "succeeded":
        return True
    if job.status in ("failed", "cancelled"):
        raise JobFailedError(job)
    if timeout is not None and time.monotonic() - started > timeout:
        raise WaitTimeout(f"job {job.id} still {job.status} after {timeout:g} s ({job.phase}: {job.done}/{job.total})", job)
    return False


def _shows_answer(method: Any, build: Callable[..., Any]) -> Any:
    """``help()`` and IDEs read the signature through ``__wrapped__`` (the call function, which returns
    a ``Call[X]``); the method returns ``X``, so its signature says so."""
    sig = inspect.signature(build)
    answer = sig.return_annotation
    if isinstance(answer, str) and answer.startswith("Call[") and answer.endswith("]"):
        answer = answer[len("Call["):-1]
    method.__signature__ = sig.replace(return_annotation=answer)
    return method


def _sync(build: Callable[P, c.Call[T]]) -> Callable[Concatenate[Client, P], T]:
    @functools.wraps(build)
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.send(build(*args, **kwargs))

    return _shows_answer(method, build)  # type: ignore[no-any-return]


def _async(build: Callable[P, c.Call[T]]) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    @functools.wraps(build)
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.send(build(*args, **kwargs))

    return _shows_answer(method, build)  # type: ignore[no-any-return]


class Client:
    """A vecdex server, synchronously. ``base_url`` defaults to ``VECDEX_URL`` (else
    http://127.0.0.1:8000), ``api_key`` to ``VECDEX_API_KEY`` (sent as ``Authorization: Bearer``).
    ``http_client``: an ``httpx.Client`` of your own (proxies, retries, an in-process ASGI app);
    the client then does not close it. Every refusal raises an :class:`APIError` subclass."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        url, auth = _settings(base_url, api_key)
        self._owned = http_client is None
        self._http = http_client or httpx.Client(base_url=url, timeout=timeout)
        self._headers = {**auth, **(headers or {})}

    def send(self, call: c.Call[T]) -> T:
        """Send one call and read its answer (the methods are this with their call built)."""
        try:
            response = self._http.request(call.method, call.path, headers=self._headers, **_request(call))
        except httpx.TransportError as exc:
            raise APIConnectionError(f"{call.method} {call.path}: {exc}") from exc
        return _answer(call, response)

    def wait_for_job(self, job_id: int, *, timeout: float | None = 600.0, poll: float = 0.2) -> JobPublic:
        """Poll a job until it succeeds (returned); raises JobFailedError or WaitTimeout."""
        started = time.monotonic()
        while True:
            job = self.get_job(job_id)
            if _job_done(job, started, timeout):
                return job
            time.sleep(poll)

    def to_async(self) -> AsyncClient:
        """An :class:`AsyncClient` on the same server, with the same key, headers and timeout."""
        timeout = self._http.timeout.read
        return AsyncClient(str(self._http.base_url), headers=self._headers,
                           timeout=DEFAULT_TIMEOUT if timeout is None else timeout)

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    health = _sync(c.health)
    ready = _sync(c.ready)
    list_collections = _sync(c.list_collections)
    create_collection = _sync(c.create_collection)
    get_collection = _sync(c.get_collection)
    delete_collection = _sync(c.delete_collection)
    upsert_documents = _sync(c.upsert_documents)
    list_documents = _sync(c.list_documents)
    get_document = _sync(c.get_document)
    fetch_documents = _sync(c.fetch_documents)
    patch_document = _sync(c.patch_document)
    delete_document = _sync(c.delete_document)
    delete_documents = _sync(c.delete_documents)
    create_space = _sync(c.create_space)
    list_spaces = _sync(c.list_spaces)
    get_space = _sync(c.get_space)
    delete_space = _sync(c.delete_space)
    rebuild_space = _sync(c.rebuild_space)
    set_default_space = _sync(c.set_default_space)
    get_job = _sync(c.get_job)
    list_jobs = _sync(c.list_jobs)
    cancel_job = _sync(c.cancel_job)
    search = _sync(q.search)
    hybrid = _sync(q.hybrid)
    compare = _sync(q.compare)
    similar = _sync(q.similar)
    embed = _sync(q.embed)
    document_vector = _sync(q.document_vector)
    ingest_interactions = _sync(q.ingest_interactions)
    recommend = _sync(q.recommend)
    recommend_for_user = _sync(q.recommend_for_user)
    similar_items = _sync(q.similar_items)


class AsyncClient:
    """The same API as :class:`Client`, with ``await``: every method is a coroutine."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        url, auth = _settings(base_url, api_key)
        self._owned = http_client is None
        self._http = http_client or httpx.AsyncClient(base_url=url, timeout=timeout)
        self._headers = {**auth, **(headers or {})}

    async def send(self, call: c.Call[T]) -> T:
        try:
            response = await self._http.request(call.method, call.path, headers=self._headers, **_request(call))
        except httpx.TransportError as exc:
            raise APIConnectionError(f"{call.method} {call.path}: {exc}") from exc
        return _answer(call, response)

    async def wait_for_job(self, job_id: int, *, timeout: float | None = 600.0, poll: float = 0.2) -> JobPublic:
        started = time.monotonic()
        while True:
            job = await self.get_job(job_id)
            if _job_done(job, started, timeout):
                return job
            await asyncio.sleep(poll)

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    health = _async(c.health)
    ready = _async(c.ready)
    list_collections = _async(c.list_collections)
    create_collection = _async(c.create_collection)
    get_collection = _async(c.get_collection)
    delete_collection = _async(c.delete_collection)
    upsert_documents = _async(c.upsert_documents)
    list_documents = _async(c.list_documents)
    get_document = _async(c.get_document)
    fetch_documents = _async(c.fetch_documents)
    patch_document = _async(c.patch_document)
    delete_document = _async(c.delete_document)
    delete_documents = _async(c.delete_documents)
    create_space = _async(c.create_space)
    list_spaces = _async(c.list_spaces)
    get_space = _async(c.get_space)
    delete_space = _async(c.delete_space)
    rebuild_space = _async(c.rebuild_space)
    set_default_space = _async(c.set_default_space)
    get_job = _async(c.get_job)
    list_jobs = _async(c.list_jobs)
    cancel_job = _async(c.cancel_job)
    search = _async(q.search)
    hybrid = _async(q.hybrid)
    compare = _async(q.compare)
    similar = _async(q.similar)
    embed = _async(q.embed)
    document_vector = _async(q.document_vector)
    ingest_interactions = _async(q.ingest_interactions)
    recommend = _async(q.recommend)
    recommend_for_user = _async(q.recommend_for_user)
    similar_items = _async(q.similar_items)
