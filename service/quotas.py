"""Quotas on work: what one request may ask a worker to do, and how big one document's metadata may be.

Why here and not in the schemas: the limits are deployment settings
(``VECDEX_MAX_*``), and pydantic validators of the request schemas have no
settings. The spec schemas keep their own hard ranges (what the code can run
at all); these checks are the operator's tighter limits, applied by the facade
before anything is written, so every door (HTTP, CLI, file ingest, benchmarks)
refuses alike with a 422 naming the field, the value, the limit and the setting.

Spec caps are a table of *spec field name -> setting*, applied to any family's
spec that has that field, so a new family with an ``epochs`` or a ``dim`` is
capped without an edit here. The one exception is declared by capability, not
by family name: the ``dim`` of a family with ``given_vectors`` is the width of
the user's own vectors (computed elsewhere), not work asked of a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from embedders import registry
from embedders.base import EmbedderSpec
from embedders.capabilities import Capability

from .errors import MetadataTooLarge, QuotaExceeded, TooManyJobs
from .runtime.jobs import ACTIVE
from .schemas import DocumentIn
from .settings import Settings
from .store.models import Job


def _field(name: str) -> Callable[[EmbedderSpec], Any]:
    return lambda spec: getattr(spec, name)


def _filter_width(spec: EmbedderSpec) -> int:
    """The character CNN's width: the sum of its filter counts (bilstm ``filters``)."""
    return sum(count for _, count in spec.filters)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SpecQuota:
    """One capped spec field: ``measure`` reads the value from a spec that has ``field``."""

    field: str
    setting: str
    measure: Callable[[EmbedderSpec], Any]
    what: str = ""  # how the value is measured, when it is not the field itself
    exempt: Capability | None = None  # families with this capability are not capped on this field


SPEC_QUOTAS: tuple[SpecQuota, ...] = (
    # Vector width: memory and time of every training step and of the index.
    SpecQuota("dim", "max_dim", _field("dim"), exempt=Capability.GIVEN_VECTORS),
    SpecQuota("projection_dim", "max_dim", _field("projection_dim")),
    # Passes over the corpus (or sessions); doc2vec's infer_epochs are passes per embedded text.
    SpecQuota("epochs", "max_epochs", _field("epochs")),
    SpecQuota("infer_epochs", "max_epochs", _field("infer_epochs")),
    # Stacked layers and their width (bilstm).
    SpecQuota("num_layers", "max_layers", _field("num_layers")),
    SpecQuota("highway_layers", "max_layers", _field("highway_layers")),
    SpecQuota("hidden_dim", "max_hidden", _field("hidden_dim")),
    SpecQuota("filters", "max_hidden", _filter_width, what="the sum of its filter counts"),
    # Context pairs per token; softmax size; texts held in memory per forward pass.
    SpecQuota("window", "max_window", _field("window")),
    SpecQuota("max_size", "max_vocab", _field("max_size")),
    SpecQuota("batch_size", "max_batch_size", _field("batch_size")),
)
"""Every capped spec field; a spec without the field is not concerned."""


def env_name(setting: str) -> str:
    """The environment variable of a setting (``max_dim`` -> ``VECDEX_MAX_DIM``)."""
    return f"VECDEX_{setting.upper()}"


def check_spec(settings: Settings, spec: EmbedderSpec, *, prefix: str = "embedder",
               fields: Mapping[str, str] | None = None) -> None:
    """Raise :class:`QuotaExceeded` for the first spec field beyond its setting.

    ``fields`` may rename a field in the error (``{"epochs": "overrides.epochs"}`` when the value came
    from an override rather than the spec itself); others are named ``<prefix>.<field>``.
    """
    for quota in SPEC_QUOTAS:
        if quota.field not in type(spec).model_fields:
            continue
        if quota.exempt is not None and registry.has(spec, quota.exempt):
            continue
        limit: int = getattr(settings, quota.setting)
        value = quota.measure(spec)
        if value is not None and value <= limit:
            continue
        name = (fields or {}).get(quota.field, f"{prefix}.{quota.field}")
        shown = "null (no limit)" if value is None else (f"{value} ({quota.what})" if quota.what else str(value))
        raise QuotaExceeded(
            f"{name} is {shown}; this server allows at most {limit} ({env_name(quota.setting)})",
            field=name,
        )


def check_queued_jobs(session: Session, settings: Settings, *, collection_id: int, collection: str) -> None:
    """Raise :class:`TooManyJobs` when the collection already has ``max_queued_jobs`` jobs queued or running,
    so one client cannot fill the queue that every collection's builds wait in."""
    limit = settings.max_queued_jobs
    active = session.scalar(
        select(func.count(Job.id)).where(Job.collection_id == collection_id, Job.status.in_(ACTIVE))
    ) or 0
    if active >= limit:
        raise TooManyJobs(
            f"collection {collection!r} already has {active} jobs queued or running; this server allows at most "
            f"{limit} per collection ({env_name('max_queued_jobs')}): wait for one to finish or cancel one",
            field="collection",
        )


