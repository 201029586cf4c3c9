"""Smoke test of benchmarks/multi_fidelity_benchmark.py, so the protocol cannot rot: one
seed, a small cost budget, both arms."""

from __future__ import annotations

from tests.benchmarks import run_benchmark


def test_one_short_run_of_both_arms() -> None:
    completed = run_benchmark(
        "multi_fidelity_benchmark.py",
        "--seeds",
        "1",
        "--budget",
        "24",
        "--checkpoints",
        "24",
        "--num-restarts",
        "2",
        "--raw-samples",
        "32",
    )
    assert "| experiment-only | " in completed.stdout
    assert "| multi-fidelity | " in completed.stdout
    # The multi-fidelity arm spends 4 simulations and 1 experiment on its initial design,
    # then the 10 units left on what its acquisition chooses.
    assert "seed 0: experiment-only " in completed.stderr
    line = next(line for line in completed.stderr.splitlines() if line.startswith("seed 0"))
    assert "multi-fidelity " in line and " simulations)" in line
