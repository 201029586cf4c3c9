"""Pools, mixtures and stop rules through the real CLI and ledger."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.conftest import tansaku, write_campaign
from tests.e2e.test_cli import ledger_rows

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_a_pool_campaign_stops_when_every_row_is_used(tmp_path: Path) -> None:
    (tmp_path / "pool.csv").write_text(
        "x,kind\n" + "".join(f"{i / 10},{'ab'[i % 2]}\n" for i in range(6))
    )
    campaign = write_campaign(
        tmp_path,
        """
        name: tiny-pool
        budget: {experiments: 10}
        candidates: {path: pool.csv}
        space:
          - {name: x, type: continuous, bounds: [0, 1]}
          - {name: kind, type: categorical, values: [a, b]}
        objectives:
          - {name: y, goal: maximize}
        proposer: {initial: {n: 2}, num_restarts: 2, raw_samples: 32}
        driver:
          type: simulated
          simulator: {type: function, function: "math:cos"}
        """,
    )
    run = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "candidates exhausted" in run.stdout
    rows = ledger_rows(tmp_path / "run", "SELECT parameters FROM experiments")
    assert sorted(json.loads(p)["x"] for (p,) in rows) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert ledger_rows(tmp_path / "run", "SELECT stop_reason FROM campaign") == [
        ("candidates exhausted: every row of the pool has been proposed",)
    ]


def test_a_mixture_campaign_runs_inside_its_constraints_until_a_stop_rule(
    tmp_path: Path,
) -> None:
    campaign = write_campaign(
        tmp_path,
        """
        name: blend
        seed: 5
        budget: {experiments: 14}
        stop: {no_improvement_for: 5}
        space:
          - {name: a, type: continuous, bounds: [0, 1]}
          - {name: b, type: continuous, bounds: [0, 1]}
          - {name: c, type: continuous, bounds: [0, 0.5]}
        mixtures:
          - {components: [a, b, c], total: 1}
        constraints: ["a - b <= 0.2"]
        objectives:
          - {name: y, goal: minimize}
        proposer: {initial: {n: 4}, num_restarts: 2, raw_samples: 64}
        driver:
          type: simulated
          simulator: {type: benchmark, function: ackley}
        """,
    )
    run = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    rows = ledger_rows(tmp_path / "run", "SELECT parameters FROM experiments")
    points = [json.loads(p) for (p,) in rows]
    for point in points:
        assert math.isclose(point["a"] + point["b"] + point["c"], 1.0, abs_tol=1e-6)
        assert point["a"] - point["b"] <= 0.2 + 1e-6 and point["c"] <= 0.5
    (reason,) = ledger_rows(tmp_path / "run", "SELECT stop_reason FROM campaign")[0]
    assert reason.startswith(("no improvement for 5", "budget reached")), reason


def test_prior_data_seeds_the_model_and_stays_apart_from_the_campaign(tmp_path: Path) -> None:
    (tmp_path / "last-month.csv").write_text(
        "x1,x2,y\n-3,12,30.2\n2,3,4.1\n9,2,2.3\n3,2,0.8\n6,9,60.4\n"
    )
    campaign = write_campaign(
        tmp_path,
        """
        name: with-history
        seed: 4
        budget: {experiments: 4}
        prior_data: {path: last-month.csv}
        space:
          - {name: x1, type: continuous, bounds: [-5, 10]}
          - {name: x2, type: continuous, bounds: [0, 15]}
        objectives:
          - {name: y, goal: minimize}
        proposer: {initial: {n: 4}, num_restarts: 2, raw_samples: 64}
        driver:
          type: simulated
          simulator: {type: benchmark, function: branin, duration: 1h}
        """,
    )
    run = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    run_dir = tmp_path / "run"

    # Five earlier measurements cover the four-experiment initial design: every one of
    # the campaign's own four experiments comes from the model, and the budget is its own.
    assert ledger_rows(run_dir, "SELECT method FROM experiments") == [("gp",)] * 4
    prior = "SELECT line, json_extract(\"values\", '$.y') FROM prior_measurements"
    assert ledger_rows(run_dir, prior) == [(2, 30.2), (3, 4.1), (4, 2.3), (5, 0.8), (6, 60.4)]
    status = tansaku("status", run_dir, cwd=tmp_path)
    assert "experiments  4/4 · done 4" in status.stdout
    assert "prior data  5 earlier measurements from last-month.csv, not counted above; " in (
        status.stdout
    )
    assert "best y 0.8 (line 5)" in status.stdout

    # A resume must learn from the same earlier measurements.
    (tmp_path / "last-month.csv").write_text("x1,x2,y\n-3,12,30.2\n")
    campaign.write_text(campaign.read_text().replace("{experiments: 4}", "{experiments: 5}"))
    changed = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert changed.returncode == 2 and "other settings" in changed.stderr
