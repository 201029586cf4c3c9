"""``purpose: learn``: proposals that make the model surest over the whole space."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
import torch
from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance

from tansaku.campaign.loading import parse_campaign
from tansaku.proposer import Observation, Proposer
from tansaku.proposer.constraints import satisfies
from tansaku.proposer.learning import IntegratedVariance, integration_points

LEARN = """
name: map
seed: 4
purpose: learn
budget: {experiments: 20}
space:
  - {name: x, type: continuous, bounds: [-5, 10]}
  - {name: y, type: continuous, bounds: [0, 15]}
objectives:
  - {name: z, goal: minimize}
proposer: {initial: {n: 5}, num_restarts: 2, raw_samples: 64}
driver:
  type: simulated
  simulator: {type: benchmark, function: branin}
"""

MIXTURE = """
name: mixture
seed: 2
purpose: learn
budget: {experiments: 20}
space:
  - {name: cs, type: continuous, bounds: [0, 0.3]}
  - {name: ma, type: continuous, bounds: [0, 1]}
  - {name: fa, type: continuous, bounds: [0, 1]}
  - {name: anneal_c, type: discrete, bounds: [100, 200], step: 25}
  - {name: solvent, type: categorical, values: [dmf, dmso, gbl]}
mixtures:
  - {components: [cs, ma, fa], total: 1}
constraints:
  - "ma <= 2 * fa"
objectives:
  - {name: instability, goal: minimize}
driver:
  type: simulated
  simulator: {type: function, function: "math:sin"}
