"""Rules across a campaign's sections, a measured quantity's valid range, and a dry run's
simulator checked through the registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tansaku.campaign.loading import CampaignError, parse_campaign
from tansaku.campaign.objectives import Measured
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


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (
            "{name: y, goal: maximize, valid: [5000, 0]}",
            "c.yaml:7:31: objectives[0].valid: valid range [5000, 0]: the low end 5000 must be "
            "below the high end 0",
        ),
        (
            "{name: y, goal: maximize, valid: [1, 1]}",
            "c.yaml:7:31: objectives[0].valid: valid range [1, 1]: the low end 1 must be below "
            "the high end 1",
        ),
        (
            "{name: y, goal: target, target: 1.4, valid: [0, 1], unit: eV}",
            "c.yaml:7:29: objectives[0].target: target 1.4 lies outside the valid range [0, 1] eV; "
            "it must be a value a real reading can take",
        ),
        (
            "{name: y, goal: minimize, threshold: -2, valid: [0, 1]}",
            "c.yaml:7:31: objectives[0].threshold: threshold -2 lies outside the valid range "
            "[0, 1]; it must be a value a real reading can take",
        ),
    ],
)
def test_a_valid_range_that_no_reading_or_setting_fits_is_refused_on_its_key(
    objective: str, expected: str
) -> None:
    text = CAMPAIGN.replace("{name: y, goal: maximize}", objective)
    assert problems_of(text) == [expected]


def test_an_outcomes_valid_range_is_checked_like_an_objectives() -> None:
    text = CAMPAIGN.replace("driver:", "outcomes:\n  - {name: purity, valid: [1, 0]}\ndriver:")
    assert problems_of(text) == [
        "c.yaml:9:20: outcomes[0].valid: valid range [1, 0]: the low end 1 must be below the "
        "high end 0"
    ]


def test_settings_on_the_ends_of_the_valid_range_are_accepted() -> None:
    text = CAMPAIGN.replace(
        "{name: y, goal: maximize}",
        "{name: y, goal: target, target: 1, threshold: 0, valid: [0, 1]}",
    )
    assert parse_campaign(text, Path("c.yaml")).campaign.objective.valid == (0, 1)


def measured(valid: str = "valid: [0, 5000], ", unit: str = "unit: S/cm") -> list[Measured]:
    """The objective `conductivity` and the outcome `purity`, with their valid ranges."""
    text = CAMPAIGN.replace(
        "{name: y, goal: maximize}", f"{{name: conductivity, goal: maximize, {valid}{unit}}}"
    ).replace("driver:", "outcomes:\n  - {name: purity, valid: [0, 1]}\ndriver:")
    campaign = parse_campaign(text, Path("c.yaml")).campaign
    return [*campaign.objectives, *campaign.outcomes]


def test_a_reading_outside_the_valid_range_is_named_with_its_range_and_unit() -> None:
    conductivity, purity = measured()
    assert conductivity.outside_valid(9000) == (
        "conductivity = 9000 lies outside its valid range [0, 5000] S/cm"
    )
    assert conductivity.outside_valid(-0.5) == (
        "conductivity = -0.5 lies outside its valid range [0, 5000] S/cm"
    )
    assert purity.outside_valid(1.5) == "purity = 1.5 lies outside its valid range [0, 1]"
    # Shown to every digit it needs: "1" beside a range that ends at 1 would read as fine.
    assert purity.outside_valid(1.0000001) == (
        "purity = 1.0000001 lies outside its valid range [0, 1]"
    )


def test_readings_within_the_valid_range_or_without_one_are_fine() -> None:
    conductivity, purity = measured()
    assert [conductivity.outside_valid(v) for v in (0, 2500.5, 5000)] == [None] * 3
    assert purity.outside_valid(1) is None
    unbounded, _ = measured(valid="", unit="")
    assert unbounded.outside_valid(1e12) is None
