"""``python -m service.cli``: the tests that start a real server, and the benchmarks, run it this way."""

from . import app

app()
