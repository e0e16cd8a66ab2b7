"""What the benchmarks record about the machine they ran on (one place, so every result says it alike)."""

from __future__ import annotations

import contextlib
import json
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what the platform says)."""
    with contextlib.suppress(OSError):  # not Linux: fall back to the platform's words
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown cpu"


def write_report(path: Path, report: dict) -> None:  # type: ignore[type-arg]
    """The results as indented JSON at ``path`` (folders made), and the line saying where they went."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path} ({report.get('wall_s', '?')} s)")
