"""gradcheck verify: the summary, --json, exit statuses and usage errors."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import pytest

import gradcheck
from gradcheck import cli
from gradcheck.cli import _check_mlp, _verify


def test_verify_prints_a_summary_and_progress_per_phase(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["verify", "--cases", "2", "--methods", "central,complex"])
    out, err = capsys.readouterr()
    assert status == 0, out
    assert out.startswith("gradcheck verify: 2 random cases (seed 0), methods central, complex")
    assert "bugs: " in out and " applicable caught (56 planted;" in out
    assert out.rstrip().splitlines()[-1].startswith("PASSED in ")
    assert err == "checking: 4 case-method pairs...\nchecking: done\n"


def test_verify_json_is_the_only_output(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["verify", "--cases", "2", "--seed", "3", "--json", "--quiet",
                       "--methods", "richardson"])
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert err == ""
    assert status == (0 if summary["passed"] else 1)
    assert summary["cases"] == 2 and summary["seed"] == 3 and summary["methods"] == ["richardson"]
    assert summary["per_method"]["richardson"]["checks"] == 4
    bugs = summary["bugs"]
    assert bugs["applicable"] + bugs["not_applicable"] == 2 * bugs["planted"]


def test_verify_is_reproducible_from_its_seed(capsys: pytest.CaptureFixture[str]) -> None:
    runs = []
    for _ in range(2):
        cli.main(["verify", "--cases", "1", "--seed", "5", "--json", "--quiet"])
        summary = json.loads(capsys.readouterr().out)
        del summary["seconds"]
        runs.append(summary)
    assert runs[0] == runs[1]


def test_verify_gives_the_same_summary_with_any_number_of_processes() -> None:
    seen: list[tuple[int, int]] = []
    one = _verify.verify(3, seed=2, methods=("central", "forward"), jobs=1).to_dict()
    two = _verify.verify(3, seed=2, methods=("central", "forward"), jobs=2,
                         progress=lambda phase, done, total: seen.append((done, total))).to_dict()
    del one["seconds"], two["seconds"]
    assert one == two
    assert one["per_method"]["central"]["checks"] == one["per_method"]["forward"]["checks"] == 6
    assert one["bugs"]["applicable"] + one["bugs"]["not_applicable"] == 6 * one["bugs"]["planted"]
    assert seen == [(0, 6), (2, 6), (4, 6), (6, 6)]  # a step per case, in order


_NO_HYPOTHESIS = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "hypothesis":
            raise ImportError("hypothesis is not installed")
sys.meta_path.insert(0, Blocked())
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)


def test_the_strategies_share_the_case_tables_without_the_commands() -> None:
    # gradcheck.strategies imports gradcheck.cli._cases, which runs gradcheck/cli/__init__.py:
    # the commands (and backprop_ref with them) must stay unimported.
    run = _python("import sys, gradcheck.strategies\n"
                  "print(sorted(m for m in sys.modules if m.startswith('backprop_ref')\n"
                  "             or m in ('gradcheck.cli._verify', 'gradcheck.cli._check_mlp')))")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_verify_runs_without_hypothesis() -> None:
    run = _python(_NO_HYPOTHESIS + "from gradcheck.cli import main\n"
                  "status = main(['verify', '--cases', '1', '--methods', 'complex', '--quiet',"
                  " '--json'])\n"
                  "assert not any(m.startswith('hypothesis') for m in sys.modules)\n"
                  "sys.exit(status)")
    assert run.returncode in (0, 1), run.stderr
    assert json.loads(run.stdout)["methods"] == ["complex"]
    blocked = _python(_NO_HYPOTHESIS + "import gradcheck.strategies")
    assert "hypothesis is not installed" in blocked.stderr  # the blocker works


def test_a_failing_case_exits_1_with_the_checker_report(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, params: object, X: object, Y: object) -> object:
        cost, grads = real(self, params, X, Y)  # type: ignore[arg-type]
        return cost, [type(g)(2 * g.W, g.b) for g in grads]

    real = _verify.MLP.cost_and_gradient_loop
    monkeypatch.setattr(_verify.MLP, "cost_and_gradient_loop", broken)
    status = cli.main(["verify", "--cases", "1", "--methods", "central", "--quiet"])
    out = capsys.readouterr().out
    assert status == 1
    assert "FAILED: case 0 (MLP(" in out and ", loop, central" in out
    assert "worst mismatches" in out
    assert out.rstrip().splitlines()[-1].startswith("FAILED in ")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["verify", "--cases", "0"],
        ["verify", "--cases", "many"],
        ["verify", "--seed", "-1"],
        ["verify", "--methods", "central,secant"],
        ["verify", "--methods", "central,central"],
        ["verify", "--methods", ""],
        ["check-mlp", "--layers", "4"],
        ["check-mlp", "--layers", "4,0,2"],
        ["check-mlp", "--layers", "4,x"],
        ["check-mlp", "--plant", "no-such-bug"],
        ["check-mlp", "--method", "secant"],
        ["check-mlp", "--layers", "3,2", "--weight-decay", "-1"],
    ],
    ids=["no-command", "unknown-command", "zero-cases", "cases-not-int", "negative-seed",
         "unknown-method", "repeated-method", "no-method", "one-layer", "zero-units",
         "size-not-int", "unknown-bug", "mlp-unknown-method", "negative-decay"],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "error" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == gradcheck.__version__


def test_python_dash_m_gradcheck_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gradcheck", "--version"], capture_output=True, text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == gradcheck.__version__


def test_cli_docstring_examples_run() -> None:
    failed, _ = doctest.testmod(cli, optionflags=doctest.ELLIPSIS)
    assert failed == 0


def test_check_mlp_passes_a_correct_network(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-mlp", "--layers", "5,7,3", "--batch", "4", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith("gradcheck check-mlp: MLP(layer_sizes=(5, 7, 3)")
    assert "m=4, P=66" in out and "PASSED: central differences, 66 elements" in out


def test_check_mlp_names_a_planted_bug(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check-mlp", "--layers", "4,6,6,2", "--batch", "5", "--weight-decay", "0.1",
            "--plant", "no-decay", "--method", "complex", "--json", "--quiet"]
    assert cli.main(argv) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["bug"] == "no-decay" and out["n_examples"] == 5
    assert out["result"]["passed"] is False and out["result"]["method"] == "complex"
    assert out["result"]["diagnosis"][0]["name"] == "decay-missing"


def test_check_mlp_names_the_layer_through_backprop_refs_hints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["check-mlp", "--layers", "4,6,6,2", "--batch", "5", "--plant", "zeroed-leaf",
            "--quiet"]
    assert cli.main(argv) == 1
    out = capsys.readouterr().out
    assert "  - [weights-only] only the weights are wrong (x[0].W); every bias passes" in out
    assert (
        "  - [first-layer-only] only layer [0], the first one, is wrong (x[0].W); "
        "every other passes"
    ) in out


def test_check_mlp_module_examples_run() -> None:
    failed, attempted = doctest.testmod(_check_mlp)
    assert attempted >= 3 and failed == 0
