"""Smoke test of benchmarks/acquisition_choice.py: one seed of every acquisition on a
short Branin run, so the comparison cannot rot."""

from __future__ import annotations

import json
from pathlib import Path

from tests.benchmarks import run_benchmark


def test_every_acquisition_runs_once_and_is_tabulated(tmp_path: Path) -> None:
    output = tmp_path / "runs.json"
    completed = run_benchmark(
        "acquisition_choice.py",
        *("--seeds", "1", "--problems", "Branin/25", "--budget", "7"),
        *("--restarts", "2", "--raw-samples", "32", "--json", str(output)),
    )
    runs = json.loads(output.read_text())
    arms = ["nei (default)", "ei, xi = 0", "ei, xi = 0.01", "ucb, beta = 2", "pi, xi = 0.01"]
    assert sorted(runs) == sorted(f"Branin/25|{arm}|0" for arm in [*arms, "thompson"])
    for arm in [*arms, "thompson"]:
        assert f"| {arm} | " in completed.stdout
        # Branin's minimum is 0.398: seven experiments leave a finite, positive regret.
        assert -6 < runs[f"Branin/25|{arm}|0"]["log10_regret"] < 3
