"""Smoke test of benchmarks/reaction_benchmark.py, so the EDBO protocol cannot rot.

Two short runs of each encoding of the molecules; every yield must be a published one.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "reaction_benchmark.py"


def test_two_short_runs_per_encoding(tmp_path: Path) -> None:
    output = tmp_path / "runs.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--runs",
            "2",
            "--budget",
            "8",
            "--arms",
            "descriptors,onehot",
            "--json",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = completed.stdout
    assert "1728 reactions, 18 with yield >= 90 %; 8 experiments per run." in report
    # Exact: 1 - C(1710, 8) / C(1728, 8).
    assert "| random search (exact) | - | 8.1% | 1.00x |" in report
    for arm in ("descriptors", "onehot"):
        assert f"| {arm} | 2 |" in report

    with (REPO / "simulators" / "data" / "edbo" / "experiment_index.csv").open() as handle:
        published = {float(row["yield"]) for row in csv.DictReader(handle)}
    runs = json.loads(output.read_text())
    assert [(run["arm"], run["seed"]) for run in runs] == [
        (arm, seed) for arm in ("descriptors", "onehot") for seed in (0, 1)
    ]
    for run in runs:
        assert len(run["yields"]) == 8 and set(run["yields"]) <= published
    # The same seed starts every encoding from the same random reactions.
    assert runs[0]["yields"][:6] == runs[2]["yields"][:6]
