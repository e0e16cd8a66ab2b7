"""Progress sinks: a tqdm bar for the command line, and fan-out to several sinks.

Both implement :class:`embedders.base.Progress` (``start`` / ``advance``) and its
optional :class:`embedders.base.ReportsMetrics` extra (``note``): that is the one
progress type of vecdex, used by embedders, indexers and the service alike.
"""

from __future__ import annotations

from tqdm import tqdm

from embedders.base import Progress, note_metrics


class TqdmProgress:
    """One bar per phase ("train", "embed", "index"), on stderr."""

    def __init__(self, label: str = "", disable: bool | None = None) -> None:
        self._label = label
        self._bar: tqdm | None = None
        self._disable = disable

    def start(self, phase: str, total: int) -> None:
        self.close()
        desc = f"{self._label} {phase}".strip()
        self._bar = tqdm(total=total, desc=desc, unit="", dynamic_ncols=True, disable=self._disable)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def note(self, **metrics: float | int | str) -> None:
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in metrics.items()}, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


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
