"""The one core behind every door: :class:`Vecdex`.

The HTTP routes, the command line, the benchmarks (and later a browser console
and a Python client) all call a ``Vecdex`` built once from settings; none of
them reaches the repository, the space runtimes or the job queue directly. Its
use cases take the request schemas and return the public schemas, so every
door validates, fails and answers alike.

Where things go: a new use case is a keyword-only method on one of the groups
(``collections``, ``documents``, ``spaces``, ``jobs``, ``queries``,
``interactions``, ``recommend``, ``evaluations``), each in its own module here;
the HTTP route and the CLI command that expose it are one-liners calling it.
"""

from .core import Core
from .vecdex import Vecdex

__all__ = ["Core", "Vecdex"]
