"""Smoke test of benchmarks/transfer_benchmark.py: one seed, a few experiments, plate
3496's measurements as the source for a campaign on plate 3851."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.benchmarks import BENCHMARKS, run_benchmark


def test_one_short_run_with_and_without_transfer(tmp_path: Path) -> None:
    output = tmp_path / "runs.jsonl"
    completed = run_benchmark(
        "transfer_benchmark.py",
        *("--seeds", "1", "--directions", "3496:3851", "--arms", "none,prior_mean"),
        *("--budget", "8", "--workers", "1", "--json", str(output)),
    )
    assert "| 3496 → 3851 | none | 1 |" in completed.stdout
    assert "| 3496 → 3851 | prior_mean | 1 |" in completed.stdout
    runs = {run["arm"]: run for run in map(json.loads, output.read_text().splitlines())}
    plate = pd.read_csv(BENCHMARKS.parent / "simulators/data/olympus/oer_plate_3851.csv")
    overpotential = plate["overpotential"].to_numpy()
    best = set(overpotential.argsort()[:22].tolist())
    for run in runs.values():
        measured = run["measured"]
        # The same two random rows open both arms; a run stops at the first top-1 %.
        assert measured[:2] == runs["none"]["measured"][:2]
        assert len(measured) == len(set(measured)) <= 8
        assert len(measured) == 8 or measured[-1] in best
        assert not best & set(measured[:-1])
    assert runs["prior_mean"]["prior_mean_scale"] is not None
    # With the earlier plate, the model's picks are among the plate's better catalysts.
    chosen = overpotential[runs["prior_mean"]["measured"][2:]]
    assert (overpotential < chosen.min()).mean() < 0.25
