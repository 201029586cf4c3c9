"""The multi-fidelity proposer: it chooses the source with the point, by what an
experiment there would tell of the truth per unit of cost, within the cost budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from tansaku.campaign.fidelities import AT_TARGET, FIDELITY
from tansaku.campaign.loading import load_campaign
from tansaku.proposer import Observation
from tansaku.proposer.fidelity import MultiFidelityProposer
from tansaku.simulators.fidelity import branin, cheap_branin
from tests.conftest import write_campaign

CAMPAIGN = """
name: mf
seed: 3
budget: {{cost: {budget}}}
space:
  - {{name: x1, type: continuous, bounds: [-5, 10]}}
  - {{name: x2, type: continuous, bounds: [0, 15]}}
objectives:
  - {{name: y, goal: minimize}}
proposer: {{num_restarts: 4, raw_samples: 128}}
fidelities:
  simulation:
    cost: {cheap}
    driver:
      type: simulated
      simulator: {{type: function, function: "tansaku.simulators.fidelity:cheap_branin"}}
  experiment: {{cost: 20}}
driver:
  type: simulated
  simulator: {{type: function, function: "tansaku.simulators.fidelity:branin"}}
"""


def _proposer(tmp_path: Path, cheap: float = 1, budget: float = 400) -> MultiFidelityProposer:
    text = CAMPAIGN.format(cheap=cheap, budget=budget)
    return MultiFidelityProposer(load_campaign(write_campaign(tmp_path, text)).campaign)


def _measure(point: dict) -> Observation:
    truth = point[FIDELITY] == "experiment"
    value = branin(point) if truth else cheap_branin(point)
    return Observation(point, value, {"y": value})


def _initial(proposer: MultiFidelityProposer) -> list[Observation]:
    observations: list[Observation] = []
    for index in range(proposer.campaign.initial_size):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=index)
        observations.append(_measure(proposal.parameters))
    return observations


def test_the_initial_design_is_cheap_but_for_its_last_point(tmp_path: Path) -> None:
    proposer = _proposer(tmp_path)
    sources = [o.parameters[FIDELITY] for o in _initial(proposer)]
    assert sources == ["simulation"] * 4 + ["experiment"]


def test_a_cheap_simulation_is_chosen_and_one_nearly_as_dear_is_not(tmp_path: Path) -> None:
    # The same results so far; what differs is what the simulation costs. At 1 of the
    # experiment's 20, what a simulation tells of the true optimum is cheap, so the
    # proposer asks it; at 19 of 20 it pays to measure the truth itself.
    (tmp_path / "cheap").mkdir()
    observations = _initial(_proposer(tmp_path / "cheap"))
    cheap = _proposer(tmp_path / "cheap")
    (proposal,) = cheap.suggest(1, observations, proposed_so_far=len(observations))
    assert proposal.parameters[FIDELITY] == "simulation"
    assert proposal.details[AT_TARGET] is False and proposal.details["cost"] == 1
    by_source = proposal.details["acquisition_by_fidelity"]
    assert by_source["simulation"] > by_source["experiment"]

    (tmp_path / "dear").mkdir()
    dear = _proposer(tmp_path / "dear", cheap=19)
    (proposal,) = dear.suggest(1, observations, proposed_so_far=len(observations))
    assert proposal.parameters[FIDELITY] == "experiment"
    assert proposal.details[AT_TARGET] is True and proposal.details["cost"] == 20


@pytest.mark.parametrize(("budget", "expected"), [(45.5, {"simulation"}), (43.5, set())])
def test_only_sources_the_budget_can_still_pay_for_are_proposed(
    tmp_path: Path, budget: float, expected: set[str]
) -> None:
    # The initial design spent 4 x 1 + 20 = 24 and an experiment pending 20 more: 1.5
    # left pays for a simulation only, -0.5 for nothing.
    proposer = _proposer(tmp_path, budget=budget)
    observations = _initial(proposer)
    pending = [{"x1": 0.0, "x2": 0.0, FIDELITY: "experiment"}]
    left = proposer.cost_left(observations, pending, [])
    assert left == pytest.approx(budget - 44)
    proposals = proposer.suggest(1, observations, pending, proposed_so_far=6)
    assert {p.parameters[FIDELITY] for p in proposals} == expected
    assert all(-5 <= p.parameters["x1"] <= 10 and 0 <= p.parameters["x2"] <= 15 for p in proposals)
