"""Smoke test of benchmarks/prior_mean_benchmark.py, so the protocol cannot rot: one seed,
a few experiments, every arm."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "prior_mean_benchmark.py"


def test_one_short_run_per_arm() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--seeds", "1", "--budget", "4", "--initial", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    for arm in ("default", "right-ish", "wrong"):
        assert f"| 2 | {arm} | " in completed.stdout
    # One progress line per arm and seed on stderr, the report alone on stdout.
    assert completed.stderr.count("initial 2 ") == 3
