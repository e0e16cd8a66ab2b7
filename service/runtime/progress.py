"""Progress sinks: a tqdm bar for the command line, and fan-out to several sinks.

Both implement :class:`embedders.base.Progress` (``start`` / ``advance``) and its
optional :class:`embedders.base.ReportsMetrics` extra (``note``): that is the one
progress type of vecdex, used by embedders, indexers and the service alike.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

from embedders.base import Progress, note_metrics

PLAIN_INTERVAL_S = 10.0
"""Seconds between two plain progress lines of one phase (a log file or CI, not a terminal)."""


class TqdmProgress:
    """One bar per phase ("train", "embed", "index") on stderr when it is a terminal; else plain lines.

    A bar redrawn in place is noise in a file or a CI log, and tqdm hides itself there: a two-minute
    tune piped to a file said nothing. Off a terminal each phase prints a line when it starts, one
    every :data:`PLAIN_INTERVAL_S` seconds (done/total, percent, rate, the latest metrics) and one when
    it ends. ``disable=True`` silences both.
    """

    def __init__(self, label: str = "", disable: bool | None = None, *, stream: TextIO | None = None,
                 interval: float = PLAIN_INTERVAL_S) -> None:
        self._label = label
        self._bar: tqdm | None = None
        self._disable = disable
        self._stream = stream
        self._plain: _PlainLines | None = None
        self._interval = interval

    def start(self, phase: str, total: int) -> None:
        self.close()
        desc = f"{self._label} {phase}".strip()
        stream = self._stream or sys.stderr
        if self._disable is None and not _is_terminal(stream):
            self._plain = _PlainLines(desc, total, stream, self._interval)
            return
        self._bar = tqdm(total=total, desc=desc, unit="", dynamic_ncols=True, disable=self._disable, file=stream)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)
        elif self._plain is not None:
            self._plain.advance(n)

    def note(self, **metrics: float | int | str) -> None:
        shown = {k: f"{v:.4g}" if isinstance(v, float) else str(v) for k, v in metrics.items()}
        if self._bar is not None:
            self._bar.set_postfix(shown, refresh=False)
        elif self._plain is not None:
            self._plain.metrics.update(shown)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._plain is not None:
            self._plain.finish()
            self._plain = None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: not a terminal
        return False


class _PlainLines:
    """One phase's progress as periodic lines: ``label phase: 120/350 (34%), 41.2/s, loss=1.23``."""

    def __init__(self, desc: str, total: int, stream: TextIO, interval: float) -> None:
        self.desc, self.total, self.stream, self.interval = desc, total, stream, interval
        self.done = 0
        self.metrics: dict[str, str] = {}
        self.started = self.last = time.monotonic()
        self._line(f"{desc}: started, {total} to do")

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.interval and self.done < self.total:
            self.last = now
            self._line(self._status(now))

    def finish(self) -> None:
        self._line(self._status(time.monotonic()) + " - done")

    def _status(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        percent = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        extra = "".join(f", {k}={v}" for k, v in self.metrics.items())
        return f"{self.desc}: {self.done}/{self.total}{percent}, {self.done / elapsed:.1f}/s, {elapsed:.1f} s{extra}"

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


class FanOut:
    """Report to several sinks; a sink that raises (a cancelled job) stops the work."""

    def __init__(self, *sinks: Progress) -> None:
        self._sinks = sinks

    def start(self, phase: str, total: int) -> None:
        for sink in self._sinks:
            sink.start(phase, total)

    def advance(self, n: int = 1) -> None:
        for sink in self._sinks:
            sink.advance(n)

    def note(self, **metrics: float | int | str) -> None:
        """Optional on sinks: those without ``note`` just don't show metrics."""
        for sink in self._sinks:
            note_metrics(sink, **metrics)
