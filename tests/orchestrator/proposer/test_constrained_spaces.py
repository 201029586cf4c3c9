"""Mixtures, linear constraints, discrete and fixed parameters: validated, then respected.

Every proposal, from the initial design and from the model, must lie inside the
constraints and use only allowed values.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tansaku.campaign.loading import CampaignError, parse_campaign
from tansaku.proposer import Observation, Proposer
from tansaku.proposer.constraints import satisfies

REPO = Path(__file__).resolve().parents[3]

PEROVSKITE = """
name: perovskite
seed: 7
budget: {experiments: 30}
space:
  - {name: cs, type: continuous, bounds: [0, 0.3]}
  - {name: ma, type: continuous, bounds: [0, 1]}
  - {name: fa, type: continuous, bounds: [0, 1]}
  - {name: anneal_c, type: discrete, bounds: [100, 200], step: 25}
  - {name: minutes, type: integer, bounds: [1, 60], fixed: 10}
  - {name: solvent, type: categorical, values: [dmf, dmso, gbl]}
mixtures:
  - {components: [cs, ma, fa], total: 1}
constraints:
  - "anneal_c + 2 * minutes <= 210"
  - "ma <= 2 * fa"
objectives:
  - {name: instability, goal: minimize}
proposer: {initial: {n: 6}, num_restarts: 2, raw_samples: 64}
driver:
  type: simulated
  simulator: {type: function, function: "math:sin"}
