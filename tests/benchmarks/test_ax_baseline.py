"""Smoke test of benchmarks/ax_baseline.py: one seed of Branin with 8 evaluations, and the
same report rendered again from its JSON.

Needs Ax (the ``bench`` extra); skipped where it is not installed, as in CI.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

pytest.importorskip("ax")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ax_baseline.py"


def test_branin_one_seed_eight_evaluations(tmp_path: Path) -> None:
    output = tmp_path / "ax.json"
    command = [
        sys.executable,
        str(SCRIPT),
        "--seeds",
        "1",
        "--problems",
        "branin30",
        "--budget-override",
        "branin30=8",
        "--json",
        str(output),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)

    report = completed.stdout
    assert report.startswith("## Ax baseline, ")
    assert "| Branin/30 | Ax 1.3" in report
    assert "| Branin/30 | Sobol only | 1 | log10 regret |" in report

    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["problems"]["branin30"]["budget"] == 8
    runs = {run["arm"]: run for run in data["runs"]}
    assert len(runs) == 2 and "Sobol only" in runs
    for run in runs.values():
        assert run["seed"] == 0
        assert len(run["x"]) == len(run["y"]) == len(run["nodes"]) == 8
        # Best-so-far never rises; the final metric is log10(best - 0.397887).
        assert all(b <= a for a, b in pairwise(run["trace"]))
        assert run["final_metric"] == pytest.approx(math.log10(run["trace"][-1] - 0.397887))
    default = next(run for arm, run in runs.items() if arm != "Sobol only")
    assert default["nodes"][0] == "CenterOfSearchSpace"
    assert default["nodes"][-1] == "MBM"
    assert default["mbm_iterations"] == 3
    assert set(runs["Sobol only"]["nodes"]) == {"Sobol"}

    # The report rendered afterwards from the JSON is the live one, plus a line saying so.
    rendered = subprocess.run(
        [sys.executable, str(SCRIPT), "--report-from", str(output)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    extra = f"This report was rendered afterwards from `{output}` (`ax_baseline.py --report-from`)."
    assert rendered.replace(f"{extra}\n\n", "") == report
