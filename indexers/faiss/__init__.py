"""The FAISS engine: one ``FaissIndex`` per space, snapshots in its directory.

Modules, one reason to change each: ``ids`` (positions <-> document ids, the
lock), ``kinds`` (``auto`` sizing, IVF list rules, FAISS constructors),
``threads`` (OpenMP budget), ``snapshot`` (manifest and files on disk),
``index`` (:class:`FaissIndex`), ``backend`` (what the factory registers).
Importing this package imports FAISS; ``indexers`` itself does not.
"""

from __future__ import annotations

from .backend import BACKEND, FaissBackend
from .index import FaissIndex
from .kinds import choose_kind
from .threads import set_faiss_threads

__all__ = ["BACKEND", "FaissBackend", "FaissIndex", "choose_kind", "set_faiss_threads"]
