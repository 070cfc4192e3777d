"""The report's plots: time against batch size, and the checker's time against P (log scales).

Importing this module imports matplotlib (with the Agg backend); `benchmarks.report` catches the
ImportError and writes the Markdown without plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["write_plots"]

Bench = dict[str, Any]


def _series(benches: Sequence[Bench], kind: str, x_key: str, *label_keys: str) -> dict[str, Any]:
    """{label: sorted [(x, median)]} for benchmarks of ``kind``, labelled by ``label_keys``."""
    series: dict[str, list[tuple[float, float]]] = {}
    for bench in benches:
        info = bench.get("extra_info", {})
        if info.get("bench") != kind or info.get(x_key) is None:
            continue
        label = " ".join(str(info.get(key)) for key in label_keys)
        series.setdefault(label, []).append((float(info[x_key]), float(bench["stats"]["median"])))
    return {label: sorted(points) for label, points in sorted(series.items())}


def _plot(series: dict[str, Any], xlabel: str, title: str, path: Path) -> bool:
    """One log-log figure with a line per series; False (and no file) when there is no data."""
    if not series:
        return False
    figure, axes = plt.subplots(figsize=(8, 5.5))
    for label, points in series.items():
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", label=label)
    axes.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="median time (s)", title=title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="x-small", ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_plots(benches: Sequence[Bench], out_dir: Path) -> list[str]:
    """Write the PNGs into ``out_dir``; return their file names."""
    written = []
    network = _series(benches, "network", "m", "layers", "dtype", "impl")
    if _plot(network, "batch size m", "cost and gradient", out_dir / "network_time_vs_batch.png"):
        written.append("network_time_vs_batch.png")
    checker = _series(benches, "checker", "P", "impl", "method")
    if _plot(checker, "parameters P", "gradient checks", out_dir / "checker_time_vs_P.png"):
        written.append("checker_time_vs_P.png")
    return written
