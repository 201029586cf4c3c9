"""Mixtures of elements and element categoricals: symbols checked at validation, with the
file, the line and what to write instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tansaku.campaign.elements import PROPERTIES, element_table
from tansaku.campaign.loading import load_campaign
from tests.conftest import REPO, campaign_beside, campaign_problems, tansaku

POOL = """\
ni,fe,co,score
0.5,0.5,0,1.0
0.2,0.3,0.5,2.0
1,0,0,3.0
0.333,0.333,0.333,4.0
"""

CAMPAIGN = """
name: metals
budget: {experiments: 6}
candidates: {path: pool.csv}
space:
  - {name: ni, type: continuous, bounds: [0, 1]}
  - {name: fe, type: continuous, bounds: [0, 1]}
  - {name: co, type: continuous, bounds: [0, 1]}
mixtures:
  - components: [ni, fe, co]
    total: 1
    elements: {ni: Ni, fe: Fe, co: Co}
objectives:
  - {name: score, goal: maximize}
driver:
  type: simulated
  simulator: {type: dataset, path: pool.csv, output: score}
"""


def write(tmp_path: Path, pool: str = POOL, **replace: str) -> Path:
    return campaign_beside(tmp_path, CAMPAIGN, "pool.csv", pool, **replace)


def test_a_pool_of_element_mixtures_is_valid_and_read(tmp_path: Path) -> None:
    loaded = load_campaign(write(tmp_path))
    (mixture,) = loaded.campaign.mixtures
    assert mixture.elements == {"ni": "Ni", "fe": "Fe", "co": "Co"}
    assert len(loaded.candidates() or []) == 4  # 0.999 is within 0.1 % of the total


def test_the_shipped_table_has_the_properties_of_common_elements() -> None:
    nickel = dict(zip(PROPERTIES, element_table().values["Ni"], strict=True))
    assert nickel["electronegativity"] == pytest.approx(1.91)
    assert nickel["ionization_energy"] == pytest.approx(7.64, abs=0.01)
    assert nickel["covalent_radius"] == 110
    assert len(element_table().values) == 103


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("co: Co}", "co: Cx}", 9, "mixtures[0]: elements: co: 'Cx' is not an element symbol"),
        ("co: Co}", "co: co}", 9, "'co' is not an element symbol (did you mean 'Co'?)"),
        ("co: Co}", "co: Ar}", 9, "table (from mendeleev) has no electronegativity for Ar"),
        ("co: Co}", "co: Fe}", 9, "elements: fe and co are both Fe; one component per element"),
        ("co: Co}", "co: Co, cu: Cu}", 9, "elements: 'cu' is not a component of this mixture"),
        (", co: Co}", "}", 9, "elements: 'co' has no element; map every component"),
        ("co: Co}", "co: [Co, Cu]}", 11, "give one element symbol per component (e.g. Ni)"),
        (
            "    elements: {ni: Ni, fe: Fe, co: Co}",
            "    keep_fractions: true",
            9,
            "keep_fractions says whether the model sees the fractions beside the element",
        ),
    ],
)
def test_a_bad_element_mapping_is_named_with_its_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    path = write(tmp_path, **{old: new})
    problems = campaign_problems(path)
    assert message in problems
    assert f"{path}:{line}:" in problems and "mixtures[0]" in problems


def test_a_pool_row_off_the_mixture_total_is_named_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, pool=POOL.replace("0.2,0.3,0.5", "0.2,0.3,0.4"))
    problems = campaign_problems(path)
    assert "pool.csv: line 3: ni + fe + co = 0.9, not the mixture's total 1" in problems
    assert "candidates" in problems


def test_constraints_beside_a_pool_are_still_refused(tmp_path: Path) -> None:
    path = write(tmp_path, **{"objectives:": 'constraints: ["ni <= 0.8"]\nobjectives:'})
    assert "a candidate pool lists its feasible points itself" in campaign_problems(path)


CATEGORICAL = """
name: dopants
budget: {experiments: 6}
space:
  - {name: temperature, type: continuous, bounds: [300, 900]}
  - {name: dopant, type: categorical, values: [Mg, Zn, Ga], descriptors: elements}
objectives:
  - {name: y, goal: maximize}
driver:
  type: simulated
  simulator: {type: function, function: "math:sin"}
"""


def test_element_values_get_the_element_properties_as_descriptors(tmp_path: Path) -> None:
    path = campaign_beside(tmp_path, CATEGORICAL, "unused.csv", "")
    table = load_campaign(path).descriptors()["dopant"]
    assert table.columns == PROPERTIES
    assert table.rows[0] == element_table().rows(["Mg"])[0]
    assert len(table.rows) == 3


def test_a_categorical_value_that_is_no_element_is_refused(tmp_path: Path) -> None:
    path = campaign_beside(tmp_path, CATEGORICAL, "unused.csv", "", **{"Ga]": "gallium]"})
    problems = campaign_problems(path)
    assert f"{path}:5:" in problems and "space[1]" in problems
    assert "descriptors: elements: 'gallium' is not an element symbol" in problems


@pytest.mark.parametrize(
    ("descriptors", "message"),
    [
        ("{path: table.csv, colums: [x]}", "space[1].descriptors.colums: unknown key 'colums'"),
        ("table.csv", "space[1].descriptors: give a table of descriptors, {path: file.csv}, or"),
        ("element", "space[1].descriptors: give a table of descriptors, {path: file.csv}, or"),
    ],
)
def test_a_mistaken_descriptors_is_one_problem_not_one_per_kind(
    tmp_path: Path, descriptors: str, message: str
) -> None:
    path = campaign_beside(
        tmp_path,
        CATEGORICAL,
        "table.csv",
        "name,x\nMg,1\nZn,2\nGa,3\n",
        **{"descriptors: elements": f"descriptors: {descriptors}"},
    )
    problems = campaign_problems(path)
    assert message in problems
    assert len(problems.splitlines()) == 1 and "'elements'" not in problems


def test_validate_refuses_a_bad_symbol_with_exit_2_without_importing_torch(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, **{"co: Co}": "co: Xx}"})
    result = tansaku("validate", path, cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert f"{path}:" in result.stderr and "'Xx' is not an element symbol" in result.stderr
    probe = (
        "import sys\n"
        "from tansaku.cli.app import app\n"
        "try:\n"
        f"    app(['validate', {str(REPO / 'campaigns' / 'oer-elements.yaml')!r}])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "print('heavy:', sorted(m for m in ('torch', 'pandas') if m in sys.modules))\n"
    )
    probed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert probed.returncode == 0, probed.stderr
    assert "heavy: []" in probed.stdout
