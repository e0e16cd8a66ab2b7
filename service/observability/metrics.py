"""The process's Prometheus metrics: what requests, searches, jobs and embedding did in this process.

The metric objects live here, in one module that imports nothing but
``prometheus_client``, so the query path, the vector pipeline and the job
worker can record into them without importing FastAPI or SQL. They are
registered in :data:`REGISTRY`, a registry of vecdex's own rather than the
library's global default: the counters are per process either way, and a
private registry keeps other libraries' metrics (and anything a test or an
embedding application registers globally) out of ``/metrics``.

Counters are per process. The job metrics are recorded by the process whose
worker ran the job: the API process's ``/metrics`` has them with the embedded
worker (``vecdex serve``), not for jobs a standalone ``vecdex worker`` ran
(nothing serves that process's metrics). The queue as every worker left it is
exported from the jobs table at scrape time instead (``vecdex_jobs_by_status``):
SQL is the one place all workers write, so that gauge is the truer one across
processes, while these histograms keep the durations SQL would have to
recompute from every finished row at each scrape.

What is stored in SQL and on disk (documents, vectors, index bytes, the job
queue) is not recorded here: it is read at scrape time by each app's
collector (:mod:`.state`), which an app combines with this registry when it
answers ``/metrics`` (see :func:`scrape`). Several apps in one process (the
test suite builds hundreds) therefore share these counters and never register
anything twice.
"""

from __future__ import annotations

from typing import Any

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# Label values of "method" are capped to these (anything else is "OTHER"): a client choosing arbitrary
# method names must not be able to create series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "vecdex_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "vecdex_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method and route template.",
    ("method", "route"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
SEARCH_DURATION = Histogram(
    "vecdex_search_duration_seconds",
    "Searches: resolve and catch up the space, embed the query, search the index, hydrate the hits.",
    ("collection", "space", "index_kind", "backend"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "vecdex_job_duration_seconds",
    "Jobs run by a worker of this process, from start to recorded outcome.",
    ("type", "outcome"),
    buckets=(1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0),
    registry=REGISTRY,
)
JOBS = Counter(
    "vecdex_jobs_total",
    "Jobs run by a worker of this process, by type and outcome (succeeded, failed, cancelled).",
    ("type", "outcome"),
    registry=REGISTRY,
)
EMBEDDED_DOCUMENTS = Counter(
    "vecdex_embedded_documents_total",
    "Texts embedded by a family's model (vectors reused from SQL or taken from training are not counted).",
    ("family",),
    registry=REGISTRY,
)
EMBED_SECONDS = Counter(
    "vecdex_embed_seconds_total",
    "Seconds spent embedding those texts; rate(documents) / rate(seconds) is the embedding throughput.",
    ("family",),
    registry=REGISTRY,
)


def http_method(method: str) -> str:
    """The method as a label value: one of :data:`HTTP_METHODS`, else ``OTHER``."""
    return method if method in HTTP_METHODS else "OTHER"


_children: dict[tuple[Any, ...], Any] = {}
"""Labelled series already made, by (metric, *labels): ``labels()`` validates and locks on every call,
which on a cheap search was a measurable share of the request (these metrics are never cleared)."""


def _child(metric: Any, *labels: str) -> Any:
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request (``route`` is the matched template, never the raw path)."""
    label = http_method(method)
    _child(HTTP_REQUESTS, label, route, str(status)).inc()
    _child(HTTP_DURATION, label, route).observe(seconds)


def observe_search(collection: str, space: str, index_kind: str, backend: str, seconds: float) -> None:
    """One search that answered (failed ones show up as request statuses instead)."""
    _child(SEARCH_DURATION, collection, space, index_kind, backend).observe(seconds)


def observe_job(job_type: str, outcome: str, seconds: float) -> None:
    """One job run to its outcome by this process's worker."""
    JOBS.labels(job_type, outcome).inc()
    JOB_DURATION.labels(job_type, outcome).observe(seconds)


def observe_embedding(family: str, documents: int, seconds: float) -> None:
    """``documents`` texts embedded by ``family`` in ``seconds`` (nothing recorded for none)."""
    if documents > 0:
        EMBEDDED_DOCUMENTS.labels(family).inc(documents)
        EMBED_SECONDS.labels(family).inc(seconds)


class _WithProcess:
    """This process's metrics followed by one app's scrape-time collector, as one collector."""

    def __init__(self, extra: Collector) -> None:
        self._extra = extra

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()
        yield from self._extra.collect()


def app_registry(state: Collector) -> CollectorRegistry:
    """A registry of one app's own: the process metrics plus ``state`` (read at scrape time).

    Nothing is registered in :data:`REGISTRY` per app, so building many apps in one
    process cannot clash; the combined collector has no ``describe``, so registering
    it does not run a scrape (no SQL at app start).
    """
    registry = CollectorRegistry()
    registry.register(_WithProcess(state))
    return registry


def scrape(registry: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text format."""
    return generate_latest(registry)
