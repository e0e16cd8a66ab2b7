"""The Milvus engine as the factory sees it (``indexers.factory`` registers ``BACKEND`` as "milvus").

One Milvus collection per space generation, named ``IndexLocation.name``
(the service's ``vecdex_s<space>_g<generation>``), at the URI
:func:`.connection.resolve_uri` picks (spec, else engine options, else a
milvus-lite file beside the index directory). The index directory holds only
the manifest (:mod:`.manifest`); data and checkpoint are in Milvus.

Importing this module imports neither pymilvus nor milvus-lite, so the
factory can always load it and ask :meth:`MilvusBackend.available`, which
says why the engine cannot run here (not installed, or milvus-lite fails to
start) -- the contract test skips the backend with that reason.

Kind sizing (``auto``, IVF list counts, the training-data minimum) follows
the same rules as FAISS, imported from :mod:`indexers.faiss.kinds`, so one
spec means the same index shape on either engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embedders.base import NullProgress, Progress

from ..base import ConcreteKind, IndexSpec, Metric
from ..errors import IndexFileError
from ..factory import EngineOptions, IndexLocation
from ..faiss import kinds as sizing
from ..validation import check_ids, check_space, check_vectors
from . import collection as col
from .connection import client_for, engine_errors, resolve_uri, unavailable_reason
from .index import MilvusIndex
from .manifest import Manifest, read_manifest, write_manifest

__all__ = ["BACKEND", "MilvusBackend"]


class MilvusBackend:
    """Creates, bulk-builds, opens and drops :class:`MilvusIndex` collections (every kind and metric)."""

    name = "milvus"
    kinds: tuple[ConcreteKind, ...] = ("flat", "hnsw", "ivf")
    metrics: tuple[Metric, ...] = ("cosine", "ip", "l2")

    def available(self) -> str | None:
        return unavailable_reason()

    def create(self, spec: IndexSpec, dim: int, metric: Metric, location: IndexLocation) -> MilvusIndex:
        """An empty collection. ``auto`` becomes ``flat`` (nothing to size by, as for FAISS); an
        explicit ``ivf`` gets ``ivf_nlist`` or Milvus's default 128 lists (Milvus trains each
        segment's lists when it seals, so an IVF can start empty)."""
        check_space(dim, metric)
        kind: ConcreteKind = "flat" if spec.kind == "auto" else spec.kind
        nlist = (spec.ivf_nlist or col.EMPTY_IVF_NLIST) if kind == "ivf" else None
        return self._new(spec, dim, metric, kind, nlist, location)

    def build(
        self,
        spec: IndexSpec,
        dim: int,
        metric: Metric,
        ids: np.ndarray,
        vectors: np.ndarray,
        location: IndexLocation,
        progress: Progress | None = None,
    ) -> MilvusIndex:
        """A collection holding ``vectors``: ``auto`` sized by ``len(ids)`` and IVF lists chosen as
        FAISS does, inserted in chunks (progress phase ``"index"``), then flushed and waited on until
        Milvus has indexed every row (it builds in the background), so the first search is fast.

        Raises:
            InsufficientTrainingData: an explicit ``ivf`` with fewer than 39 vectors per list.
            InvalidIds / DimensionMismatch / InvalidVectors: bad input (nothing is created).
            MilvusUnavailable: Milvus failed (the half-made collection is dropped).
        """
        check_space(dim, metric)
        ids = check_ids(ids, field="ids", unique=True)
        vectors = check_vectors(vectors, dim, metric, len(ids))
        n = len(ids)
        auto = spec.kind == "auto"
        kind: ConcreteKind = sizing.choose_kind(n) if auto else spec.kind
        nlist = None
        if kind == "ivf":
            nlist = sizing.ivf_nlist(spec, n, auto=auto)
            sizing.require_training_data(spec, nlist, n)
        index = self._new(spec, dim, metric, kind, nlist, location)
        progress = progress or NullProgress()
        progress.start("index", n)
        try:
            index.insert_new(ids, vectors, progress)
            with engine_errors(f"flushing {index.name!r}"):
                client_for(index.uri).flush(index.name)
            col.wait_for_index(client_for(index.uri), index.name)
        except BaseException:
            col.drop_collection(client_for(index.uri), index.name)
            raise
        return index

    def open(self, directory: Path, options: EngineOptions) -> MilvusIndex:
        """The collection named by ``directory``'s manifest, with the checkpoint Milvus holds for it.

        Raises:
            IndexFileError: no valid manifest, or its collection no longer exists at the URI.
            MilvusUnavailable: Milvus cannot be reached.
        """
        manifest = read_manifest(Path(directory))
        uri = resolve_uri(manifest.spec.milvus_uri, options.milvus_uri, Path(directory))
        client = client_for(uri)
        info = col.describe_existing(client, manifest.name, uri)
        dim = col.collection_dim(info)
        if dim is not None and dim != manifest.dim:
            raise IndexFileError(
                f"Milvus collection {manifest.name!r} has dimension {dim}, the manifest in {directory} says "
                f"{manifest.dim}: another index took the name; rebuild the space",
                field="index",
            )
        return MilvusIndex(client=client, uri=uri, manifest=manifest, checkpoint=col.read_checkpoint(info))

    def drop(self, directory: Path, options: EngineOptions) -> None:
        """Drop the collection (and so its checkpoint); quiet if it or its manifest is already gone."""
        try:
            manifest = read_manifest(Path(directory))
        except Exception:  # noqa: BLE001 - no readable manifest: nothing of ours to drop
            return
        uri = resolve_uri(manifest.spec.milvus_uri, options.milvus_uri, Path(directory))
        col.drop_collection(client_for(uri), manifest.name)

    def _new(
        self,
        spec: IndexSpec,
        dim: int,
        metric: Metric,
        kind: ConcreteKind,
        nlist: int | None,
        location: IndexLocation,
    ) -> MilvusIndex:
        """Create the collection, then write the manifest at once (so ``destroy`` can find it)."""
        name = col.check_name(location.name)
        uri = resolve_uri(spec.milvus_uri, location.options.milvus_uri, location.directory)
        client = client_for(uri)
        col.create_collection(client, name, dim=dim, metric=metric, kind=kind, spec=spec, nlist=nlist)
        manifest = Manifest(name=name, dim=int(dim), metric=metric, kind=kind, nlist=nlist, spec=spec, uri=uri)
        try:
            write_manifest(location.directory, manifest)
        except BaseException:
            col.drop_collection(client, name)
            raise
        return MilvusIndex(client=client, uri=uri, manifest=manifest, checkpoint=0)


BACKEND = MilvusBackend()
