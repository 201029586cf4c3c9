"""Element features: what the model sees of a composition, and a pool screened with them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tansaku.campaign.elements import element_table
from tansaku.campaign.loading import load_campaign
from tansaku.proposer import Observation, Proposer
from tansaku.proposer.elements import ElementFeatures, element_blocks
from tansaku.proposer.encoding import SpaceEncoding
from tests.conftest import REPO


def test_a_pure_element_has_its_own_properties_and_no_spread() -> None:
    loaded = load_campaign(REPO / "campaigns" / "oer-elements.yaml")
    encoding = SpaceEncoding(loaded.campaign.space)
    (block,) = element_blocks(loaded.campaign.mixtures, encoding, torch.float64)
    features = ElementFeatures([replace(block, keep_fractions=False)])
    nickel = torch.tensor([[1.0, 0, 0, 0, 0, 0]], dtype=torch.float64)
    lanthanum = torch.tensor([[0, 0, 0, 0, 0, 1.0]], dtype=torch.float64)
    half = (nickel + lanthanum) / 2
    out = features.transform(torch.cat([nickel, lanthanum, half]))

    # The fractions are replaced by 5 means and 5 spreads, each scaled to [0, 1].
    assert out.shape == (3, 10)
    assert out.min() >= 0 and out.max() <= 1
    properties = torch.tensor(element_table().rows(["Ni", "La"]), dtype=torch.float64)
    low, high = block.low, block.high
    assert torch.allclose(out[0, :5], (properties[0] - low) / (high - low))
    assert torch.allclose(out[:2, 5:], torch.zeros(2, 5, dtype=torch.float64))
    # Half nickel, half lanthanum: the mean halfway, a spread of half their difference
    # (scaled by half the range: 1 where they are the extremes, as for electronegativity).
    assert torch.allclose(out[2, :5], (out[0, :5] + out[1, :5]) / 2)
    assert torch.allclose(out[2, 5:], (properties[0] - properties[1]).abs() / (high - low))
    assert out[2, 5] == 1


def test_percent_and_fractions_give_the_same_features() -> None:
    loaded = load_campaign(REPO / "campaigns" / "oer-elements.yaml")
    (block,) = element_blocks(
        loaded.campaign.mixtures, SpaceEncoding(loaded.campaign.space), torch.float64
    )
    features = ElementFeatures([replace(block, keep_fractions=False)])
    x = torch.tensor([[0.2, 0.3, 0.5, 0, 0, 0]], dtype=torch.float64)
    assert torch.allclose(features.transform(x), features.transform(100 * x))


def overpotential(row: dict) -> float:
    """A stand-in plate: good catalysts are nickel-iron-cobalt rich."""
    return 0.5 - 0.2 * (row["ni_load"] + row["fe_load"] + row["co_load"])


@pytest.mark.parametrize("keep_fractions", [False, True])
def test_a_pool_is_screened_on_element_features(tmp_path: Path, keep_fractions: bool) -> None:
    text = (REPO / "campaigns" / "oer-elements.yaml").read_text()
    text = text.replace("la_load: La}", f"la_load: La}}\n    keep_fractions: {keep_fractions}")
    text = text.replace("../simulators", str(REPO / "simulators"))
    path = tmp_path / "oer.yaml"
    path.write_text(text)
    loaded = load_campaign(path)
    rows = loaded.candidates() or []
    proposer = Proposer(loaded.campaign, rows[:300])
    measured = [Observation(r, overpotential(r)) for r in rows[:8]]
    (proposal,) = proposer.suggest(1, measured, proposed_so_far=8)

    assert proposal.method == "gp"
    assert proposal.parameters in rows[:300] and proposal.parameters not in rows[:8]
    lengthscales = proposal.details["hyperparameters"]["lengthscale"]
    assert len(lengthscales) == (16 if keep_fractions else 10)


def test_an_element_categorical_is_modelled_through_the_element_table(tmp_path: Path) -> None:
    path = tmp_path / "dopants.yaml"
    path.write_text(
        "name: dopants\nbudget: {experiments: 6}\n"
        "space:\n  - {name: t, type: continuous, bounds: [300, 900]}\n"
        "  - {name: dopant, type: categorical, values: [Mg, Zn, Ga, Al], descriptors: elements}\n"
        "objectives:\n  - {name: y, goal: maximize}\n"
        "proposer: {num_restarts: 2, raw_samples: 32}\n"
        "driver: {type: simulated, simulator: {type: function, function: 'math:sin'}}\n"
    )
    loaded = load_campaign(path)
    proposer = Proposer(loaded.campaign, descriptors=loaded.descriptors())
    points = [{"t": 300.0 + 100 * i, "dopant": d} for i, d in enumerate(["Mg", "Zn", "Ga", "Al"])]
    measured = [Observation(p, float(i)) for i, p in enumerate(points)]
    (proposal,) = proposer.suggest(1, measured, proposed_so_far=6)
    assert proposal.method == "gp"
    assert proposal.parameters["dopant"] in {"Mg", "Zn", "Ga", "Al"}
    # The temperature and three principal components of the four elements' properties.
    assert len(proposal.details["hyperparameters"]["lengthscale"]) == 4


def test_the_model_of_an_element_mixture_can_be_asked(tmp_path: Path) -> None:
    loaded = load_campaign(REPO / "campaigns" / "oer-elements.yaml")
    rows = (loaded.candidates() or [])[:200]
    proposer = Proposer(loaded.campaign, rows)
    measured = [Observation(r, overpotential(r)) for r in rows[:12]]
    surrogate = proposer.surrogate(measured)
    assert surrogate is not None
    prediction = surrogate.predict(rows[100:103])
    assert prediction.mean.shape[0] == 3
