"""gradcheck's full Jacobian check against torch.autograd.gradcheck, taken in turn.

Run ``python -m benchmarks.jacobian_vs_torch [rounds]`` (default 300; needs autograd and
torch). Each round times one check of the correct Jacobian by each tool, one after the other,
on the functions of ``benchmarks/test_bench_jacobian_peers.py``; the best time of each tool is
printed, so that both are measured under the same load of a shared machine.
"""

from __future__ import annotations

import sys
import time

from benchmarks import test_bench_jacobian_peers as peers


def main(rounds: int = 300) -> list[str]:
    """The lines of the measurement: per function, the best time of each tool and their ratio."""
    lines = []
    for name in peers.FUNCTIONS:
        jac = peers._jacobian(name)
        best = {"gradcheck": float("inf"), "torch": float("inf")}
        for _ in range(rounds):
            for tool, check in (("gradcheck", peers._ours), ("torch", peers._torch)):
                start = time.perf_counter()
                passed = check(name, jac)
                best[tool] = min(best[tool], time.perf_counter() - start)
                if not passed:
                    raise AssertionError(f"{tool} failed the correct Jacobian of {name}")
        lines.append(f"{name:12s} gradcheck {best['gradcheck'] * 1e3:.2f} ms  torch "
                     f"{best['torch'] * 1e3:.2f} ms  ratio {best['gradcheck'] / best['torch']:.2f}")
    return lines


if __name__ == "__main__":
    print("\n".join(main(*[int(a) for a in sys.argv[1:2]])))
