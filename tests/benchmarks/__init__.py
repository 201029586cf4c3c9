"""Smoke tests of the benchmark scripts: each runs a script briefly, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_benchmark(script: str, *args: str | Path) -> subprocess.CompletedProcess:
    """``python benchmarks/<script> args...``, its output captured; fails on a non-zero exit."""
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
