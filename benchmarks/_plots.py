"""The report's plots, each implementation drawn the same way in every panel and every run.

- ``network_time_vs_batch.png``: time against batch size m, a panel per width and dtype, with
  the matrix-product floor dashed and a band from Q1 to Q3 around every median;
- ``network_ratios.png``: torch / ours and loop / ours (above 1, ours is faster) and the matmul
  share (floor / ours, at most 1) against m;
- ``checker_time_vs_P.png``: seconds per parameter against P for every check that records P:
  the checker group, the full checks, batched evaluation and the peer checkers;
- ``checker_ratios.png``: each peer checker's time over ours at the same P and method.

A median the report calls unreliable is drawn as a hollow marker.

Colours and line styles come from `STYLES` by implementation name, and unknown names get a
colour from a hash of the name, so a series keeps its look across panels and runs. Importing
this module imports matplotlib (with the Agg backend); `benchmarks.report` catches the
ImportError and writes the Markdown without plots.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from benchmarks._stats import Bench, Conditions, info, natural_key, stat, trust

__all__ = ["STYLES", "style", "write_plots"]

STYLES: dict[str, dict[str, Any]] = {
    "vectorized": {"color": "tab:blue", "linestyle": "-", "marker": "o"},
    "matmul": {"color": "black", "linestyle": "--", "marker": ""},
    "loop": {"color": "tab:red", "linestyle": "-.", "marker": "s"},
    "torch": {"color": "tab:orange", "linestyle": ":", "marker": "^"},
    "check_gradient": {"color": "tab:blue", "linestyle": "-", "marker": "o"},
    "numerical_gradient": {"color": "tab:cyan", "linestyle": "-", "marker": "."},
    "structured": {"color": "tab:blue", "linestyle": "-", "marker": "*"},
    "plain": {"color": "tab:purple", "linestyle": "-", "marker": "D"},
    "scipy.check_grad": {"color": "tab:green", "linestyle": "-.", "marker": "v"},
    "scipy": {"color": "tab:green", "linestyle": "-.", "marker": "v"},
    "torch.gradcheck": {"color": "tab:orange", "linestyle": ":", "marker": "^"},
    "unbatched": {"color": "tab:gray", "linestyle": "-", "marker": "o"},
    "batched": {"color": "tab:blue", "linestyle": "-", "marker": "s"},
    "threads": {"color": "tab:brown", "linestyle": ":", "marker": "x"},
    "threads+batched": {"color": "tab:pink", "linestyle": ":", "marker": "+"},
}
"""Implementation name -> matplotlib line options; the floor ("matmul") is the dashed line."""

_PALETTE = ("tab:olive", "tab:purple", "tab:brown", "tab:pink", "tab:cyan", "tab:gray")
_DASHES = ("-", "--", "-.", ":")
_METHOD_MARKERS = {"forward": "v", "central": "o", "complex": "s", "richardson": "D"}


def style(name: str) -> dict[str, Any]:
    """The line options of an implementation: from `STYLES`, else fixed by a hash of the name."""
    if name in STYLES:
        return dict(STYLES[name])
    digest = zlib.crc32(name.encode())
    return {"color": _PALETTE[digest % len(_PALETTE)],
            "linestyle": _DASHES[(digest // 7) % len(_DASHES)], "marker": "o"}


Point = tuple[float, float, float | None, float | None, bool]  # x, median, q1, q3, reliable


def _points(benches: Sequence[Bench], x: Callable[[Bench], Any],
            y: Callable[[Bench], float | None] | None = None) -> list[Point]:
    """(x, y, q1, q3) per benchmark, sorted by x; y is the median unless given."""
    found = []
    for bench in benches:
        x_value, median = x(bench), (y or (lambda b: stat(b, "median")))(bench)
        if x_value is None or median is None:
            continue
        scale = median / (stat(bench, "median") or median) if y else 1.0
        q1, q3 = stat(bench, "q1"), stat(bench, "q3")
        rounds = int(bench.get("stats", {}).get("rounds") or 0)
        band = (q1 * scale, q3 * scale) if q1 is not None and q3 is not None and rounds > 2 else (
            None, None)
        found.append((float(x_value), median, *band, not bench.get("unreliable")))
    return sorted(found)


def _draw(ax: Any, label: str, points: list[Point], options: dict[str, Any]) -> None:
    """A line of medians with its Q1–Q3 band; an unreliable median is a hollow marker."""
    if not points:
        return
    xs = [p[0] for p in points]
    ax.plot(xs, [p[1] for p in points], label=label, markevery=[p[4] for p in points],
            **options)
    hollow = [p for p in points if not p[4]]
    if hollow and options.get("marker"):
        ax.plot([p[0] for p in hollow], [p[1] for p in hollow], linestyle="none",
                marker=options["marker"], markerfacecolor="none", color=options["color"])
    banded = [p for p in points if p[2] is not None]
    if len(banded) > 1:
        ax.fill_between([p[0] for p in banded], [p[2] for p in banded],
                        [p[3] for p in banded], color=options["color"], alpha=0.15, linewidth=0)


def _finish(figure: Any, axes: Any, path: Path) -> None:
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels collide
        if ax.get_legend_handles_labels()[0]:  # below the panel: never over the data
            ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def _kind(benches: Sequence[Bench], kind: str) -> list[Bench]:
    return [b for b in benches if info(b).get("bench") == kind]


def _network_panels(benches: Sequence[Bench]) -> dict[tuple[str, str], list[Bench]]:
    panels: dict[tuple[str, str], list[Bench]] = {}
    for bench in _kind(benches, "network"):
        key = (str(info(bench).get("layers")), str(info(bench).get("dtype")))
        panels.setdefault(key, []).append(bench)
    order = sorted(panels, key=lambda k: (k[1] != "float64", natural_key(k[0])))
    return {k: panels[k] for k in order}


def _by(benches: Sequence[Bench], key: str) -> dict[str, list[Bench]]:
    found: dict[str, list[Bench]] = {}
    for bench in benches:
        found.setdefault(str(info(bench).get(key)), []).append(bench)
    return {k: found[k] for k in sorted(found, key=natural_key)}


def _grid(count: int, columns: int = 3) -> tuple[Any, list[Any]]:
    rows = max(1, -(-count // columns))
    figure, axes = plt.subplots(rows, min(columns, count), figsize=(5 * min(columns, count),
                                4.2 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_visible(False)
    return figure, flat[:count]


def _network_time(benches: Sequence[Bench], path: Path) -> bool:
    panels = _network_panels(benches)
    if not panels:
        return False
    figure, axes = _grid(len(panels))
    for ax, ((layers, dtype), members) in zip(axes, panels.items(), strict=True):
        for impl, series in _by(members, "impl").items():
            _draw(ax, impl, _points(series, lambda b: info(b).get("m")), style(impl))
        ax.set(xscale="log", yscale="log", xlabel="batch size m", ylabel="median time (s)",
               title=f"{layers} {dtype}")
    _finish(figure, axes, path)
    return True


def _over(ours: Sequence[Bench], *keys: str) -> Callable[[Bench], float | None]:
    """A benchmark's median over that of the one of ``ours`` with the same ``keys`` values."""
    medians = {tuple(info(b).get(k) for k in keys): stat(b, "median") for b in ours}

    def ratio(bench: Bench) -> float | None:
        mine = medians.get(tuple(info(bench).get(k) for k in keys))
        median = stat(bench, "median")
        return None if not mine or median is None else median / mine

    return ratio


