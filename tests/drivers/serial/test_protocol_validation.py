"""Protocol mistakes are validation errors at `tansaku validate` time, on the right line."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.campaign import CampaignError, load_campaign
from tests.conftest import REPO, write_campaign

CAMPAIGN = """
    name: serial-check
    budget: {experiments: 4}
    space:
      - {name: temp, type: continuous, bounds: [20, 200]}
      - {name: solvent, type: categorical, values: [water, ethanol]}
    objectives:
      - {name: current, goal: maximize}
    driver:
      type: serial
      devices:
        plate: {port: /dev/ttyUSB0, protocol: plate.yaml}
        meter:
          port: socket://127.0.0.1:5025
          protocol:
            objectives:
              current: {query: ":READ?", pattern: '^(?P<value>[^,]+)'}
"""
PLATE = """
parameters:
  temp: {send: "OUT_SP_1 {temp:.1f}", limits: [20, 300]}
  solvent: {send: "SOLV {solvent}", map: {water: W, ethanol: E}}
safe_state:
  - {send: STOP_1}
"""


def problems(tmp_path: Path, campaign: str = CAMPAIGN, plate: str = PLATE) -> list[str]:
    (tmp_path / "plate.yaml").write_text(plate)
    with pytest.raises(CampaignError) as caught:
        load_campaign(write_campaign(tmp_path, campaign))
    return [str(problem) for problem in caught.value.problems]


def test_a_valid_serial_campaign_and_the_shipped_protocols(tmp_path: Path) -> None:
    (tmp_path / "plate.yaml").write_text(PLATE)
    assert load_campaign(write_campaign(tmp_path, CAMPAIGN)).campaign.driver.type == "serial"
    assert load_campaign(REPO / "campaigns" / "film-anneal-serial.yaml")


@pytest.mark.parametrize(
    ("plate", "expected"),
    [
        (PLATE.replace("safe_state:", "safety:"), "safety: Extra inputs are not permitted"),
        (
            PLATE.replace("{temp:.1f}", "{tmp:.1f}"),
            "template 'OUT_SP_1 {tmp:.1f}' names 'tmp', which is not a campaign parameter",
        ),
        (
            PLATE.replace("limits: [20, 300]", "limits: [300, 20]"),
            "the low limit is above the high one",
        ),
        (
            PLATE.replace("  temp:", "  pressure:"),
            "applies 'pressure', which is not a campaign parameter",
        ),
    ],
)
def test_protocol_file_mistakes(tmp_path: Path, plate: str, expected: str) -> None:
    found = problems(tmp_path, plate=plate)
    assert any("campaign.yaml:11:" in p and expected in p for p in found), found


def test_an_invalid_regex_or_missing_value_group(tmp_path: Path) -> None:
    found = problems(tmp_path, CAMPAIGN.replace("'^(?P<value>[^,]+)'", "'^(?P<value>[^,+'"))
    assert any(
        "driver.devices.meter.protocol.objectives.current.pattern: invalid regular expression" in p
        for p in found
    ), found
    found = problems(tmp_path, CAMPAIGN.replace("'^(?P<value>[^,]+)'", "'^([^,]+)'"))
    assert any("needs a named group (?P<value>...)" in p for p in found), found


def test_every_parameter_and_objective_needs_exactly_one_device(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        plate=PLATE.replace(
            '  solvent: {send: "SOLV {solvent}", map: {water: W, ethanol: E}}\n', ""
        ),
    )
    assert any("driver.devices: no device applies the parameter 'solvent'" in p for p in found)
    found = problems(tmp_path, CAMPAIGN.replace("name: current", "name: voltage"))
    assert any("no device reads the objective 'voltage'" in p for p in found), found
