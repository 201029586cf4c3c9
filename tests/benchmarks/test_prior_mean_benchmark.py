"""Smoke test of benchmarks/prior_mean_benchmark.py, so the protocol cannot rot: one seed,
a few experiments, every arm."""

from __future__ import annotations

from tests.benchmarks import run_benchmark


def test_one_short_run_per_arm() -> None:
    completed = run_benchmark(
        "prior_mean_benchmark.py",
        "--seeds",
        "1",
        "--budget",
        "4",
        "--initial",
        "2",
    )
    for arm in ("default", "right-ish", "wrong"):
        assert f"| 2 | {arm} | " in completed.stdout
    # One progress line per arm and seed on stderr, the report alone on stdout.
    assert completed.stderr.count("initial 2 ") == 3
