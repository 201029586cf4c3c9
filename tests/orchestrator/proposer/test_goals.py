"""Targets and failures: the proposer homes in on a set value and steers away from failures."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from tansaku.campaign.objectives import Objective
from tansaku.campaign.schema import Campaign
from tansaku.proposer import Observation, Proposer
from tansaku.proposer.model import fit_model


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


def bowl(x: float) -> float:
    return (x - 0.37) ** 2


BOWL = [Observation({"x": x}, bowl(x)) for x in (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95)]


def test_a_noise_free_model_passes_through_its_measurements() -> None:
    train_x = torch.tensor([[o.parameters["x"]] for o in BOWL], dtype=torch.float64)
    train_y = torch.tensor([[o.value] for o in BOWL], dtype=torch.float64)
    bounds = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    for noise_free in (True, False):
        model = fit_model(train_x, train_y, bounds, noise_free=noise_free)
        with torch.no_grad():
            miss = (model.posterior(train_x).mean - train_y).abs().max()
        if noise_free:
            assert miss < 1e-3 * train_y.std()
    # Told nothing, the model takes part of the curve for noise and misses the data.
    assert miss > 1e-3 * train_y.std()


def test_a_failed_experiment_does_not_bend_a_noise_free_model() -> None:
    """The stand-in value of a failure next to the best point is a guess: the model may
    miss it rather than pass through it with a kink (a collapsed lengthscale)."""
    proposer = Proposer(one_dimensional({"goal": "minimize", "noise_free": True}))
    (proposal,) = proposer.suggest(1, BOWL, proposed_so_far=8, failed=[{"x": 0.38}])
    (lengthscale,) = proposal.details["hyperparameters"]["lengthscale"]
    assert lengthscale > 0.1


def test_noise_free_is_asked_of_every_quantity_the_model_fits() -> None:
    def campaign(outcome_constraints: list[str]) -> Campaign:
        return Campaign.model_validate(
            {
                "name": "exact",
                "budget": {"experiments": 5},
                "space": [{"name": "x", "type": "continuous", "bounds": [0, 1]}],
                "objectives": [{"name": "y", "goal": "minimize", "noise_free": True}],
                "outcomes": [{"name": "purity"}],
                "outcome_constraints": outcome_constraints,
                "driver": {"type": "simulated"},
            }
        )

    assert campaign([]).noise_free  # purity is reported, but not modelled
    with pytest.raises(ValidationError, match="set on y but not on purity"):
        campaign(["purity >= 0.9"])
