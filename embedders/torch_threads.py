"""torch's intra-op thread count for one call of one space, under the process-wide lock.

Why shared by the torch families (bert, bilstm): ``torch.set_num_threads`` is one
setting of the whole process, so a family that sets it for its own call must do
so under the same lock as every other torch-backed call, and put the previous
count back, or a concurrent call of another space runs at this one's setting.
The lock serialises torch inference across spaces and threads; on CPU concurrent
forward passes would only share the same cores.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["torch_threads"]

_TORCH_THREADS = threading.Lock()


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with torch at ``threads`` intra-op threads, then restore the previous count."""
    import torch

    with _TORCH_THREADS:
        before = torch.get_num_threads()
        if before != threads:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
