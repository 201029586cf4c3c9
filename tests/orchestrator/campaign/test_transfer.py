"""``transfer_from``: measurements of other element sets, checked at validation with the
file, the line and what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from tansaku.campaign.fingerprint import fingerprint
from tansaku.campaign.loading import load_campaign
from tests.conftest import REPO, campaign_beside, campaign_problems, tansaku

POOL = """\
ni,fe,co,score
0.5,0.5,0,1.0
0.2,0.3,0.5,2.0
1,0,0,3.0
"""

EARLIER = """\
ni_frac,mn_frac,la_frac,score
0.5,0.5,0,1.5
0.2,0.3,0.5,2.5
0,0,1,0.5
"""

CAMPAIGN = """
name: metals
budget: {experiments: 3}
candidates: {path: pool.csv}
space:
  - {name: ni, type: continuous, bounds: [0, 1]}
  - {name: fe, type: continuous, bounds: [0, 1]}
  - {name: co, type: continuous, bounds: [0, 1]}
mixtures:
  - components: [ni, fe, co]
    total: 1
    elements: {ni: Ni, fe: Fe, co: Co}
transfer_from:
  - path: earlier.csv
    elements: {ni_frac: Ni, mn_frac: Mn, la_frac: La}
objectives:
  - {name: score, goal: maximize}
driver:
  type: simulated
  simulator: {type: dataset, path: pool.csv, output: score}
"""


def write(tmp_path: Path, earlier: str = EARLIER, **replace: str) -> Path:
    (tmp_path / "earlier.csv").write_text(earlier)
    return campaign_beside(tmp_path, CAMPAIGN, "pool.csv", POOL, **replace)


def test_the_earlier_measurements_are_read_by_element(tmp_path: Path) -> None:
    loaded = load_campaign(write(tmp_path))
    (source,) = loaded.transfer()
    assert source.name == "earlier.csv"
    assert [row.line for row in source.rows] == [2, 3, 4]
    assert source.rows[1].composition == {"Ni": 0.2, "Mn": 0.3, "La": 0.5}
    assert source.rows[1].value == 2.5


def test_a_changed_source_file_changes_the_fingerprint(tmp_path: Path) -> None:
    before = fingerprint(load_campaign(write(tmp_path)))
    after = fingerprint(load_campaign(write(tmp_path, EARLIER.replace("2.5", "2.6"))))
    assert before != after


@pytest.mark.parametrize(
    ("earlier", "replace", "line", "message"),
    [
        (EARLIER, {"la_frac: La}": "la_frac: Lx}"}, 14, "la_frac: 'Lx' is not an element symbol"),
        (
            EARLIER,
            {"la_frac: La}": "la_frac: Mn}"},
            14,
            "mn_frac and la_frac are both Mn; one component per element",
        ),
        (EARLIER, {"la_frac: La}": "lanthanum: La}"}, 14, "earlier.csv has no column 'lanthanum'"),
        (EARLIER.replace(",2.5", ",high"), {}, 13, "line 3: score 'high' is not a finite number"),
        (EARLIER.replace("0.2,0.3", "-0.2,0.3"), {}, 13, "ni_frac '-0.2' is not a non-negative"),
        (EARLIER.replace("0,0,1,", "0,0,0,"), {}, 13, "earlier.csv: line 4: every amount is 0"),
        (EARLIER.replace("score", "result"), {}, 13, "lacks columns for 'score' (column 'score')"),
        ("ni_frac,mn_frac,score\n1,0,2\n", {}, 13, "earlier.csv has fewer than two measurements"),
        (EARLIER, {"path: earlier.csv": "path: missing.csv"}, 13, "cannot read"),
        (
            EARLIER,
            {"    elements: {ni: Ni, fe: Fe, co: Co}\n": ""},
            11,
            "give exactly one mixture `elements:` (this campaign has 0)",
        ),
        (
            EARLIER,
            {"objectives:": "model: {prior_mean: 'math:fsum'}\nobjectives:"},
            12,
            "transfer_from and model.prior_mean both tell the model what to expect",
        ),
        (
            EARLIER,
            {
                "  - {name: score, goal: maximize}": "  - {name: score, goal: maximize}\n"
                "  - {name: cost, goal: minimize}"
            },
            12,
            "transfer_from supports one objective",
        ),
        (EARLIER, {"la_frac: La}": "la_frac: La}\n    max_rows: 1"}, 15, "greater than 1"),
    ],
    ids=[
        "unknown-symbol",
        "element-twice",
        "missing-element-column",
        "bad-value",
        "negative-amount",
        "no-amount",
        "missing-objective-column",
        "one-row",
        "missing-file",
        "no-element-mixture",
        "with-prior-mean",
        "two-objectives",
        "max-rows-1",
    ],
)
def test_a_bad_source_is_named_with_its_line(
    tmp_path: Path, earlier: str, replace: dict[str, str], line: int, message: str
) -> None:
    path = write(tmp_path, earlier, **replace)
    problems = campaign_problems(path)
    assert message in problems
    assert f"{path}:{line}:" in problems and "transfer_from" in problems


def test_validate_refuses_a_bad_source_with_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, EARLIER.replace(",2.5", ",n/a"))
    result = tansaku("validate", path, cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert f"{path}:13:5: transfer_from[0].path" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_example_campaign_says_what_it_learns_from() -> None:
    result = tansaku("validate", REPO / "campaigns" / "oer-transfer.yaml", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "learns from 2121 measurements of oer_plate_3496.csv" in result.stdout


EARLIER_CAMPAIGN = """
name: earlier
budget: {experiments: 3}
candidates: {path: earlier.csv}
space:
  - {name: ni_frac, type: continuous, bounds: [0, 1]}
  - {name: mn_frac, type: continuous, bounds: [0, 1]}
  - {name: la_frac, type: continuous, bounds: [0, 1]}
mixtures:
  - {components: [ni_frac, mn_frac, la_frac], total: 1}
objectives:
  - {name: score, goal: maximize}
driver:
  type: simulated
  simulator: {type: dataset, path: earlier.csv, output: score}
"""


def test_an_earlier_run_exported_as_csv_is_a_source(tmp_path: Path) -> None:
    earlier = campaign_beside(tmp_path, EARLIER_CAMPAIGN, "earlier.csv", EARLIER)
    earlier = earlier.rename(tmp_path / "earlier.yaml")
    ran = tansaku("run", earlier, "--dry-run", "--run-dir", "earlier-run", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    exported = tansaku("export", "earlier-run", "-o", "earlier-run.csv", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    path = write(tmp_path, **{"path: earlier.csv": "path: earlier-run.csv"})
    (source,) = load_campaign(path).transfer()
    by_composition = {tuple(r.composition.values()): r.value for r in source.rows}
    assert by_composition == {
        (float(a), float(b), float(c)): float(score)
        for a, b, c, score in (line.split(",") for line in EARLIER.splitlines()[1:])
    }


def test_a_run_directory_is_refused_with_the_export_to_make(tmp_path: Path) -> None:
    (tmp_path / "earlier-run").mkdir()
    problems = campaign_problems(write(tmp_path, **{"path: earlier.csv": "path: earlier-run"}))
    assert "transfer_from[0].path:" in problems
    assert "is a directory: give a CSV of measurements; for an earlier tansaku run" in problems
    assert "tansaku export" in problems
