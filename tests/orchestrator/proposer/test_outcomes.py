"""Several objectives and outcome constraints: validated, modelled, and reported as a front."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tansaku.campaign.schema import Campaign
from tansaku.ledger import CampaignRecord, ExperimentRecord
from tansaku.proposer import Observation, Proposer
from tansaku.report import CampaignSummary

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def campaign(**overrides: object) -> Campaign:
    return Campaign.model_validate(
        {
            "name": "outcomes",
            "seed": 2,
            "budget": {"experiments": 40},
            "space": [
                {"name": "x1", "type": "continuous", "bounds": [0, 1]},
                {"name": "x2", "type": "continuous", "bounds": [0, 1]},
            ],
            "objectives": [{"name": "y", "goal": "maximize"}],
            "proposer": {"initial": {"n": 5}, "num_restarts": 4, "raw_samples": 128},
            "driver": {"type": "simulated"},
            **overrides,
        }
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"outcome_constraints": ["stabilty >= 0.8"]}, "declare a quantity that is not an"),
        ({"outcomes": [{"name": "x1"}]}, "x1: an outcome needs a name"),
        (
            {
                "objectives": [
                    {"name": "a", "goal": "maximize"},
                    {"name": "b", "goal": "minimize"},
                ],
                "stop": {"no_improvement_for": 5},
            },
            "need a single objective",
        ),
        (
            {"objectives": [{"name": "a", "goal": "maximize"}, {"name": "a", "goal": "minimize"}]},
            "objective names must be distinct",
        ),
    ],
)
def test_inconsistent_goals_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        campaign(**overrides)


def test_an_outcome_constraint_keeps_proposals_in_the_feasible_region() -> None:
    """Maximise x1 + x2 while the measured 'strain' (= x1) stays at or below 0.4."""
    constrained = campaign(outcomes=[{"name": "strain"}], outcome_constraints=["strain <= 0.4"])
    proposer = Proposer(constrained)

    def measure(point: dict) -> Observation:
        y = point["x1"] + point["x2"]
        return Observation(point, y, {"y": y, "strain": point["x1"]})

    observations = [measure(p.parameters) for p in proposer.suggest(5, [])]
    for step in range(5):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=5 + step)
        assert proposal.details["acquisition"] == "qLogNoisyExpectedImprovement"
        observations.append(measure(proposal.parameters))
    last = [o.parameters for o in observations[-3:]]
    assert all(p["x1"] <= 0.5 and p["x2"] >= 0.8 for p in last), last


def test_two_objectives_use_hypervolume_improvement() -> None:
    from tansaku.simulators.benchmarks import BenchmarkSimulator

    both = campaign(
        objectives=[
            {"name": "branin", "goal": "minimize"},
            {"name": "currin", "goal": "minimize", "threshold": 12},
        ]
    )
    simulator = BenchmarkSimulator("branin_currin", ["x1", "x2"], ["branin", "currin"])
    proposer = Proposer(both)

    def measure(point: dict) -> Observation:
        values = simulator(point)
        return Observation(point, values["branin"], values)

    observations = [measure(p.parameters) for p in proposer.suggest(5, [])]
    (proposal,) = proposer.suggest(
        1, observations, proposed_so_far=5, failed=[{"x1": 0.9, "x2": 0.1}]
    )
    assert proposal.details["acquisition"] == "qLogNoisyExpectedHypervolumeImprovement"
    assert proposal.details["failures_as_worst"] == 1
    assert 0 <= proposal.parameters["x1"] <= 1 and 0 <= proposal.parameters["x2"] <= 1


def record(i: int, values: dict | None, status: str = "done") -> ExperimentRecord:
    return ExperimentRecord(
        id=i,
        batch=i,
        parameters={"x1": 0.1 * i, "x2": 0.5},
        method="gp",
        proposer={},
        status=status,
        attempts=1,
        proposed_at=NOW,
        updated_at=NOW,
        objective=None if values is None else values["cost"],
        values=values,
    )


def test_the_pareto_front_holds_the_feasible_experiments_nothing_beats_on_both() -> None:
    snapshot = {
        "budget": {"experiments": 10},
        "space": [{"name": "x1"}, {"name": "x2"}],
        "objectives": [
            {"name": "cost", "goal": "minimize"},
            {"name": "quality", "goal": "maximize"},
        ],
        "outcomes": [{"name": "stability"}],
        "outcome_constraints": ["stability >= 0.5"],
    }
    experiments = [
        record(1, {"cost": 1.0, "quality": 1.0, "stability": 0.9}),  # front: cheapest
        record(2, {"cost": 2.0, "quality": 3.0, "stability": 0.9}),  # front
        record(3, {"cost": 2.5, "quality": 2.0, "stability": 0.9}),  # beaten by 2
        record(4, {"cost": 0.5, "quality": 9.0, "stability": 0.1}),  # infeasible
        record(5, None, status="failed"),
        record(6, {"cost": 3.0, "quality": 4.0, "stability": 0.6}),  # front: best quality
    ]
    summary = CampaignSummary(
        CampaignRecord("c", "dry-run", snapshot, "c.yaml", NOW, NOW, None, None), experiments
    )
    assert [e.id for e in summary.pareto_front] == [1, 2, 6]
    assert summary.best.id == 1, "best by the first objective among feasible experiments"
    assert not math.isnan(summary.best.objective)
