"""Every problem in a campaign file is reported with its file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tansaku.campaign import CampaignError, load_campaign
from tests.conftest import REPO, write_campaign

VALID = """
    name: demo
    budget: {experiments: 10}
    space:
      - {name: temp, type: continuous, bounds: [20, 200], unit: degC}
      - {name: conc, type: continuous, bounds: [0.001, 1], log_scale: true}
      - {name: minutes, type: integer, bounds: [1, 60]}
      - {name: solvent, type: categorical, values: [water, ethanol]}
    objectives:
      - {name: yield_pct, goal: maximize}
    driver:
      type: simulated
      simulator: {type: dataset, path: table.csv, output: yield_pct}
"""
TABLE = "temp,conc,minutes,solvent,yield_pct\n25,0.1,5,water,12.5\n150,0.01,30,ethanol,40\n"


def problems_of(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "table.csv").write_text(TABLE)
    with pytest.raises(CampaignError) as caught:
        load_campaign(write_campaign(tmp_path, text))
    return [str(problem) for problem in caught.value.problems]


def test_the_example_campaigns_are_valid() -> None:
    for path in sorted((REPO / "campaigns").glob("*.yaml")):
        assert load_campaign(path).campaign.name


def test_a_valid_campaign_loads_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text(TABLE)
    campaign = load_campaign(write_campaign(tmp_path, VALID)).campaign
    assert campaign.initial_size == 5  # max(5, 4 parameters + 1)
    assert campaign.proposer.batch_size == 1
    assert campaign.objective.goal == "maximize"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("bounds: [20, 200]", "bounds: [200, 20]"),
            "campaign.yaml:4:5: space[0]: bounds [200.0, 20.0]: the low bound must be below",
        ),
        (
            ("values: [water, ethanol]", "values: []"),
            "campaign.yaml:7:40: space[3].values: List should have at least 1 item",
        ),
        (
            ("{experiments: 10}", "{experiments: 0}"),
            "campaign.yaml:2:10: budget.experiments: Input should be greater than 0 (got 0)",
        ),
        (
            ("bounds: [1, 60]", "bounds: [1, sixty]"),
            "campaign.yaml:6:48: space[2].bounds[1]: Input should be a valid integer",
        ),
        (
            ("type: simulated", "type: telepathy"),
            "campaign.yaml:11:3: driver.type: unknown driver type 'telepathy'; installed drivers:",
        ),
        (
            ("type: dataset", "type: oracle"),
            "campaign.yaml:12:3: driver.simulator: Input tag 'oracle' found using 'type' does not",
        ),
        (
            ("unit: degC}", "unit: degC, colour: red}"),
            "campaign.yaml:4:67: space[0].colour: unknown key 'colour'; expected one of: type, "
            "name, bounds, log_scale, unit",
        ),
        (
            ("bounds: [0.001, 1]", "bounds: [0, 1]"),
            "campaign.yaml:5:5: space[1]: log_scale needs bounds above 0, got low bound 0.0",
        ),
        (
            ("name: demo", "name: my demo"),
            "campaign.yaml:1:1: name: Letters, digits, '.', '_' and '-'",
        ),
        (
            ("goal: maximize", "goal: most"),
            "campaign.yaml:9:23: objectives[0].goal: "
            "Input should be 'maximize', 'minimize' or 'target'",
        ),
        (
            ("name: minutes", "name: temp"),
            "campaign.yaml:3:1: space: parameter names must be distinct; repeated: temp",
        ),
        (
            ("    budget: {experiments: 10}\n", ""),
            "campaign.yaml:1:1: budget: required key is missing",
        ),
        (
            (
                "goal: maximize}",
                "goal: maximize, noise_free: true}\n    outcomes:\n      - {name: purity}\n"
                "    outcome_constraints: ['purity >= 0.9']",
            ),
            "campaign.yaml:1:1: noise_free is set on yield_pct but not on purity: one model "
            "fits them together, so set it on all of them or on none",
        ),
    ],
)
def test_each_mistake_is_reported_at_its_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = VALID.replace(*change)
    assert text != VALID
    found = problems_of(tmp_path, text)
    assert any(problem.startswith(str(tmp_path / expected.split(":")[0])) for problem in found)
    assert any(expected in problem for problem in found), found


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("bounds: [20, 200]", "bounds: [200, 20]").replace(
        "goal: maximize", "goal: most"
    )
    assert len(problems_of(tmp_path, text)) == 2


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "name: demo\nbudget: {experiments: 3\nspace: []\n")
    assert problem.startswith(f"{tmp_path / 'campaign.yaml'}:3:")
    assert "invalid YAML" in problem


def test_a_repeated_key_is_an_error_not_a_silent_override(tmp_path: Path) -> None:
    found = problems_of(tmp_path, VALID + "    budget: {experiments: 20}\n")
    assert any("campaign.yaml:13:1: budget: this key appears twice" in p for p in found)


def test_yaml_tags_that_build_objects_are_refused(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "name: !!python/object/apply:os.system [echo hi]\n")
    assert "invalid YAML" in problem


def test_a_benchmark_must_match_the_parameters(tmp_path: Path) -> None:
    text = VALID.replace(
        "{type: dataset, path: table.csv, output: yield_pct}", "{type: benchmark, function: branin}"
    )
    found = problems_of(tmp_path, text)
    assert "driver.simulator.function: branin takes 2 inputs but the space has 4" in found[0]
    assert "branin takes numbers only; categorical parameters: solvent" in found[1]


def test_a_dataset_simulator_needs_its_file_and_columns(tmp_path: Path) -> None:
    found = problems_of(tmp_path, VALID.replace("output: yield_pct", "output: purity"))
    assert any("driver.simulator.output: table.csv has no column 'purity'" in p for p in found), (
        found
    )
    renamed = problems_of(tmp_path, VALID.replace("{name: temp,", "{name: temperature,"))
    assert any(
        "parameter 'temperature' reads column 'temperature', which table.csv lacks" in p
        for p in renamed
    ), renamed
    missing = problems_of(tmp_path, VALID.replace("table.csv", "absent.csv"))
    assert any("driver.simulator.path: no such file" in p for p in missing)


def test_saying_noise_free_false_keeps_the_fingerprint_of_earlier_versions(tmp_path: Path) -> None:
    from tansaku.campaign.fingerprint import fingerprint

    text = (REPO / "campaigns" / "branin.yaml").read_text()
    said = text.replace("goal: minimize", "goal: minimize, noise_free: false", 1)
    exact = text.replace("goal: minimize", "goal: minimize, noise_free: true", 1)
    assert said != text != exact
    prints = []
    for index, body in enumerate((text, said, exact)):
        path = tmp_path / f"c{index}.yaml"
        path.write_text(body)
        prints.append(fingerprint(load_campaign(path)))
    unsaid, noisy, told_exact = prints
    # The fingerprint a run stored before the default changed: noise_free false left out.
    assert noisy == unsaid
    assert told_exact != unsaid
