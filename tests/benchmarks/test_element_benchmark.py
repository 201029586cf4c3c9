"""Smoke test of benchmarks/element_benchmark.py, so the OER protocol cannot rot: one
seed, a few experiments, on the first plate."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.benchmarks import BENCHMARKS, run_benchmark


def test_one_short_run_per_arm_on_plate_3496(tmp_path: Path) -> None:
    output = tmp_path / "runs.jsonl"
    completed = run_benchmark(
        "element_benchmark.py",
        *("--seeds", "1", "--plates", "3496", "--arms", "elements,both,random"),
        *("--budget", "12", "--workers", "1", "--json", str(output)),
    )
    assert "| 3496 | 2121 | elements | 1 |" in completed.stdout
    assert "| 3496 | 2121 | random | 1 |" in completed.stdout
    runs = [json.loads(line) for line in output.read_text().splitlines()]
    assert [run["arm"] for run in runs] == ["elements", "both"]
    plate = pd.read_csv(BENCHMARKS.parent / "simulators/data/olympus/oer_plate_3496.csv")
    overpotential = plate["overpotential"].to_numpy()
    for run in runs:
        # The same two random rows open every arm of a seed, then 10 model proposals.
        assert run["measured"][:2] == runs[0]["measured"][:2]
        assert len(run["measured"]) == len(set(run["measured"])) == 12
        # They chase a low overpotential: the best of them is in the plate's best quarter.
        chosen = overpotential[run["measured"][2:]]
        assert (overpotential < chosen.min()).mean() < 0.25