"""


def load(text: str = PEROVSKITE, **replacements: str):
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return parse_campaign(textwrap.dedent(text), Path("perovskite.yaml")).campaign


def instability(point: dict) -> float:
    """A smooth toy response with its optimum inside the constrained region."""
    return (point["cs"] - 0.1) ** 2 + (point["fa"] - 0.6) ** 2 + point["anneal_c"] / 1000


def assert_allowed(point: dict, proposer: Proposer) -> None:
    assert satisfies(point, proposer.constraints), point
    assert math.isclose(point["cs"] + point["ma"] + point["fa"], 1.0, abs_tol=1e-6)
    assert point["anneal_c"] + 2 * point["minutes"] <= 210 + 1e-9
    assert point["anneal_c"] in (100.0, 125.0, 150.0, 175.0)
    assert point["minutes"] == 10
    assert point["solvent"] in ("dmf", "dmso", "gbl")
    assert 0 <= point["cs"] <= 0.3 + 1e-12


def test_initial_design_and_model_proposals_respect_every_constraint() -> None:
    proposer = Proposer(load())
    initial = proposer.suggest(6, [])
    observations = [Observation(p.parameters, instability(p.parameters)) for p in initial]
    model_based = proposer.suggest(2, observations, proposed_so_far=6)
    assert [p.method for p in model_based] == ["gp", "gp"]
    for proposal in initial + model_based:
        assert_allowed(proposal.parameters, proposer)
    assert len({p.parameters["anneal_c"] for p in initial}) > 1, "the design spreads out"


def test_the_initial_design_is_the_same_however_it_is_split() -> None:
    proposer = Proposer(load())
    whole = [p.parameters for p in proposer.suggest(6, [])]
    parts = [p.parameters for p in proposer.suggest(2, [])] + [
        p.parameters for p in proposer.suggest(4, [], proposed_so_far=2)
    ]
    assert whole == parts


@pytest.mark.parametrize(
    ("replacements", "message"),
    [
        ({"total: 1}": "total: 3}"}, "add up to [0, 2.3], which cannot reach the total 3"),
        ({"<= 210": "<= 50"}, "no point within the parameters' bounds satisfies all of"),
        ({"ma <= 2 * fa": "ma <= 2 * solvent"}, "'solvent' is categorical"),
        ({"ma <= 2 * fa": "ma * fa <= 1"}, "constraint 2"),
        ({"ma <= 2 * fa": "ma <= 2 * fx"}, "'fx'"),
        (
            {
                "ma, type: continuous, bounds: [0, 1]}": "ma, type: continuous, bounds: [0.01, 1], "
                "log_scale: true}"
            },
            "'ma' must be a continuous parameter on a linear scale",
        ),
        ({"fixed: 10}": "fixed: 99}"}, "fixed value 99 lies outside the bounds [1, 60]"),
        ({"step: 25}": "step: 25, fixed: 110}"}, "fixed value 110.0 is not one of"),
        ({"step: 25}": "step: 0.001}"}, "makes 100001 values"),
        ({"bounds: [100, 200], step: 25}": "step: 25}"}, "a grid needs both"),
    ],
)
def test_impossible_spaces_are_refused_with_the_reason(replacements, message) -> None:
    with pytest.raises(CampaignError) as caught:
        load(**replacements)
    assert message in str(caught.value)


def test_validating_constraints_imports_no_torch(tmp_path: Path) -> None:
    (tmp_path / "perovskite.yaml").write_text(PEROVSKITE)
    script = (
        "import sys; from pathlib import Path; "
        "from tansaku.campaign.loading import load_campaign; "
        f"load_campaign(Path({str(tmp_path / 'perovskite.yaml')!r})); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True)


def test_optimiser_starts_lie_inside_the_constraints_or_are_left_to_botorch() -> None:
    import torch

    from tansaku.proposer.acquisition import feasible_starts

    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)

    def acquisition(x: torch.Tensor) -> torch.Tensor:
        return -(x - 0.3).pow(2).sum(dim=(-1, -2))

    # x1 + x2 <= 0.5, written as BoTorch's -x1 - x2 >= -0.5: an eighth of the box.
    half = [(torch.tensor([0, 1]), torch.tensor([-1.0, -1.0], dtype=torch.float64), -0.5)]
    torch.manual_seed(0)
    starts = feasible_starts(acquisition, bounds, 2, half, {1: 0.1}, 4, 32)
    assert starts is not None and starts.shape == (4, 2, 2)
    assert (starts.sum(-1) <= 0.5 + 1e-9).all() and (starts[..., 1] == 0.1).all()

    # x1 + x2 <= 0.05 leaves about 1/800 of the box: too thin to find by rejection.
    thin = [(half[0][0], half[0][1], -0.05)]
    assert feasible_starts(acquisition, bounds, 1, thin, {}, 4, 32) is None


def test_a_mixtures_optimiser_starts_lie_on_its_total_inside_the_bounds() -> None:
    import torch

    from tansaku.proposer.acquisition import feasible_starts

    # Six fractions adding up to 1, one of them held at 0.2, and the first at most 0.5.
    bounds = torch.tensor([[0.0] * 6, [1.0] * 6], dtype=torch.float64)
    total = [(torch.arange(6), torch.ones(6, dtype=torch.float64), 1.0)]
    at_most_half = [(torch.tensor([0]), torch.tensor([-1.0], dtype=torch.float64), -0.5)]

    def acquisition(x: torch.Tensor) -> torch.Tensor:
        return -(x - 1 / 6).pow(2).sum(dim=(-1, -2))

    torch.manual_seed(0)
    starts = feasible_starts(
        acquisition, bounds, 3, at_most_half, {2: 0.2}, 4, 32, equalities=total
    )
    assert starts is not None and starts.shape == (4, 3, 6)
    assert torch.allclose(starts.sum(-1), torch.ones(4, 3, dtype=torch.float64), atol=1e-9)
    assert (starts >= 0).all() and (starts <= 1).all() and (starts[..., 0] <= 0.5).all()
    assert (starts[..., 2] == 0.2).all()


def test_thompson_sampling_proposes_inside_every_constraint() -> None:
    proposer = Proposer(
        load(**{"num_restarts: 2": "acquisition: {type: thompson}, num_restarts: 2"})
    )
    initial = proposer.suggest(6, [])
    observations = [Observation(p.parameters, instability(p.parameters)) for p in initial]
    model_based = proposer.suggest(3, observations, proposed_so_far=6)
    assert {p.details["acquisition"] for p in model_based} == {"MaxPosteriorSampling"}
    assert len({tuple(p.parameters.values()) for p in model_based}) == 3
    for proposal in model_based:
        assert_allowed(proposal.parameters, proposer)
