"""Smoke test of benchmarks/learn_benchmark.py: one seed, short maps of a space and of a
pool, so the learning protocol cannot rot."""

from __future__ import annotations

import json
from pathlib import Path

from tests.benchmarks import run_benchmark


def test_each_arm_maps_a_space_and_a_pool(tmp_path: Path) -> None:
    output = tmp_path / "errors.json"
    completed = run_benchmark(
        "learn_benchmark.py",
        *("--seeds", "1", "--problems", "Hartmann6,AgNP", "--checkpoints", "9,10"),
        *("--num-restarts", "2", "--raw-samples", "32", "--json", str(output)),
    )
    results = json.loads(output.read_text())["results"]
    for problem in ("Hartmann6", "AgNP"):
        for arm in ("learn", "sobol", "random"):
            (errors,) = results[problem][arm]
            # A relative RMSE: positive, and a 10-point map is no oracle.
            assert len(errors) == 2 and all(0 < e < 5 for e in errors)
            assert f"| {problem} | {arm} | " in completed.stdout