def _network_ratios(benches: Sequence[Bench], path: Path) -> bool:
    panels = _network_panels(benches)
    if not panels:
        return False
    figure, axes = _grid(len(panels))
    for ax, ((layers, dtype), members) in zip(axes, panels.items(), strict=True):
        impls = _by(members, "impl")
        ratio = _over(impls.get("vectorized", []), "m")
        for impl, label in (("torch", "torch / ours"), ("loop", "loop / ours"),
                            ("matmul", "matmul share (floor / ours)")):
            _draw(ax, label, _points(impls.get(impl, []), lambda b: info(b).get("m"), ratio),
                  style(impl))
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set(xscale="log", yscale="log", xlabel="batch size m", ylabel="time over ours (a share: "
               "at most 1)", title=f"{layers} {dtype}")
    _finish(figure, axes, path)
    return True


def _per_parameter(b: Bench) -> float | None:
    median, size = stat(b, "median"), info(b).get("P")
    return None if median is None or not size else median / float(size)


_PANEL_TITLES = {"checker": "check_gradient and peers (plain f)",
                 "full-check": "full check of an MLP", "batched": "batched evaluation"}
_SIZE_MARKERS = ("o", "s", "^", "D", "v", "P")


def _label(extra: dict[str, Any]) -> str:
    impl = str(extra.get("impl") or extra.get("path") or extra.get("checker") or "?")
    detail = extra.get("method") or extra.get("function") or ""
    if extra.get("m"):
        detail = f"{detail} m={extra['m']}"
    return f"{impl} {detail}".strip()