"""


def load(text: str, base_dir: Path = Path("."), **replacements: str):
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return parse_campaign(textwrap.dedent(text), base_dir / "learn.yaml").campaign


def branin(point: dict) -> float:
    x, y = float(point["x"]), float(point["y"])
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10


def observations_after(proposer: Proposer, count: int) -> list[Observation]:
    observations: list[Observation] = []
    while len(observations) < count:
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=len(observations))
        observations.append(Observation(proposal.parameters, branin(proposal.parameters)))
    return observations


def test_a_learning_proposal_reduces_the_integrated_variance_more_than_random_points() -> None:
    campaign = load(LEARN)
    proposer = Proposer(campaign)
    observations = observations_after(proposer, 8)
    (proposal,) = proposer.suggest(1, observations, proposed_so_far=8)
    assert proposal.method == "gp"
    assert proposal.details["acquisition"] == "IntegratedVariance"
    surrogate = proposer.surrogate(observations, proposed_so_far=8)
    assert surrogate is not None and surrogate.scale == "signed", "learning never uses bilog"
    points = integration_points(proposer.encoding, proposer.constraints, campaign.seed)
    acquisition = IntegratedVariance(surrogate.model, points)
    chosen = acquisition(surrogate.encode([proposal.parameters]).unsqueeze(0))
    generator = torch.Generator().manual_seed(0)
    unit = torch.rand(32, 1, 2, generator=generator, dtype=torch.float64)
    random = acquisition(torch.tensor([-5.0, 0.0]) + unit * 15).detach()
    assert float(chosen) > float(random.max())


def test_the_stop_rules_uncertainty_is_recorded_and_falls_as_the_map_fills_in() -> None:
    proposer = Proposer(load(LEARN))
    observations = observations_after(proposer, 6)
    (early,) = proposer.suggest(1, observations, proposed_so_far=6)
    observations = observations_after(proposer, 16)
    (late,) = proposer.suggest(1, observations, proposed_so_far=16)
    assert 0 < late.details["mean_relative_sd"] < early.details["mean_relative_sd"]


@pytest.mark.parametrize("pending", [None, 2])
@pytest.mark.parametrize("q", [1, 3])
@pytest.mark.parametrize("noise_free", [False, True])
def test_the_closed_form_equals_botorchs_integrated_posterior_variance(
    q: int, pending: int | None, noise_free: bool
) -> None:
    campaign = load(LEARN, **{"goal: minimize}": f"goal: minimize, noise_free: {noise_free}}}"})
    proposer = Proposer(campaign)
    observations = observations_after(proposer, 9)
    model = proposer.surrogate(observations).model
    generator = torch.Generator().manual_seed(1)
    points = torch.rand(200, 2, generator=generator, dtype=torch.float64) * 15 - torch.tensor(
        [5.0, 0.0]
    )
    x_pending = None if pending is None else points[:pending]
    candidates = torch.rand(6, q, 2, generator=generator, dtype=torch.float64) * 10
    ours = IntegratedVariance(model, points, x_pending)(candidates)
    botorch = qNegIntegratedPosteriorVariance(model, points, X_pending=x_pending)(candidates)
    assert torch.allclose(ours, botorch, rtol=1e-9, atol=1e-12)


def test_the_integration_points_lie_inside_mixtures_constraints_and_allowed_values() -> None:
    campaign = load(MIXTURE)
    proposer = Proposer(campaign)
    points = integration_points(proposer.encoding, proposer.constraints, campaign.seed, n=300)
    assert points.shape == (300, 5)
    decoded = [proposer.encoding.decode(row.tolist()) for row in points]
    for point in decoded:
        assert satisfies(point, proposer.constraints), point
        assert point["cs"] <= 0.3 and point["anneal_c"] in (100, 125, 150, 175, 200)
    sums = points[:, :3].sum(-1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-9)
    # Spread over the whole region, not piled up in a corner of it.
    assert {p["solvent"] for p in decoded} == {"dmf", "dmso", "gbl"}
    assert points[:, 0].std() > 0.05 and points[:, 1].max() > 0.6


def test_a_region_too_thin_for_rejection_is_sampled_by_hit_and_run() -> None:
    # cs >= 0.29 keeps one box point in thirty: fewer than one in OVERSAMPLING (16).
    campaign = load(MIXTURE, **{'"ma <= 2 * fa"': '"ma <= 2 * fa"\n  - "cs >= 0.29"'})
    proposer = Proposer(campaign)
    points = integration_points(proposer.encoding, proposer.constraints, campaign.seed, n=100)
    assert points.shape == (100, 5)
    assert all(
        satisfies(proposer.encoding.decode(row.tolist()), proposer.constraints) for row in points
    )


def test_learning_proposals_in_a_mixture_space_respect_it() -> None:
    campaign = load(MIXTURE, **{"driver:": "proposer: {num_restarts: 2, raw_samples: 32}\ndriver:"})
    proposer = Proposer(campaign)
    observations: list[Observation] = []
    for step in range(8):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=step)
        point = proposal.parameters
        assert satisfies(point, proposer.constraints)
        value = (point["cs"] - 0.1) ** 2 + point["fa"] + point["anneal_c"] / 1000
        observations.append(Observation(point, value))
    assert proposal.method == "gp" and "mean_relative_sd" in proposal.details


def test_a_learning_pool_campaign_chooses_unmeasured_rows(tmp_path: Path) -> None:
    rows = [{"x": float(x), "y": float(y)} for x in range(-5, 11, 3) for y in range(0, 16, 3)]
    lines = ["x,y", *(f"{row['x']},{row['y']}" for row in rows)]
    (tmp_path / "pool.csv").write_text("\n".join(lines) + "\n")
    campaign = load(
        LEARN,
        tmp_path,
        **{"proposer:": "candidates: {path: pool.csv}\nproposer:"},
    )
    proposer = Proposer(campaign, rows)
    observations: list[Observation] = []
    for step in range(9):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=step)
        assert proposal.parameters in rows
        assert proposal.parameters not in [o.parameters for o in observations]
        observations.append(Observation(proposal.parameters, branin(proposal.parameters)))
    assert proposal.method == "gp" and proposal.details["mean_relative_sd"] > 0
