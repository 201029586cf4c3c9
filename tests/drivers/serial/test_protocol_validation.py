"""Protocol mistakes are validation errors at `tansaku validate` time, on the right line.

A problem inside a protocol file is placed on that file's own line and column; a protocol
that does not fit the campaign (a bound beyond a hard limit, a template that cannot
format a parameter's values) is refused naming both the campaign field and the protocol's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tansaku.campaign import CampaignError, load_campaign
from tests.conftest import REPO, tansaku, write_campaign

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
# Line numbers below count from this first line.
PLATE = """\
parameters:
  temp:
    send: "OUT_SP_1 {temp:.1f}"
    limits: [20, 300]
  solvent:
    send: "SOLV {solvent}"
    map: {water: W, ethanol: E}
safe_state:
  - {send: STOP_1}
"""
POLL = """\
wait:
  poll: {query: IN_PV_1, pattern: '^(?P<value>[0-9.]+) 1$', target: TARGET, within: 2,
         time_limit: 10s}
"""


def write(tmp_path: Path, campaign: str, plate: str) -> Path:
    (tmp_path / "plate.yaml").write_text(plate)
    return write_campaign(tmp_path, campaign)


def problems(tmp_path: Path, campaign: str = CAMPAIGN, plate: str = PLATE) -> list[str]:
    with pytest.raises(CampaignError) as caught:
        load_campaign(write(tmp_path, campaign, plate))
    return [str(problem) for problem in caught.value.problems]


def only(found: list[str], where: str, message: str) -> None:
    """``found`` is one problem, placed at ``where`` (``file:line:column: field``), saying
    ``message``."""
    assert len(found) == 1, found
    assert f"/{where}: " in found[0] and message in found[0], found


def test_a_valid_serial_campaign_and_the_shipped_protocols(tmp_path: Path) -> None:
    assert load_campaign(write(tmp_path, CAMPAIGN, PLATE)).campaign.driver.type == "serial"
    assert load_campaign(REPO / "campaigns" / "film-anneal-serial.yaml")


@pytest.mark.parametrize(
    ("plate", "where", "expected"),
    [
        (
            PLATE.replace("safe_state:", "safety:"),
            "plate.yaml:8:1: safety",
            "unknown key 'safety'; expected one of: line, setup, parameters, start, wait",
        ),
        (
            PLATE.replace("{temp:.1f}", "{tmp:.1f}"),
            "plate.yaml:3:5: parameters.temp.send",
            "template 'OUT_SP_1 {tmp:.1f}' names 'tmp', which is not a campaign parameter; "
            "name one of: temp, solvent",
        ),
        (
            PLATE.replace("limits: [20, 300]", "limits: [300, 20]"),
            "plate.yaml:2:3: parameters.temp",
            "the low limit is above the high one",
        ),
        (
            PLATE.replace("  solvent:", "  pressure:").replace("{solvent}", "{temp}"),
            "plate.yaml:5:3: parameters.pressure",
            "applies 'pressure', which is not a campaign parameter",
        ),
        (
            PLATE.replace("{temp:.1f}", "{}"),
            "plate.yaml:3:5: parameters.temp.send",
            "template 'OUT_SP_1 {}' has a positional field {}; name the parameter instead",
        ),
        (PLATE.replace("[20, 300]", "[20, 300"), "plate.yaml:5:", "invalid YAML"),
        (
            PLATE + POLL.replace("TARGET", "tmp"),
            "plate.yaml:11:61: wait.poll.target",
            "'tmp' is neither a campaign parameter nor a number",
        ),
        (
            PLATE + POLL.replace("TARGET", "solvent"),
            "plate.yaml:11:61: wait.poll.target",
            "names 'solvent', whose values are not all numbers (e.g. 'water')",
        ),
    ],
    ids=[
        "unknown-key",
        "unknown-field",
        "reversed-limits",
        "unknown-parameter",
        "positional",
        "yaml",
        "unknown-target",
        "word-target",
    ],
)
def test_a_mistake_in_a_protocol_file_is_placed_in_that_file(
    tmp_path: Path, plate: str, where: str, expected: str
) -> None:
    found = [p for p in problems(tmp_path, plate=plate) if f"/{where}" in p]
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        ("gone.yaml", "gone.yaml (No such file or directory); give a protocol file's path"),
        ("/dev/zero", "the protocol file /dev/zero is larger than 1 MiB"),
    ],
    ids=["missing", "endless"],
)
def test_a_protocol_file_that_cannot_be_read_is_placed_on_the_campaign_line(
    tmp_path: Path, protocol: str, expected: str
) -> None:
    found = problems(tmp_path, CAMPAIGN.replace("protocol: plate.yaml", f"protocol: {protocol}"))
    only(found, "campaign.yaml:11:33: driver.devices.plate.protocol", expected)


def test_yes_in_a_protocol_file_is_not_taken_for_a_number(tmp_path: Path) -> None:
    found = problems(tmp_path, plate=PLATE.replace("limits: [20, 300]", "limits: [yes, 300]"))
    only(found, "plate.yaml:4:14: parameters.temp.limits[0]", "read as true or false")


def test_an_invalid_regex_or_missing_value_group(tmp_path: Path) -> None:
    found = problems(tmp_path, CAMPAIGN.replace("'^(?P<value>[^,]+)'", "'^(?P<value>[^,+'"))
    assert any(
        "driver.devices.meter.protocol.objectives.current.pattern: invalid regular expression" in p
        for p in found
    ), found
    found = problems(tmp_path, CAMPAIGN.replace("'^(?P<value>[^,]+)'", "'^([^,]+)'"))
    assert any("needs a named group (?P<value>...)" in p for p in found), found


def test_every_parameter_and_objective_needs_exactly_one_device(tmp_path: Path) -> None:
    without_solvent = PLATE.replace(
        '  solvent:\n    send: "SOLV {solvent}"\n    map: {water: W, ethanol: E}\n', ""
    )
    found = problems(tmp_path, plate=without_solvent)
    assert any("driver.devices: no device applies the parameter 'solvent'" in p for p in found)
    found = problems(tmp_path, CAMPAIGN.replace("name: current", "name: voltage"))
    assert any("no device reads the objective 'voltage'" in p for p in found), found


@pytest.mark.parametrize("target", ["25", "'25'", "temp"])
def test_a_poll_target_is_a_number_or_a_parameter(tmp_path: Path, target: str) -> None:
    assert load_campaign(write(tmp_path, CAMPAIGN, PLATE + POLL.replace("TARGET", target)))


# The campaign against the protocol's hard limits -----------------------------------------


def test_a_map_entry_outside_the_limits_is_refused_naming_both(tmp_path: Path) -> None:
    plate = PLATE.replace("map: {water: W, ethanol: E}", 'map: {water: "250", ethanol: E}')
    plate = plate.replace("    map:", "    limits: [0, 200]\n    map:")
    found = problems(tmp_path, plate=plate)
    assert found == [
        f"{tmp_path}/plate.yaml:8:11: parameters.solvent.map.water: maps 'water' to '250', "
        "outside the hard limits [0, 200] of parameters.solvent.limits; change the map entry "
        "or the limits",
        f"{tmp_path}/plate.yaml:8:25: parameters.solvent.map.ethanol: maps 'ethanol' to 'E', "
        "which is not a number within the hard limits [0, 200] of parameters.solvent.limits; "
        "change the map entry or the limits",
    ]


@pytest.mark.parametrize(
    ("space", "where", "allowed"),
    [
        ("type: continuous, bounds: [20, 350]", "space[0].bounds", "values up to 350"),
        ("type: continuous, bounds: [0, 400]", "space[0].bounds", "values down to 0 and up to 400"),
        ("type: integer, bounds: [20, 301]", "space[0].bounds", "values up to 301"),
        ("type: continuous, bounds: [20, 400], fixed: 350", "space[0].fixed", "350"),
        ("type: discrete, values: [100, 250, 350, 400]", "space[0].values", "350, 400"),
        ("type: discrete, bounds: [250, 310], step: 20", "space[0].bounds", "310"),
    ],
    ids=["high-bound", "both-bounds", "integer", "fixed", "discrete", "grid"],
)
def test_a_campaign_value_beyond_a_hard_limit_is_refused_naming_both(
    tmp_path: Path, space: str, where: str, allowed: str
) -> None:
    campaign = CAMPAIGN.replace("type: continuous, bounds: [20, 200]", space)
    only(
        problems(tmp_path, campaign),
        "plate.yaml:4:5: parameters.temp.limits",
        f"the campaign's {where} allows {allowed}, beyond these hard limits [20, 300]; keep "
        f"{where} within them, or every experiment beyond them is refused",
    )


def test_a_fixed_value_within_the_limits_passes_whatever_the_bounds(tmp_path: Path) -> None:
    campaign = CAMPAIGN.replace("bounds: [20, 200]}", "bounds: [20, 400], fixed: 150}")
    assert load_campaign(write(tmp_path, campaign, PLATE))


def test_a_categorical_value_the_map_lacks_is_refused(tmp_path: Path) -> None:
    campaign = CAMPAIGN.replace("values: [water, ethanol]", "values: [water, ethanol, acetone]")
    only(
        problems(tmp_path, campaign),
        "plate.yaml:7:5: parameters.solvent.map",
        "has no entry for 'acetone' of the campaign's space[1].values; add the missing entries",
    )


def test_an_inline_protocol_is_checked_on_the_campaign_lines(tmp_path: Path) -> None:
    campaign = CAMPAIGN.replace(
        "          protocol:\n",
        "          protocol:\n"
        "            parameters:\n"
        '              temp: {send: "V {temp:.2f}", limits: [0, 100]}\n',
    )
    plate = PLATE.replace('  temp:\n    send: "OUT_SP_1 {temp:.1f}"\n    limits: [20, 300]\n', "")
    only(
        problems(tmp_path, campaign, plate),
        "campaign.yaml:16:40: driver.devices.meter.protocol.parameters.temp.limits",
        "the campaign's space[0].bounds allows values up to 200, beyond these hard limits [0, 100]",
    )


# Templates against the parameters' types --------------------------------------------------


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (
            "OUT_SP_1 {temp:d}",
            "template 'OUT_SP_1 {temp:d}' cannot format temp=20.0 (a continuous parameter): "
            "Unknown format code 'd' for object of type 'float'; use a format that suits it, "
            "e.g. {temp:.1f}",
        ),
        (
            "OUT_SP_1 {temp:.1f} {solvent:d}",
            "cannot format solvent='water' (a categorical parameter): Unknown format code 'd' "
            "for object of type 'str'; use a format that suits it, e.g. {solvent}",
        ),
        ("OUT_SP_1 {temp[0]}", "cannot format temp=20.0 (a continuous parameter): 'float'"),
    ],
    ids=["int-format-of-a-float", "other-parameter", "subscript"],
)
def test_a_template_that_cannot_format_its_values_is_refused(
    tmp_path: Path, send: str, expected: str
) -> None:
    plate = PLATE.replace('"OUT_SP_1 {temp:.1f}"', f'"{send}"')
    only(problems(tmp_path, plate=plate), "plate.yaml:3:5: parameters.temp.send", expected)


def test_a_template_formats_the_mapped_word_not_the_campaign_value(tmp_path: Path) -> None:
    plate = PLATE.replace('"SOLV {solvent}"', '"SOLV {solvent:.1f}"')
    only(
        problems(tmp_path, plate=plate),
        "plate.yaml:6:5: parameters.solvent.send",
        "cannot format solvent='W' (a word of its map)",
    )
    numbers = plate.replace("{water: W, ethanol: E}", '{water: "1.5", ethanol: "2"}')
    assert "cannot format solvent='1.5'" in problems(tmp_path, plate=numbers)[0]


def test_an_integer_format_suits_an_integer_parameter(tmp_path: Path) -> None:
    campaign = CAMPAIGN.replace(
        "type: continuous, bounds: [20, 200]", "type: integer, bounds: [20, 200]"
    )
    plate = PLATE.replace("{temp:.1f}", "{temp:d}")
    assert load_campaign(write(tmp_path, campaign, plate))


def test_tansaku_validate_names_the_template_and_the_parameter(tmp_path: Path) -> None:
    campaign = write(tmp_path, CAMPAIGN, PLATE.replace("{temp:.1f}", "{temp:d}"))
    result = tansaku("validate", campaign, cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert (
        f"{tmp_path}/plate.yaml:3:5: parameters.temp.send: template 'OUT_SP_1 {{temp:d}}' "
        "cannot format temp=20.0" in result.stderr
    )
    assert "Traceback" not in result.stderr
