"""Smoke test of benchmarks/pool_benchmark.py, so the pool protocol cannot rot.

One seed on the smallest pool, tansaku's arm only: the scikit-learn baseline needs the
``bench`` extra, which CI does not install.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pool_benchmark.py"


def test_one_seed_on_the_perovskite_pool(tmp_path: Path) -> None:
    output = tmp_path / "pool.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--seeds",
            "1",
            "--datasets",
            "Perovskite",
            "--arms",
            "tansaku",
            "--json",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "| Perovskite | 94 | 5 | 75 | tansaku |" in completed.stdout
    (curve,) = json.loads(output.read_text())["results"]["Perovskite"]["tansaku"]
    assert curve[-1] >= 0.8 and curve == sorted(curve), "Top% only grows, up to the target"
    assert len(curve) < 94, "the run stops once 80 % of the top candidates are found"
