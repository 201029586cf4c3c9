"""What a person sees of a learning campaign and of a chosen acquisition: the caption of
``tansaku validate``, the uncertainty line of ``tansaku status``, the ``mean_relative_sd``
column of ``tansaku export`` and the acquisition named in ``tansaku report``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from tansaku.cli.views import uncertainty_line
from tansaku.ledger import CampaignRecord, ExperimentRecord
from tansaku.report import CampaignSummary, experiment_rows
from tests.conftest import small_branin, tansaku, write_campaign

LEARN = """
    name: learn
    seed: 5
    purpose: learn
    budget: {experiments: 7}
    stop: {uncertainty_below: 0.3}
    space:
      - {name: x1, type: continuous, bounds: [-5, 10]}
      - {name: x2, type: continuous, bounds: [0, 15]}
    objectives:
      - {name: y, goal: minimize}
    proposer:
      initial: {n: 3}
      num_restarts: 2
      raw_samples: 64
    driver:
      type: simulated
      simulator: {type: benchmark, function: branin, duration: 2h,
                  start: 2026-12-01T09:00:00Z}
"""


def flat(text: str) -> str:
    """Terminal output as one line: table borders and wrapping gone."""
    return " ".join(text.replace("│", " ").split())


def validate_caption(campaign: Path) -> str:
    result = tansaku("validate", campaign, cwd=campaign.parent)
    assert result.returncode == 0, result.stderr
    return flat(result.stdout)


@pytest.mark.usefixtures("prefect_server")
def test_a_learning_dry_run_shows_its_uncertainty_in_status_export_and_report(
    tmp_path: Path,
) -> None:
    campaign = write_campaign(tmp_path, LEARN)
    run = tansaku("run", campaign, "--dry-run", "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr

    exported = tansaku("export", "run", "-o", "learn.csv", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    rows = pd.read_csv(tmp_path / "learn.csv")
    assert len(rows) == 7
    initial, learned = rows[rows.method == "sobol"], rows[rows.method == "gp"]
    assert len(initial) == 3 and initial.mean_relative_sd.isna().all()
    assert len(learned) == 4 and (learned.mean_relative_sd > 0).all()
    assert (learned.acquisition == "IntegratedVariance").all()

    status = tansaku("status", "run", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    first, latest = learned.mean_relative_sd.iloc[0], learned.mean_relative_sd.iloc[-1]
    assert (
        f"uncertainty {first:.2g} → {latest:.2g} of the measured spread over 4 proposals "
        "(stops below 0.3)"
    ) in flat(status.stdout)

    report = tansaku("report", "run", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "run" / "report" / "report.html").read_text()
    assert re.search(r"<th>acquisition</th><td>IntegratedVariance \(4 of 7 proposals\)</td>", page)


def test_validate_says_a_learning_campaign_maps_its_objective_until_sure_enough(
    tmp_path: Path,
) -> None:
    caption = validate_caption(write_campaign(tmp_path, LEARN))
    assert (
        "map y over the space (purpose learn) · budget 7 experiments, stop once the "
        "model's uncertainty is below 0.3 of the measured spread · 3 Sobol then GP, batch 1"
    ) in caption
    assert "minimize y" not in caption


@pytest.mark.parametrize(
    ("acquisition", "shown"),
    [
        ("{type: thompson}", "4 Sobol then GP + thompson, batch 1"),
        ("{type: ei, xi: 0.01}", "4 Sobol then GP + ei (xi 0.01), batch 1"),
        ("{type: ucb, beta: 3}", "4 Sobol then GP + ucb (beta 3), batch 1"),
    ],
)
def test_validate_names_a_chosen_acquisition_and_its_settings(
    tmp_path: Path, acquisition: str, shown: str
) -> None:
    campaign = small_branin(tmp_path, name="chosen")
    campaign.write_text(
        campaign.read_text().replace(
            "  initial: {n: 4}\n", f"  initial: {{n: 4}}\n  acquisition: {acquisition}\n"
        )
    )
    caption = validate_caption(campaign)
    assert f"minimize y · budget 8 experiments · {shown}" in caption


START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def one_experiment(proposer: dict[str, object], **snapshot: object) -> CampaignSummary:
    """A campaign whose one experiment was proposed with ``proposer``'s details."""
    snapshot = {
        "budget": {"experiments": 2},
        "objectives": [{"name": "y", "goal": "maximize"}],
        "space": [{"name": "x", "type": "continuous", "bounds": [0, 1]}],
        **snapshot,
    }
    record = CampaignRecord(
        name="one", mode="dry-run", snapshot=snapshot, source_path="one.yaml",
        created_at=START, clock_start=START, stop_reason=None, stopped_at=None,
    )  # fmt: skip
    experiment = ExperimentRecord(
        id=1, batch=1, parameters={"x": 0.5}, method="gp", proposer=proposer,
        status="done", attempts=1, proposed_at=START, updated_at=START, objective=1.0,
        values={"y": 1.0}, failure=None, started_at=START, finished_at=START,
    )  # fmt: skip
    return CampaignSummary(record, [experiment])


def test_export_has_no_uncertainty_column_when_no_proposal_measured_one() -> None:
    details = {"acquisition": "qLogNoisyExpectedImprovement", "acquisition_value": 0.2}
    (row,) = experiment_rows(one_experiment(details))
    assert row["acquisition"] == "qLogNoisyExpectedImprovement"
    assert "mean_relative_sd" not in row


def test_status_of_a_learning_campaign_before_and_after_its_first_model() -> None:
    learning = {"purpose": "learn", "stop": {"uncertainty_below": 0.25}}
    assert uncertainty_line(one_experiment({}, **learning)) == (
        "uncertainty  not measured until the first model-based proposal (stops below 0.25)"
    )
    once = one_experiment({"mean_relative_sd": 0.613}, purpose="learn")
    assert uncertainty_line(once) == "uncertainty  0.61 of the measured spread over 1 proposal"
