"""``tansaku predict`` on a Branin dry run: honest at the data, wary away from it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import small_branin, tansaku


def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


@pytest.fixture(scope="module")
def branin_run(tmp_path_factory: pytest.TempPathFactory, prefect_server: str) -> Path:
    """A Branin campaign dry-run to 30 experiments."""
    folder = tmp_path_factory.mktemp("predict")
    campaign = small_branin(folder, name="predict", budget=30)
    ran = tansaku("run", campaign, "--dry-run", "--run-dir", folder / "run", cwd=folder)
    assert ran.returncode == 0, ran.stderr
    # Every connection closed: the ledger file alone holds the campaign, so a copy of it
    # is whole, and the later commands find the directory as the run left it.
    assert sorted(p.name for p in (folder / "run").iterdir()) == [
        ".lock",
        "ledger.sqlite",
        "tansaku.log",
    ]
    return folder / "run"


def test_at_the_measured_points_the_true_value_lies_in_the_band(branin_run: Path) -> None:
    measured = branin_run.parent / "measured.csv"
    exported = tansaku("export", branin_run, "-o", measured, cwd=branin_run.parent)
    assert exported.returncode == 0, exported.stderr
    assert (pd.read_csv(measured)["status"] == "done").sum() == 30
    # The export goes straight back in: its columns that are no parameter are left out.
    predicted = tansaku(
        "predict", branin_run, "--csv", "measured.csv", "-f", "json", cwd=branin_run.parent
    )
    assert predicted.returncode == 0, predicted.stderr
    assert "ignored the columns that name no parameter: experiment, batch" in predicted.stderr
    rows = json.loads(predicted.stdout)
    assert len(rows) == 30
    for row in rows:
        truth = branin(row["x1"], row["x2"])
        assert abs(row["mean"] - truth) <= 2 * row["sd"] + 1e-6 * abs(truth)
        assert not row["extrapolating"]
    assert "extrapolation" not in predicted.stderr


def test_far_outside_the_bounds_it_warns_of_extrapolation(branin_run: Path) -> None:
    predicted = tansaku("predict", branin_run, "x1=30", "x2=40", cwd=branin_run.parent)
    assert predicted.returncode == 0, predicted.stderr
    assert "extrapolation" in predicted.stdout  # the table's mark
    warning = predicted.stderr
    assert "warning: extrapolation at 1 point" in warning
    assert "x1 = 30 lies outside its bounds [-5, 10]" in warning
    assert "of the measured spread" in warning  # far from the data too
    [row] = json.loads(
        tansaku("predict", branin_run, "x1=30", "x2=40", "-f", "json", cwd=branin_run.parent).stdout
    )
    assert row["extrapolating"] and row["sd"] > 0


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["x1=2"], "the point lacks x2; give every parameter"),
        (["x1=2", "x2=abc"], "x2 = 'abc' is not a number"),
        (["x1=2", "x2=1", "x3=1"], "x3: not a parameter of this campaign"),
        (["x1"], "write each value as NAME=VALUE, e.g. x1=..."),
    ],
)
def test_a_bad_point_is_one_sentence_and_exit_2(
    branin_run: Path, words: list[str], message: str
) -> None:
    before = sorted(p.name for p in branin_run.iterdir())
    refused = tansaku("predict", branin_run, *words, cwd=branin_run.parent)
    assert refused.returncode == 2
    assert message in refused.stderr and "Traceback" not in refused.stderr
    assert sorted(p.name for p in branin_run.iterdir()) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x1,x2\n1,2\n\n3,hot\n", "bad.csv, line 4: x2 = 'hot' is not a number"),
        ("x1,x2\n1,2,3\n", "bad.csv, line 2: 3 values, but the header names 2"),
        ("x1;x2\n1;2\n", "bad.csv, line 1: the columns are separated by ';'; use ','"),
        ("x1,x2\n", "bad.csv holds a header but no point"),
        ("", "bad.csv is empty"),
    ],
)
def test_a_bad_points_file_names_its_line(branin_run: Path, text: str, message: str) -> None:
    (branin_run.parent / "bad.csv").write_text(text)
    refused = tansaku("predict", branin_run, "--csv", "bad.csv", cwd=branin_run.parent)
    assert refused.returncode == 2
    assert message in refused.stderr and "Traceback" not in refused.stderr


def test_a_folder_without_a_ledger_is_refused(tmp_path: Path) -> None:
    refused = tansaku("predict", tmp_path, "x1=1", "x2=2", cwd=tmp_path)
    assert refused.returncode == 2
    assert "holds no campaign ledger" in refused.stderr
    assert list(tmp_path.iterdir()) == []
