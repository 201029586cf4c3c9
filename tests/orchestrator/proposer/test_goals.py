"""Targets and failures: the proposer homes in on a set value and steers away from failures."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator.campaign.schema import Campaign, Objective
from orchestrator.proposer import Observation, Proposer


def one_dimensional(objective: dict, failures: str = "avoid") -> Campaign:
    return Campaign.model_validate(
        {
            "name": "goals",
            "seed": 1,
            "budget": {"experiments": 50},
            "space": [{"name": "x", "type": "continuous", "bounds": [0, 1]}],
            "objectives": [{"name": "y", **objective}],
            "proposer": {
                "initial": {"n": 4},
                "num_restarts": 4,
                "raw_samples": 64,
                "failures": failures,
            },
            "driver": {"type": "simulated"},
        }
    )


def test_a_target_needs_its_value_and_scores_by_distance() -> None:
    with pytest.raises(ValidationError, match="needs a `target` value"):
        Objective(name="gap", goal="target")
    with pytest.raises(ValidationError, match="only goal 'target' takes one"):
        Objective(name="gap", goal="maximize", target=1.4)
    gap = Objective(name="gap", goal="target", target=1.4)
    assert gap.score(1.5) == pytest.approx(-0.1) and gap.score(1.2) == pytest.approx(-0.2)


def test_proposals_home_in_on_a_target_value() -> None:
    proposer = Proposer(one_dimensional({"goal": "target", "target": 0.8}))
    band_gap = lambda x: 2.0 * x  # noqa: E731 - the target 0.8 sits at x = 0.4
    observations = [
        Observation(p.parameters, band_gap(p.parameters["x"])) for p in proposer.suggest(4, [])
    ]
    for step in range(4):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=4 + step)
        observations.append(Observation(proposal.parameters, band_gap(proposal.parameters["x"])))
    assert abs(observations[-1].parameters["x"] - 0.4) < 0.05


def proposals_in_failing_region(failures: str) -> int:
    """Maximise y = x on [0, 1] where every x above 0.6 fails; count proposals there."""
    proposer = Proposer(one_dimensional({"goal": "maximize"}, failures))
    observations, failed = [], []
    for proposal in proposer.suggest(4, []):
        x = proposal.parameters["x"]
        (failed if x > 0.6 else observations).append(
            proposal.parameters if x > 0.6 else Observation(proposal.parameters, x)
        )
    landed = 0
    for step in range(6):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=4 + step, failed=failed)
        x = proposal.parameters["x"]
        if x > 0.6:
            landed += 1
            failed.append(proposal.parameters)
        else:
            observations.append(Observation(proposal.parameters, x))
    return landed


def test_failed_experiments_steer_proposals_away_from_where_the_space_fails() -> None:
    avoided, ignored = proposals_in_failing_region("avoid"), proposals_in_failing_region("ignore")
    assert ignored >= 4, "left out, failures do not teach the model anything"
    assert avoided <= 2 < ignored


def test_exact_measurements_are_fitted_without_a_noise_estimate() -> None:
    """``noise_free`` fixes the model's noise far below what it would infer (the ledger's
    hyperparameters show which)."""
    observations = [
        Observation({"x": x}, (x - 0.37) ** 2) for x in (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95)
    ]
    noise = {}
    for exact in (False, True):
        proposer = Proposer(one_dimensional({"goal": "minimize", "noise_free": exact}))
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=len(observations))
        noise[exact] = proposal.details["hyperparameters"]["noise"]
    assert noise[True] == pytest.approx(1e-6)  # of the outcome's variance
    assert noise[False] >= 1e-4  # BoTorch's floor for an inferred noise level
