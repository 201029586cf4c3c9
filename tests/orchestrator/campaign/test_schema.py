"""Rules across a campaign's sections, and a dry run's simulator checked through the registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tansaku.campaign.loading import CampaignError, parse_campaign
from tests.conftest import REPO

CAMPAIGN = """\
name: demo
budget: {experiments: 10}
space:
  - {name: x, type: continuous, bounds: [0, 1]}
  - {name: d, type: discrete, values: [0.5, 1]}
objectives:
  - {name: y, goal: maximize}
driver: {type: simulated, simulator: {type: benchmark, function: branin}}
dry_run:
  simulator: {type: benchmark, function: branin}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(CampaignError) as caught:
        parse_campaign(text, Path("c.yaml"))
    return [str(problem) for problem in caught.value.problems]


def test_the_campaign_is_valid() -> None:
    campaign = parse_campaign(CAMPAIGN, Path("c.yaml")).campaign
    assert campaign.dry_run is not None
    assert campaign.dry_run.simulator.type == "benchmark"


def test_every_broken_cross_field_rule_is_reported_on_its_own_field() -> None:
    text = CAMPAIGN.replace("name: y, goal", "name: x, goal").replace(
        "driver:", "outcomes:\n  - {name: d}\ndriver:"
    )
    assert problems_of(text) == [
        "c.yaml:6:1: objectives: x is both a parameter and an objective",
        "c.yaml:8:1: outcomes: d: an outcome needs a name no parameter, objective or other "
        "outcome has",
    ]


def test_a_dry_run_simulator_is_checked_by_the_simulated_drivers_model() -> None:
    text = CAMPAIGN.replace("function: branin}\n", "function: nope}\n")
    assert problems_of(text) == [
        "c.yaml:10:32: dry_run.simulator.function: Input should be 'branin', 'hartmann6', "
        "'ackley' or 'branin_currin' (got 'nope')"
    ]


def test_repeated_discrete_values_are_named() -> None:
    text = CAMPAIGN.replace("values: [0.5, 1]", "values: [0.5, 1, 0.5]")
    assert problems_of(text) == ["c.yaml:5:5: space[1]: values must be distinct; repeated: 0.5"]


def test_the_loader_imports_no_driver_implementation() -> None:
    code = (
        "import sys, tansaku.campaign.loading; "
        "print(sorted(m for m in sys.modules if m.startswith("
        "('tansaku.drivers.', 'tansaku.simulators', 'torch', 'prefect'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True
    )
    assert loaded.stdout.strip() == "['tansaku.drivers.base', 'tansaku.drivers.registry']"