# --- metadata -------------------------------------------------------------------------------------


def _refuse(where: str, what: str, limit: int, setting: str) -> MetadataTooLarge:
    return MetadataTooLarge(f"{where} {what}; this server allows at most {limit} ({env_name(setting)})", field=where)


def _walk(settings: Settings, value: Any, where: str, depth: int, keys: list[int], top: str) -> None:
    """Depth (a container at the top is depth 1, as in :mod:`service.input_checks`), keys and string sizes."""
    if isinstance(value, str):
        size = len(value.encode("utf-8"))
        if size > settings.max_metadata_value_bytes:
            raise _refuse(where, f"is a string of {size} bytes", settings.max_metadata_value_bytes,
                          "max_metadata_value_bytes")
        return
    if not isinstance(value, (dict, list)):
        return
    if depth > settings.max_metadata_depth:
        raise _refuse(where, f"is nested {depth} levels deep", settings.max_metadata_depth, "max_metadata_depth")
    if isinstance(value, list):
        for i, item in enumerate(value):
            _walk(settings, item, f"{where}[{i}]", depth + 1, keys, top)
        return
    for key, item in value.items():
        keys[0] += 1
        if keys[0] > settings.max_metadata_keys:
            raise _refuse(top, f"has more than {settings.max_metadata_keys} keys (counting every level)",
                          settings.max_metadata_keys, "max_metadata_keys")
        size = len(key.encode("utf-8"))
        if size > settings.max_metadata_value_bytes:
            raise _refuse(f"{where}.{key[:40]}", f"is a key of {size} bytes", settings.max_metadata_value_bytes,
                          "max_metadata_value_bytes")
        _walk(settings, item, f"{where}.{key}", depth + 1, keys, top)


def document_field(i: int, field_prefix: str | None) -> str:
    """How errors name document ``i`` of a batch: ``documents[3]``, or the lone record's own prefix."""
    return field_prefix if field_prefix else f"documents[{i}]"


def check_metadata(settings: Settings, documents: Sequence[DocumentIn], *, field_prefix: str | None = None) -> None:
    """Raise :class:`MetadataTooLarge` for the first document whose metadata is beyond a limit: nested deeper
    than ``max_metadata_depth``, more than ``max_metadata_keys`` keys at all levels together, or a string
    (value or key) over ``max_metadata_value_bytes`` UTF-8 bytes."""
    for i, doc in enumerate(documents):
        if _flat_within(settings, doc.metadata):
            continue
        top = f"{document_field(i, field_prefix)}.metadata"
        _walk(settings, doc.metadata, top, 1, [0], top)


_SCALARS = (int, float, bool, type(None))
"""Exact types of metadata values with nothing to measure (pydantic gives plain JSON values)."""


def _flat_within(settings: Settings, metadata: Any) -> bool:
    """True if ``metadata`` is an object of plain values (no object or array inside) within every limit.

    The ingest hot path: most metadata is a flat object of short strings and numbers, checked here in
    one loop with no path strings and no recursion. Anything else, or anything over a limit, answers
    False and gets the full :func:`_walk`, which raises the one error it always did (this only ever
    says "nothing to refuse", so the messages cannot differ). A string of at most a quarter of the
    byte limit in characters is within it whatever it holds (UTF-8 takes at most 4 bytes a character),
    so only longer ones are encoded to be measured.
    """
    if type(metadata) is not dict or len(metadata) > settings.max_metadata_keys:
        return False
    limit = settings.max_metadata_value_bytes
    short = limit // 4
    for key, value in metadata.items():
        if len(key) > short and len(key.encode("utf-8")) > limit:
            return False
        kind = type(value)
        if kind is str:
            if len(value) > short and len(value.encode("utf-8")) > limit:
                return False
        elif kind not in _SCALARS:
            return False
    return True


def check_schema_growth(
    settings: Settings, schema: Mapping[str, str], documents: Sequence[DocumentIn], *, field_prefix: str | None = None
) -> None:
    """Raise :class:`MetadataTooLarge` if the batch would grow the collection's metadata schema (its top-level
    fields with a type; a null value fixes none) past ``max_schema_fields``, naming the first new field over."""
    limit = settings.max_schema_fields
    fields = set(schema)
    for i, doc in enumerate(documents):
        for key, value in doc.metadata.items():
            if value is None or key in fields:
                continue
            fields.add(key)
            if len(fields) > limit:
                where = f"{document_field(i, field_prefix)}.metadata.{key}"
                raise _refuse(
                    where, f"would be field number {len(fields)} of this collection's metadata schema", limit,
                    "max_schema_fields",
                )
