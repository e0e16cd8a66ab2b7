"""A PNG bar chart of evaluation metrics per space (matplotlib, headless Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np


def plot_metrics(title: str, rows: Mapping[str, Mapping[str, float | None]], path: Path) -> Path:
    """Grouped bars: one group per metric, one bar per space. Missing values are drawn as 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spaces = list(rows)
    names = list(dict.fromkeys(k for metrics in rows.values() for k in metrics))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(names) * max(1, len(spaces)) / 2 + 2), 4.5))
    width = 0.8 / max(1, len(spaces))
    x = np.arange(len(names))
    for i, space in enumerate(spaces):
        values = [rows[space].get(n) or 0.0 for n in names]
        bars = ax.bar(x + (i - (len(spaces) - 1) / 2) * width, values, width, label=space)
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    ax.set_xticks(x, names)
    ax.set_title(title)
    ax.set_ylabel("score")
    ax.legend(title="space")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path
