"""The Milvus engine: one Milvus collection per space generation, pymilvus as the client.

Modules, one reason to change each: ``connection`` (which URI, one client per
URI, engine errors, availability), ``collection`` (schema, index and search
settings, the checkpoint property), ``scan`` (reading rows back, exact top-k
in numpy), ``manifest`` (the index directory's one file), ``index``
(:class:`MilvusIndex`), ``backend`` (what the factory registers).

No module imports pymilvus at import time (only inside the calls that talk to
Milvus), so the factory can load this package and ask ``BACKEND.available()``
on a machine without it.
"""

from __future__ import annotations

from .backend import BACKEND, MilvusBackend
from .connection import MilvusUnavailable
from .index import MilvusIndex

__all__ = ["BACKEND", "MilvusBackend", "MilvusIndex", "MilvusUnavailable"]
