"""Categorical values described by numbers: the model learns across values it has not seen."""

from __future__ import annotations

import textwrap
from pathlib import Path

import torch

from tansaku.campaign.descriptors import DescriptorTable
from tansaku.campaign.loading import load_campaign
from tansaku.proposer import Observation, Proposer
from tansaku.proposer.descriptors import descriptor_features

POLARITY = {
    name: float(k)
    for k, name in enumerate(("ka", "ox", "be", "mu", "zi", "do", "ur", "te", "ly", "ni"), 1)
}
"""Ten solvents whose only relevant property is a polarity of 1..10 (names in no order)."""
BY_POLARITY = {p: name for name, p in POLARITY.items()}

CAMPAIGN = """
name: solvent-screen
seed: 5
budget: {{experiments: 12}}
space:
  - {{name: temperature, type: continuous, bounds: [20, 80]}}
  - name: solvent
    type: categorical
    values: [{values}]
    {descriptors}
objectives:
  - {{name: y, goal: maximize}}
proposer: {{initial: {{n: 4}}, num_restarts: 4, raw_samples: 64}}
driver:
  type: simulated
  simulator: {{type: function, function: "math:sin"}}
"""


def campaign(tmp_path: Path, described: bool, fixed: str | None = None):
    table = "solvent,polarity,molar_mass\n" + "".join(
        f"{name},{p},{50 + 3 * p}\n" for name, p in POLARITY.items()
    )
    (tmp_path / "solvents.csv").write_text(table)
    text = CAMPAIGN.format(
        values=", ".join(POLARITY),
        descriptors=("descriptors: {path: solvents.csv}" if described else "")
        + (f"\n    fixed: {fixed}" if fixed else ""),
    )
    (tmp_path / "campaign.yaml").write_text(textwrap.dedent(text))
    return load_campaign(tmp_path / "campaign.yaml")


def yield_of(point: dict) -> float:
    """Best at polarity 6.2; temperature matters a little."""
    return -((POLARITY[point["solvent"]] - 6.2) ** 2) + 0.01 * point["temperature"]


def measured(*polarities: int) -> list[Observation]:
    """Each solvent of these polarities measured at 30 and 70 degrees."""
    points = [
        {"temperature": t, "solvent": BY_POLARITY[float(p)]}
        for p in polarities
        for t in (30.0, 70.0)
    ]
    return [Observation(point, yield_of(point)) for point in points]


def test_descriptors_steer_the_proposer_to_an_unseen_value_near_the_best(tmp_path: Path) -> None:
    loaded = campaign(tmp_path, described=True)
    proposer = Proposer(loaded.campaign, descriptors=loaded.descriptors())
    seen = measured(1, 3, 5, 8, 10)

    (proposal,) = proposer.suggest(1, seen, proposed_so_far=len(seen))

    assert proposal.method == "gp"
    # Of the unseen polarities 2, 4, 6, 7 and 9, only the descriptors say that 6 and 7 lie
    # between the two best measured solvents.
    assert POLARITY[str(proposal.parameters["solvent"])] in {6.0, 7.0}
    assert 20.0 <= proposal.parameters["temperature"] <= 80.0
    # Molar mass follows polarity here, so the table reduces to one component.
    assert len(proposal.details["hyperparameters"]["lengthscale"]) == 2


def test_without_descriptors_each_value_is_its_own_category(tmp_path: Path) -> None:
    loaded = campaign(tmp_path, described=False)
    assert loaded.descriptors() == {}
    proposer = Proposer(loaded.campaign)
    seen = measured(1, 3, 5, 8, 10)
    (proposal,) = proposer.suggest(1, seen, proposed_so_far=len(seen))
    assert proposal.method == "gp" and proposal.parameters["solvent"] in POLARITY
    # One-hot: temperature plus one indicator per solvent, each with its own lengthscale.
    assert len(proposal.details["hyperparameters"]["lengthscale"]) == 1 + len(POLARITY)


def test_a_categorical_held_at_one_value_is_one_constant_input(tmp_path: Path) -> None:
    loaded = campaign(tmp_path, described=False, fixed="ox")
    seen = [Observation({**o.parameters, "solvent": "ox"}, o.value) for o in measured(1, 3, 5)]
    (proposal,) = Proposer(loaded.campaign).suggest(1, seen, proposed_so_far=len(seen))
    assert proposal.parameters["solvent"] == "ox"
    # Temperature and one constant column, not ten indicator columns that never change.
    assert len(proposal.details["hyperparameters"]["lengthscale"]) == 2


def test_a_proposer_needs_exactly_the_tables_the_campaign_names(tmp_path: Path) -> None:
    loaded = campaign(tmp_path, described=True)
    for wrong in (None, {"other": loaded.descriptors()["solvent"]}):
        try:
            Proposer(loaded.campaign, descriptors=wrong)
        except ValueError as error:
            assert "LoadedCampaign.descriptors()" in str(error)
        else:
            raise AssertionError("a missing or unknown table must be refused")


def test_features_ignore_units_and_keep_identical_values_identical() -> None:
    rows = ((1.0, 10.0, 5.0), (2.0, 30.0, 5.0), (2.0, 30.0, 5.0), (4.0, 20.0, 5.0))
    features = descriptor_features(DescriptorTable(("a", "b", "c"), rows, None), torch.float64)
    rescaled = tuple((a * 1000.0, b, c) for a, b, c in rows)  # e.g. g/mol instead of kg/mol
    again = descriptor_features(DescriptorTable(("a", "b", "c"), rescaled, None), torch.float64)

    assert features.shape == (4, 2)  # the constant column adds nothing; two others span 2
    assert torch.allclose(features, again)
    assert torch.equal(features[1], features[2])
    assert features.min() == 0.0 and features.max() == 1.0


def test_the_number_of_components_can_be_chosen() -> None:
    independent = torch.randn(10, 6, generator=torch.Generator().manual_seed(0))
    rows = tuple(tuple(row) for row in independent.tolist())
    default = descriptor_features(DescriptorTable(tuple("abcdef"), rows, None), torch.float64)
    wide = descriptor_features(DescriptorTable(tuple("abcdef"), rows, 5), torch.float64)
    assert default.shape == (10, 3)
    assert wide.shape == (10, 5)
    # The leading components are the same whatever number is kept.
    assert torch.allclose(wide[:, :3], default)
