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


def _plot(panels: dict[str, dict[str, Any]], xlabel: str, path: Path) -> bool:
    """Log-log panels side by side, a line per series; False (and no file) without data."""
    if not panels:
        return False
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels.items(), strict=True):
        for label, points in series.items():
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", label=label)
        ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="median time (s)", title=title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="x-small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def _panels(benches: Sequence[Bench], kind: str, panel_key: str) -> list[str]:
    """The values of ``panel_key`` among benchmarks of ``kind``, in order of first appearance."""
    values = [b["extra_info"].get(panel_key) for b in benches if b.get("extra_info")]
    kinds = [b["extra_info"].get("bench") for b in benches if b.get("extra_info")]
    return list(dict.fromkeys(str(v) for v, k in zip(values, kinds, strict=True) if k == kind))


def write_plots(benches: Sequence[Bench], out_dir: Path) -> list[str]:
    """Write the PNGs into ``out_dir``; return their file names."""
    written = []
    network = {
        layers: _series(
            [b for b in benches if str(b["extra_info"].get("layers")) == layers],
            "network",
            "m",
            "impl",
            "dtype",
        )
        for layers in _panels(benches, "network", "layers")
    }
    if _plot(network, "batch size m", out_dir / "network_time_vs_batch.png"):
        written.append("network_time_vs_batch.png")
    checker = {"gradient checks": _series(benches, "checker", "P", "impl", "method")}
    if checker["gradient checks"] and _plot(
        checker, "parameters P", out_dir / "checker_time_vs_P.png"
    ):
        written.append("checker_time_vs_P.png")
    return written