def _checker_panels(benches: Sequence[Bench]) -> dict[str, dict[str, list[Bench]]]:
    """Panel title -> label -> benchmarks, for every check that records P (threads left out)."""
    panels: dict[str, dict[str, list[Bench]]] = {}
    for bench in benches:
        extra = info(bench)
        kind = str(extra.get("bench") or bench.get("group"))
        if extra.get("P") is None or kind in ("network", "predict", "train"):
            continue
        if "threads" in str(extra.get("path", "")):
            continue  # the tables have them; the plot keeps one thread
        title = _PANEL_TITLES.get(kind, kind)
        panels.setdefault(title, {}).setdefault(_label(extra), []).append(bench)
    order = [t for t in _PANEL_TITLES.values() if t in panels]
    order += sorted((t for t in panels if t not in order), key=natural_key)
    return {t: {k: panels[t][k] for k in sorted(panels[t], key=natural_key)} for t in order}


def _line_style(label: str, members: list[Bench], index: int) -> dict[str, Any]:
    extra = info(members[0])
    options = style(str(extra.get("impl") or extra.get("path") or extra.get("checker") or label))
    if extra.get("method") in _METHOD_MARKERS:
        options["marker"] = _METHOD_MARKERS[extra["method"]]
    elif extra.get("path"):
        options["marker"] = _SIZE_MARKERS[index % len(_SIZE_MARKERS)]
    return options


def _checker_time(benches: Sequence[Bench], path: Path) -> bool:
    panels = _checker_panels(benches)
    if not panels:
        return False
    figure, axes = _grid(len(panels))
    for ax, (title, series) in zip(axes, panels.items(), strict=True):
        for index, (label, members) in enumerate(series.items()):
            points = _points(members, lambda b: info(b).get("P"), _per_parameter)
            _draw(ax, label, points, _line_style(label, members, index))
        ax.set(xscale="log", yscale="log", xlabel="parameters P", ylabel="seconds per parameter",
               title=title)
    _finish(figure, axes, path)
    return True


def _checker_ratios(benches: Sequence[Bench], path: Path) -> bool:
    checks = _kind(benches, "checker")
    ours = [b for b in checks if info(b).get("impl") == "check_gradient"]
    peers = [b for b in checks if info(b).get("impl") not in ("check_gradient",
                                                               "numerical_gradient")]
    if not peers or not ours:
        return False
    ratio = _over(ours, "P", "method")

    figure, ax = plt.subplots(figsize=(6, 4.2))
    for impl, members in _by(peers, "impl").items():
        _draw(ax, f"{impl} / check_gradient", _points(members, lambda b: info(b).get("P"),
                                                       ratio), style(impl))
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set(xscale="log", xlabel="parameters P", ylabel="peer time / ours (above 1: ours faster)",
           title="peer checkers over check_gradient")
    _finish(figure, [ax], path)
    return True


def write_plots(
    benches: Sequence[Bench], out_dir: Path, conditions: Conditions | None = None
) -> list[str]:
    """Write the PNGs that have data into ``out_dir``; return their file names.

    Under ``conditions``, the medians of unreliable benchmarks are drawn as hollow markers.
    """
    if conditions is not None:
        benches = [{**b, "unreliable": not trust(b, conditions).reliable} for b in benches]
    plots = {
        "network_time_vs_batch.png": _network_time,
        "network_ratios.png": _network_ratios,
        "checker_time_vs_P.png": _checker_time,
        "checker_ratios.png": _checker_ratios,
    }
    return [name for name, draw in plots.items() if draw(benches, out_dir / name)]
