"""Hostile and mistaken campaign files, through the real CLI: `validate` and `run` each
refuse them with `file:line:col: field: message`, exit code 2, no traceback, nothing
written, and at once; what they quote is printed as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import DEMO_CAMPAIGN as CAMPAIGN
from tests.conftest import tansaku, write_campaign


def alias_bomb() -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 9)]
    return "\n".join(lines) + "\n"


# What is appended to the campaign or changed in it, and the problem it must give.
BAD_FILES = {
    "alias bomb": (
        ("", alias_bomb()),
        r"17:\d+: the document holds more than 50000 values \(an alias counts each time it is "
        r"used\); keep long tables in separate CSV files",
    ),
    "NUL byte": (
        ("", "description: a\x00b\n"),
        r"13:15: invalid YAML: character #x0000 is not allowed in YAML; remove it \(or check "
        r"that this is the text file you meant\)",
    ),
    "10,000-deep lists": (
        ("", "deep: " + "[" * 10_000 + "]" * 10_000 + "\n"),
        r"13:\d+: the document is nested more than 100 levels deep; flatten the lists and "
        r"sections",
    ),
    # 50 MB once passed validate, then failed inside Prefect and left a ledger behind.
    "a 50 MB file": (
        ("", "description: " + "x" * 50_000_000 + "\n"),
        r"1:1: the file is larger than 1 MiB, far more than a campaign needs; keep candidate "
        r"pools, prior data and descriptor tables in the CSV files the campaign names",
    ),
    "bounds of 1e308": (
        ("[-5, 10]", "[-5, 1.0e308]"),
        r"5:47: space\[0\]\.bounds\[1\]: 1e308 is too large to compute with: numbers in a "
        r"campaign must lie within ±1e150 \(give it in a larger unit\)",
    ),
    "a boolean budget": (
        ("{experiments: 3}", "{experiments: true}"),
        r"3:10: budget\.experiments: this is read as true or false \(as YAML reads yes/no and "
        r"on/off too\), not as a number; write a number, or quote the word to mean text",
    ),
    "a nan stop rule": (
        ("", "stop: {objective_reaches: .nan}\n"),
        r"13:8: stop\.objective_reaches: nan is not a number; write a finite number",
    ),
    "a seed of 1e26": (
        ("seed: 4", "seed: 100000000000000000000000000"),
        r"2:1: seed: the seed must be a whole number from 0 to 4294967295 \(2\*\*32 - 1\), the "
        r"range numpy's and torch's random generators take",
    ),
    "a negative duration": (
        ("retry_delay: 1s", "retry_delay: -5s"),
        r"11:3: driver\.retry_delay: -5s is negative; a duration must be 0 or more",
    ),
    "an upside-down valid range": (
        ("goal: minimize}", "goal: minimize, valid: [400, 0]}"),
        r"8:31: objectives\[0\]\.valid: valid range \[400, 0\]: the low end 400 must be below "
        r"the high end 0",
    ),
    "a threshold outside the valid range": (
        ("goal: minimize}", "goal: minimize, threshold: 500, valid: [0, 400]}"),
        r"8:31: objectives\[0\]\.threshold: threshold 500 lies outside the valid range "
        r"\[0, 400\]; it must be a value a real reading can take",
    ),
}


def bad_campaign(folder: Path, change: tuple[str, str]) -> Path:
    path = write_campaign(folder, CAMPAIGN)
    old, new = change
    text = path.read_text()
    path.write_text(text.replace(old, new) if old else text + new)
    return path


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_campaign_is_refused_with_its_place_and_nothing_written(
    tmp_path: Path, case: str, command: str
) -> None:
    change, problem = BAD_FILES[case]
    path = bad_campaign(tmp_path, change)
    before = sorted(tmp_path.rglob("*"))
    extra = ["--dry-run", "--run-dir", "runs/demo"] if command == "run" else []
    # The timeout guards against a hang (the alias bomb once never finished).
    result = tansaku(command, path.name, *extra, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "error: campaign.yaml has 1 problem; nothing was run", lines
    assert re.fullmatch(f"campaign\\.yaml:{problem}", lines[0]), lines[0][:1000]
    assert len(lines) == 2
    assert sorted(tmp_path.rglob("*")) == before  # no run directory, ledger or log


def test_a_problem_on_line_100_is_printed_as_written(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, CAMPAIGN)
    comments = "".join(f"# note {n}\n" for n in range(97))
    path.write_text(comments + path.read_text().replace("{experiments: 3}", "{experiments: 0}"))
    result = tansaku("validate", path.name, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("campaign.yaml:100:10: budget.experiments: "), result.stderr


def test_text_quoted_from_a_data_file_is_printed_as_written(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, CAMPAIGN + "    prior_data: {path: prior.csv}\n")
    (tmp_path / "prior.csv").write_text("x1,x2,y\n1,2,:x:\n")
    result = tansaku("validate", path.name, cwd=tmp_path)
    assert result.returncode == 2
    assert "line 2: y ':x:' is not a finite number" in result.stderr, result.stderr


def test_a_unit_that_reads_as_markup_is_shown_as_written(tmp_path: Path) -> None:
    text = CAMPAIGN.replace("bounds: [-5, 10]}", 'bounds: [-5, 10], unit: "[/] :x:"}')
    result = tansaku("validate", write_campaign(tmp_path, text).name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[-5.0, 10.0] [/] :x:" in result.stdout
