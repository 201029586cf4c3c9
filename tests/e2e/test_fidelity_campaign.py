"""A multi-fidelity campaign end to end: the example file's dry run routes each
experiment to its source's simulator, spends its budget in cost units, and `status` and
`export` show which source measured what (test_cli.py dry-runs and reports the example
itself)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tansaku.simulators.fidelity import branin, cheap_branin
from tests.conftest import tansaku

EXAMPLE = Path(__file__).resolve().parents[2] / "campaigns" / "branin-two-fidelity.yaml"


def flat(text: str) -> str:
    """Terminal output as one line: table borders and wrapping gone."""
    return " ".join(text.replace("│", " ").split())


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.timeout(300)  # about a minute idle; the acquisition's optimiser is CPU-bound
def test_the_two_fidelity_example_dry_runs_within_its_cost_budget(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    assert "budget: {cost: 60}" in text
    # A shorter budget and optimiser than the example's, the same campaign otherwise.
    campaign = tmp_path / "two-fidelity.yaml"
    campaign.write_text(
        text.replace("budget: {cost: 60}", "budget: {cost: 32}").replace(
            "objectives:", "proposer: {num_restarts: 4, raw_samples: 128}\nobjectives:"
        )
    )
    checked = tansaku("validate", campaign, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "budget 32 cost units (simulation 1, experiment 10 each)" in flat(checked.stdout)

    run = tansaku("run", campaign, "--dry-run", "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr

    exported = tansaku("export", "run", "-o", "mf.csv", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    rows = pd.read_csv(tmp_path / "mf.csv")
    assert set(rows.fidelity) <= {"simulation", "experiment"}
    # Each experiment went to its source's instrument: the simulator of that source.
    for row in rows.itertuples():
        simulate = branin if row.fidelity == "experiment" else cheap_branin
        assert row.y == pytest.approx(simulate({"x1": row.x1, "x2": row.x2}))
    assert list(rows.cost) == [1.0 if f == "simulation" else 10.0 for f in rows.fidelity]
    spent = rows.cost.sum()
    assert 31 <= spent <= 32  # stopped once not even a simulation was left to pay for
    initial = rows[rows.method == "sobol"]
    assert list(initial.fidelity) == ["simulation"] * 4 + ["experiment"]
    assert (rows[rows.method == "gp"].acquisition == "qMultiFidelityMaxValueEntropy").all()

    status = flat(tansaku("status", "run", cwd=tmp_path).stdout)
    simulations = (rows.fidelity == "simulation").sum()
    experiments = (rows.fidelity == "experiment").sum()
    assert (
        f"cost {spent:g} of 32 units · simulation {simulations} at 1 · experiment "
        f"{experiments} at 10"
    ) in status
    assert f"budget reached: {spent:g} of 32 cost units" in status
    # The best is the best experiment at the truth; a simulation's value never counts.
    truth = rows[rows.fidelity == "experiment"]
    best = truth.loc[truth.y.idxmin()]
    assert f"at #{best.experiment}:" in status and "fidelity=experiment" in status


def test_a_dry_run_refuses_a_source_whose_instrument_has_no_simulator(tmp_path: Path) -> None:
    protocols = EXAMPLE.parent / "protocols"
    campaign = tmp_path / "no-simulator.yaml"
    campaign.write_text(
        f"""
name: no-simulator
budget: {{cost: 30}}
space:
  - {{name: anneal_temp_c, type: continuous, bounds: [60, 250]}}
objectives:
  - {{name: conductance_ms, goal: maximize}}
fidelities:
  estimate:
    cost: 1
    driver:
      type: serial
      devices:
        hotplate: {{port: /dev/ttyUSB2, protocol: {protocols / "ika-namur-hotplate.yaml"}}}
        smu: {{port: /dev/ttyUSB3, protocol: {protocols / "keithley-2400-smu.yaml"}}}
  film: {{cost: 10}}
driver:
  type: simulated
  simulator: {{type: function, function: "tansaku.simulators.film:film_conductance_ms"}}
"""
    )
    assert tansaku("validate", campaign, cwd=tmp_path).returncode == 0
    run = tansaku("run", campaign, "--dry-run", "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--dry-run needs a simulator for source 'estimate'" in flat(run.stderr)
    assert "Traceback" not in run.stderr and not (tmp_path / "run").exists()


def test_a_person_asked_for_an_experiment_is_told_its_source(tmp_path: Path) -> None:
    campaign = tmp_path / "two-fidelity.yaml"
    campaign.write_text(EXAMPLE.read_text())
    asked = tansaku("suggest", campaign, "--run-dir", "run", cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert "fidelity" in asked.stdout and "simulation" in asked.stdout  # the initial design
    told = tansaku("tell", "run", "1", "y=20.2", cwd=tmp_path)
    assert told.returncode == 0, told.stderr
    status = flat(tansaku("status", "run", cwd=tmp_path).stdout)
    assert "cost 1 of 60 units · simulation 1 at 1 · experiment 0 at 10" in status
    assert "no successful result yet" in status  # a simulation is not the objective's value
