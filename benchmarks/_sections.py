"""The report's detailed tables: network, checker, batched evaluation, and one per group.

Every value whose benchmark is unreliable (`benchmarks._stats.trust`) is printed in brackets with
the reason beside it; a matmul share above 100% is printed as a measurement fault; "× fastest"
only compares benchmarks of the same P; an IQR needs three rounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks._stats import (
    MIN_ROUNDS_FOR_SPREAD,
    Bench,
    Conditions,
    Trust,
    format_seconds,
    info,
    natural_key,
    sig3,
    stat,
    table,
    trust,
)

__all__ = ["batched_section", "checker_section", "group_sections", "network_rows",
           "network_section"]

IMPLS = ("vectorized", "matmul", "loop", "torch")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return None if numerator is None or not denominator else numerator / denominator


def _fmt(value: float | None, fmt: str, reliable: bool = True) -> str:
    """``value`` formatted, in brackets when it is not reliable, "–" when missing."""
    if value is None:
        return "–"
    text = {"s": format_seconds, "r": sig3}.get(fmt, lambda v: f"{v:{fmt}}")(value)
    return text if reliable else f"({text})"


def _index(benches: Sequence[Bench], kind: str, *keys: str) -> dict[tuple[Any, ...], Bench]:
    """Benchmarks whose extra_info has ``bench == kind``, by the extra_info values of ``keys``."""
    return {tuple(info(b).get(k) for k in keys): b for b in benches if info(b).get("bench") == kind}


def network_rows(
    benches: Sequence[Bench], conditions: Conditions | None = None
) -> list[dict[str, Any]]:
    """Per network case (layers, dtype, m) the medians of each implementation and the ratios.

    Keys: layers, dtype, m, flops, vectorized, matmul, loop, torch (medians in seconds or None),
    gflops (achieved by the vectorized version), matmul_gflops, matmul_fraction (matmul time
    over vectorized time), loop_ratio (loop / vectorized), torch_ratio (torch / vectorized),
    and ``trust`` per implementation (under ``conditions``, one thread on one core if None).
    """
    conditions = conditions or Conditions(cores=1, threads=1)
    found = _index(benches, "network", "layers", "dtype", "m", "impl")
    cases = sorted({key[:3] for key in found},
                   key=lambda c: (natural_key(c[0]), str(c[1]), natural_key(c[2])))
    rows = []
    for case in cases:
        row: dict[str, Any] = dict(zip(("layers", "dtype", "m"), case, strict=True))
        members = {impl: found.get((*case, impl)) for impl in IMPLS}
        row.update({impl: stat(bench, "median") for impl, bench in members.items()})
        row["trust"] = {impl: trust(b, conditions) for impl, b in members.items() if b}
        some = next(b for b in members.values() if b is not None)
        row["flops"] = flops = info(some).get("flops")
        ours = row["vectorized"]
        row["gflops"] = _ratio(flops, ours and ours * 1e9)
        row["matmul_gflops"] = _ratio(flops, row["matmul"] and row["matmul"] * 1e9)
        row["matmul_fraction"] = _ratio(row["matmul"], ours)
        row["loop_ratio"] = _ratio(row["loop"], ours)
        row["torch_ratio"] = _ratio(row["torch"], ours)
        rows.append(row)
    return rows


def _network_body(row: dict[str, Any]) -> list[str]:
    trusts: dict[str, Trust] = row["trust"]
    ok = {impl: trusts[impl].reliable if impl in trusts else True for impl in IMPLS}
    share = row["matmul_fraction"]
    fault = share is not None and share > 1.0
    share_text = "fault" if fault else _fmt(share, ".0%", ok["matmul"] and ok["vectorized"])
    notes = [str(t.named(impl)) for impl, t in trusts.items() if str(t)]
    if fault:
        notes.insert(0, "matmul floor slower than the whole: a measurement fault")
    return [
        str(row["layers"]), str(row["dtype"]), str(row["m"]),
        _fmt(row["vectorized"], "s", ok["vectorized"]),
        _fmt(row["gflops"], "r", ok["vectorized"]),
        _fmt(row["matmul_gflops"], "r", ok["matmul"]) if not fault else "fault",
        share_text,
        _fmt(row["loop_ratio"], "r", ok["loop"] and ok["vectorized"]),
        _fmt(row["torch"], "s", ok["torch"]),
        _fmt(row["torch_ratio"], "r", ok["torch"] and ok["vectorized"]),
        "; ".join(notes),
    ]


def network_section(benches: Sequence[Bench], conditions: Conditions) -> list[str]:
    rows = network_rows(benches, conditions)
    if not rows:
        return []
    header = ["layers", "dtype", "m", "vectorized", "GFLOP/s", "matmul GFLOP/s", "matmul share",
              "loop / vectorized", "torch", "torch / vectorized", "note"]
    return [
        "## Network: cost and gradient", "",
        "Medians. *GFLOP/s* counts the matrix products only (2·m·s_l·s_{l+1} per product: one "
        "forward and two backward per layer, one backward at the first layer). *Matmul share*: "
        "numpy doing those very products alone (same operands, same calls, same threads), over "
        "the whole cost and gradient; it cannot exceed 100%, so a larger value is reported as a "
        "fault. Ratios above 1 mean the vectorized version is faster. Values in brackets are "
        "unreliable (see the note).", "",
        *table(header, (_network_body(row) for row in rows)), "",
    ]


def checker_section(benches: Sequence[Bench], conditions: Conditions) -> list[str]:
    found = _index(benches, "checker", "P", "impl", "method")
    if not found:
        return []
    ours = {(k[0], k[2]): b for k, b in found.items() if k[1] == "check_gradient"}
    body = []
    for (P, impl, method), bench in sorted(found.items(), key=lambda kv: natural_key(kv[0])):
        median, evaluations = stat(bench, "median") or 0.0, info(bench).get("evaluations")
        verdict, own = trust(bench, conditions), ours.get((P, method))
        ok = verdict.reliable and (own is None or trust(own, conditions).reliable)
        peer = "" if impl in ("check_gradient", "numerical_gradient") else _fmt(
            _ratio(median, stat(own, "median")), "r", ok)
        body.append([str(P), impl, method, _fmt(median, "s", verdict.reliable),
                     str(evaluations or "–"), _fmt(_ratio(evaluations, median), ".3g"),
                     _fmt(median / P, "s", verdict.reliable), peer, str(verdict)])
    header = ["P", "implementation", "method", "median", "evaluations", "evaluations/s",
              "seconds per parameter", "peer / check_gradient", "note"]
    return [
        "## Checker", "",
        "One call per row on J(θ) of an MLP; *peer / check_gradient* compares each peer with our "
        "`check_gradient` of the same method (SciPy's `check_grad` uses forward differences, "
        "`torch.autograd.gradcheck` central ones); above 1 means ours is faster. Values in "
        "brackets are unreliable.", "",
        *table(header, body), "",
    ]


def batched_section(benches: Sequence[Bench], conditions: Conditions) -> list[str]:
    found = _index(benches, "batched", "function", "P", "m", "path")
    if not found:
        return []
    paths = ("batched", "threads", "threads+batched")
    body = []
    for function, P, m in sorted({key[:3] for key in found}, key=natural_key):
        members = {path: found.get((function, P, m, path)) for path in ("unbatched", *paths)}
        ok = {path: b is None or trust(b, conditions).reliable for path, b in members.items()}
        unbatched = stat(members["unbatched"], "median")
        body.append([function, str(P), "–" if m is None else str(m),
                     _fmt(_ratio(unbatched, P), "s", ok["unbatched"]),
                     *(_fmt(_ratio(unbatched, stat(members[path], "median")), ".2f",
                            ok["unbatched"] and ok[path]) for path in paths)])
    header = ["f", "P", "m", "unbatched s/parameter", *paths]
    return [
        "## Batched evaluation", "",
        "Central differences by `numerical_gradient` on f of P parameters (the mlp on m "
        "examples). The last three columns divide the unbatched median by that path's median: "
        "above 1, the path is faster than one call of f per point in this thread. Values in "
        "brackets are unreliable (the group tables below say why).", "",
        *table(header, body), "",
    ]


def _group_rows(members: list[Bench], conditions: Conditions) -> list[list[str]]:
    fastest: dict[Any, float | None] = {}
    for bench in members:  # sorted by median: the first of each P is its fastest
        fastest.setdefault(info(bench).get("P"), stat(bench, "median"))
    rows = []
    for bench in members:
        verdict, rounds = trust(bench, conditions), int(bench["stats"].get("rounds", 0))
        median, size = stat(bench, "median"), info(bench).get("P")
        iqr = _fmt(stat(bench, "iqr"), "s") if rounds >= MIN_ROUNDS_FOR_SPREAD else "–"
        rows.append([f"`{bench['name']}`", _fmt(median, "s", verdict.reliable), iqr,
                     _fmt(stat(bench, "min"), "s"), str(rounds),
                     _fmt(_ratio(median, fastest[size]), ".2f", verdict.reliable),
                     _fmt(_ratio(median, size), "s") if size else "–", str(verdict)])
    return rows


def _group_warning(members: list[Bench], conditions: Conditions) -> list[str]:
    """A line naming how many of the group's figures are unreliable, and why; none if none."""
    problems = [trust(b, conditions).problems for b in members]
    bad = [p for p in problems if p]
    if not bad:
        return []
    kinds = sorted({problem.split()[0].rstrip(":") for p in bad for problem in p})
    return [f"**Unreliable: {len(bad)} of {len(members)}** ({', '.join(kinds)}: see the notes).",
            ""]


def group_sections(benches: Sequence[Bench], conditions: Conditions) -> list[str]:
    """A table per pytest-benchmark group, groups in numeric order, members by median.

    The paired benchmarks are left out: their time is a whole pairing, which the headline reads.
    """
    groups: dict[str, list[Bench]] = {}
    for bench in benches:
        if info(bench).get("bench") == "paired":
            continue
        groups.setdefault(str(bench.get("group") or "(no group)"), []).append(bench)
    lines = ["## Every group", "",
             "*× fastest* compares benchmarks of the same P only (the fastest of that P is 1.00); "
             "across P, compare seconds per parameter. An IQR needs at least three rounds.", ""]
    header = ["benchmark", "median", "IQR", "min", "rounds", "× fastest", "per parameter", "note"]
    for group in sorted(groups, key=natural_key):
        members = sorted(groups[group], key=lambda b: stat(b, "median") or 0.0)
        lines += [f"### {group}", "", *_group_warning(members, conditions)]
        lines += [*table(header, _group_rows(members, conditions)), ""]
    return lines
