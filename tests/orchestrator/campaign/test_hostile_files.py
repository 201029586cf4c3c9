"""Campaign files built to exhaust the reader are refused quickly, placed, in one message."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest

from tansaku.campaign import CampaignError, load_campaign
from tansaku.campaign.loading import MAX_FILE_BYTES
from tansaku.documents import MAX_DEPTH, MAX_NODES, DocumentError, YamlDocument
from tests.conftest import DEMO_CAMPAIGN as CAMPAIGN
from tests.conftest import write_campaign


def with_extra(folder: Path, extra: str) -> Path:
    """The campaign with ``extra`` (unindented YAML) appended from line 13."""
    path = write_campaign(folder, CAMPAIGN)
    path.write_text(path.read_text() + extra)
    return path


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """ "Billion laughs": each line holds ``width`` aliases of the line before."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def only_problem(path: Path) -> str:
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    (problem,) = caught.value.problems
    return str(problem)


def test_an_alias_bomb_is_refused_at_once_in_little_memory(tmp_path: Path) -> None:
    path = with_extra(tmp_path, alias_bomb())
    tracemalloc.start()
    try:
        problem = only_problem(path)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 50 * 2**20  # the parser alone needs 12 MB; expanding it, 12 GB
    # The alias that takes the count past the limit, on the bomb's 5th line (9**5 values).
    assert problem.startswith(f"{path}:17:")
    assert f"holds more than {MAX_NODES} values (an alias counts each time it is used)" in problem


def test_aliases_within_the_limit_still_load_and_place_problems(tmp_path: Path) -> None:
    shared = CAMPAIGN.replace(
        "      - {name: x1, type: continuous, bounds: [-5, 10]}",
        "      - &x {name: x1, type: continuous, bounds: [-5, 10]}",
    ).replace("      - {name: x2, type: continuous, bounds: [0, 15]}", "      - *x")
    with pytest.raises(CampaignError) as caught:
        load_campaign(write_campaign(tmp_path, shared))
    (problem,) = caught.value.problems
    assert str(problem).endswith(":4:1: space: parameter names must be distinct; repeated: x1")


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = with_extra(tmp_path, "loop: &loop [1, *loop]\n")
    problem = only_problem(path)
    assert problem.startswith(f"{path}:13:")
    assert "the alias *loop sits inside the section it names" in problem


@pytest.mark.parametrize(
    "nested",
    [
        "deep: " + "[" * 10_000 + "]" * 10_000,
        "deep: " + "{a: " * 10_000 + "1" + "}" * 10_000,
        # One space per level keeps 300 levels inside the file size limit.
        "deep:\n" + "".join(" " * level + "a:\n" for level in range(1, 300)) + " " * 300 + "b: 1",
    ],
    ids=["lists", "flow mappings", "block mappings"],
)
def test_deep_nesting_is_one_clear_problem(tmp_path: Path, nested: str) -> None:
    path = with_extra(tmp_path, nested + "\n")
    problem = only_problem(path)
    assert re.fullmatch(
        f"{re.escape(str(path))}:\\d+:\\d+: the document is nested more than {MAX_DEPTH} "
        "levels deep; flatten the lists and sections",
        problem,
    ), problem


def test_nesting_up_to_the_limit_is_read() -> None:
    levels = MAX_DEPTH - 1  # inside the document's own mapping
    document = YamlDocument.parse("a: " + "[" * levels + "]" * levels, Path("x.yaml"))
    data = document.data["a"]
    for _ in range(levels - 1):
        (data,) = data
    assert data == []


def test_a_nul_byte_is_placed_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "campaign.yaml"
    path.write_bytes(b"name: demo\ndescription: a\x00b\n")
    problem = only_problem(path)
    assert problem == (
        f"{path}:2:15: invalid YAML: character #x0000 is not allowed in YAML; remove it (or "
        "check that this is the text file you meant)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-30", "'2026-02-30' is not a valid timestamp (day is out of range for month)"),
        ("9" * 5_000, "'9999999999999999999999999999999999999...' is not a valid int (Exceeds"),
    ],
)
def test_a_value_yaml_cannot_build_is_placed(tmp_path: Path, value: str, expected: str) -> None:
    path = with_extra(tmp_path, f"extra: {value}\n")
    problem = only_problem(path)
    assert problem.startswith(f"{path}:13:8: invalid YAML: {expected}")
    assert problem.endswith("; correct it, or quote it to mean text")


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    padding = "x" * MAX_FILE_BYTES
    path = with_extra(tmp_path, f"description: {padding}\n")
    problem = only_problem(path)
    assert problem == (
        f"{path}:1:1: the file is larger than 1 MiB, far more than a campaign needs; keep "
        "candidate pools, prior data and descriptor tables in the CSV files the campaign names"
    )


def test_a_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, CAMPAIGN)
    head = path.read_text() + "description: "
    path.write_text(head + "x" * (MAX_FILE_BYTES - len(head) - 1) + "\n")
    assert len(path.read_bytes()) == MAX_FILE_BYTES
    assert load_campaign(path).campaign.description


def test_line_endings_are_read_as_before(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, CAMPAIGN)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert load_campaign(path).text == path.read_text(encoding="utf-8")


def test_every_file_read_as_a_yaml_document_is_bounded() -> None:
    # Drivers read their own files (serial protocols) with the same reader.
    with pytest.raises(DocumentError, match=r"protocol\.yaml:5:\d+: the document holds more"):
        YamlDocument.parse(alias_bomb(), Path("protocol.yaml"))


def test_a_repeat_in_a_long_categorical_is_named(tmp_path: Path) -> None:
    values = ", ".join(f"v{i}" for i in range(45_000)) + ", v7"
    text = CAMPAIGN.replace(
        "{name: x2, type: continuous, bounds: [0, 15]}",
        f"{{name: x2, type: categorical, values: [{values}]}}",
    )
    with pytest.raises(CampaignError) as caught:
        load_campaign(write_campaign(tmp_path, text))
    assert "space[1]: values must be distinct; repeated: v7" in str(caught.value)
