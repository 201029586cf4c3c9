"""Values a run cannot compute with are refused when the campaign is validated, with a
message in the terms the file used."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tansaku.campaign import CampaignError, load_campaign
from tests.conftest import DEMO_CAMPAIGN as CAMPAIGN
from tests.conftest import write_campaign

BOOLEAN = (
    "this is read as true or false (as YAML reads yes/no and on/off too), not as a number; "
    "write a number, or quote the word to mean text"
)
TOO_LARGE = "must lie within ±1e150 (give it in a larger unit)"


def problems_of(tmp_path: Path, *changes: tuple[str, str]) -> list[str]:
    text = CAMPAIGN
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = write_campaign(tmp_path, text)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    return [str(problem).removeprefix(f"{path}:") for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("[-5, 10]", "[-1e308, 1.0e308]"),
            [
                f"5:43: space[0].bounds[0]: -1e308 is too large to compute with: numbers in a "
                f"campaign {TOO_LARGE}",
                f"5:51: space[0].bounds[1]: 1e308 is too large to compute with: numbers in a "
                f"campaign {TOO_LARGE}",
            ],
        ),
        (
            ("[-5, 10]", "[-5, .inf]"),
            ["5:47: space[0].bounds[1]: inf is not a finite number; write a number within ±1e150"],
        ),
        (
            ("[-5, 10]", "[-5, .nan]"),
            ["5:47: space[0].bounds[1]: nan is not a number; write a finite number"],
        ),
        (
            ("[0, 15]", "[0, 1.0e-200]"),
            [
                "6:46: space[1].bounds[1]: 1e-200 is too small to compute with: a number in a "
                "campaign is 0 or at least 1e-150 in size (give it in a smaller unit)"
            ],
        ),
        (
            ("[0, 15]", "[1.0e16, 1.0000000001e16]"),
            [
                "6:5: space[1]: bounds [1e+16, 1.0000000001e+16] are too close together for "
                "numbers of their size: the width must be at least a billionth of the larger "
                "bound (shift or rescale the parameter)"
            ],
        ),
        (
            ("bounds: [0, 15]}", "bounds: [0, 15], fixed: 1.0e200}"),
            [
                f"6:51: space[1].fixed: 1e200 is too large to compute with: numbers in a campaign "
                f"{TOO_LARGE}"
            ],
        ),
        (
            (
                "{name: x2, type: continuous, bounds: [0, 15]}",
                "{name: x2, type: integer, bounds: [0, 100000000000000000]}",
            ),
            [
                "6:5: space[1]: bounds [0, 100000000000000000]: integer bounds must lie within "
                "±9007199254740992 (2**53), where floating point holds every whole number"
            ],
        ),
        (
            ("goal: minimize}", "goal: minimize}\n    stop: {objective_reaches: .nan}"),
            ["9:8: stop.objective_reaches: nan is not a number; write a finite number"],
        ),
        (
            ("goal: minimize}", "goal: minimize}\n    stop: {objective_reaches: -.inf}"),
            [
                "9:8: stop.objective_reaches: -inf is not a finite number; write a number within "
                "±1e150"
            ],
        ),
        (
            ("goal: minimize}", "goal: target, target: .inf}"),
            [
                "8:29: objectives[0].target: inf is not a finite number; write a number within "
                "±1e150"
            ],
        ),
        (
            ("goal: minimize}", "goal: minimize}\n    proposer: {ucb_beta: .inf}"),
            ["9:12: proposer.ucb_beta: inf is not a finite number; write a number within ±1e150"],
        ),
    ],
    ids=[
        "bounds of 1e308",
        "an infinite bound",
        "a nan bound",
        "a subnormal bound",
        "bounds float cannot tell apart",
        "a huge fixed value",
        "integer bounds past 2**53",
        "a nan stop value",
        "an infinite stop value",
        "an infinite target",
        "an infinite ucb_beta",
    ],
)
def test_numbers_a_run_cannot_compute_with_are_refused(
    tmp_path: Path, change: tuple[str, str], expected: list[str]
) -> None:
    assert problems_of(tmp_path, change) == expected


@pytest.mark.parametrize("seed", ["-1", "4294967296", "100000000000000000000000000", "1.0e26"])
def test_a_seed_outside_what_numpy_and_torch_take_is_refused(tmp_path: Path, seed: str) -> None:
    (problem,) = problems_of(tmp_path, ("seed: 4", f"seed: {seed}"))
    assert problem.startswith("2:1: seed: ")
    if seed != "1.0e26":  # a float too large for an integer is pydantic's to refuse
        assert problem == (
            "2:1: seed: the seed must be a whole number from 0 to 4294967295 (2**32 - 1), the "
            "range numpy's and torch's random generators take"
        )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("{experiments: 3}", "{experiments: true}"), "3:10: budget.experiments"),
        (("seed: 4", "seed: yes"), "2:1: seed"),
        (("bounds: [-5, 10]", "bounds: [off, 10]"), "5:43: space[0].bounds[0]"),
        (("goal: minimize}", "goal: target, target: on}"), "8:29: objectives[0].target"),
        # A driver's own section, checked by the driver's own model, is no exception.
        (("retry_delay: 1s", "retries: true"), "11:3: driver.retries"),
        (("retry_delay: 1s", "slots: on"), "11:3: driver.slots"),
    ],
)
def test_true_and_false_never_pass_as_numbers(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    assert problems_of(tmp_path, change) == [f"{expected}: {BOOLEAN}"]


def test_a_categorical_of_yes_and_no_must_quote_them(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        (
            "{name: x2, type: continuous, bounds: [0, 15]}",
            "{name: x2, type: categorical, values: [yes, no]}",
        ),
    )
    assert problems == [
        f"6:44: space[1].values[0]: {BOOLEAN}",
        f"6:49: space[1].values[1]: {BOOLEAN}",
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("-5s", "-5s is negative; a duration must be 0 or more"),
        ("-5", "-5 is negative; a duration must be 0 or more"),
        ("'-2 min'", "-2 min is negative; a duration must be 0 or more"),
        ("-PT5S", "-PT5S is negative; a duration must be 0 or more"),
        (
            "400d",
            "400d is longer than 365 days, the longest duration a campaign may give; give "
            "at most 365d",
        ),
        (
            "1e20",
            "1e20 is longer than 365 days, the longest duration a campaign may give; give "
            "at most 365d",
        ),
        (
            ".inf",
            "inf is longer than 365 days, the longest duration a campaign may give; give "
            "at most 365d",
        ),
        (".nan", "nan is not a number; write a duration such as '90s', '15min', '2h' or '1.5d'"),
        (
            "yes",
            "this is read as true or false, not a duration; write a duration such as '90s', "
            "'15min', '2h' or '1.5d'",
        ),
        (
            "soon",
            "'soon' is not a duration; write a duration such as '90s', '15min', '2h' or '1.5d'",
        ),
    ],
)
def test_a_bad_duration_is_explained_as_written(
    tmp_path: Path, written: str, expected: str
) -> None:
    problems = problems_of(tmp_path, ("retry_delay: 1s", f"retry_delay: {written}"))
    assert problems == [f"11:3: driver.retry_delay: {expected}"]


def test_a_long_value_is_shortened_in_the_message(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        ("name: demo", "name: " + "my demo " * 100),
        ("[-5, 10]", "[-5, 1" + "0" * 400 + "]"),
    )
    assert problems == [
        "1:1: name: String should have at most 64 characters (got 'my demo my demo my demo my "
        "demo my demo my demo my demo ...)",
        "5:47: space[0].bounds[1]: Input should be a valid number (got "
        "100000000000000000000000000000000000000000000000000000000...)",
    ]


def test_the_limits_themselves_are_accepted(tmp_path: Path) -> None:
    text = (
        CAMPAIGN.replace("seed: 4", "seed: 4294967295")
        .replace("[-5, 10]", "[-1.0e150, 1.0e150]")
        .replace("[0, 15]", "[0, 1.0e-150]")
        .replace("retry_delay: 1s", "retry_delay: 365d")
        .replace("{experiments: 3}", "{experiments: 3, wall_clock: 1e3}")
    )
    campaign = load_campaign(write_campaign(tmp_path, text)).campaign
    assert campaign.seed == 2**32 - 1
    assert campaign.space[0].bounds == (-1e150, 1e150)
    assert campaign.driver.retry_delay == timedelta(days=365)
    assert campaign.budget.wall_clock == timedelta(seconds=1000)
