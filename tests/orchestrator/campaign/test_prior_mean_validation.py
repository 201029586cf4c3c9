"""``model: {prior_mean: ...}``: `tansaku validate` imports the function and calls it on a
few points, and refuses one that cannot serve as a prior with the file, the line and why,
exit 2, without importing torch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tansaku.campaign.loading import load_campaign
from tansaku.campaign.model_settings import probe_points
from tests.conftest import TANSAKU, campaign_problems, write_campaign

PRIORS = """
import math

def good(point):
    return 1.0 + point["x"] * (2.0 if point["solvent"] == "water" else 1.0)

def raises(point):
    raise ValueError("no estimate for this solvent")

def nan_at_the_top(point):
    return math.nan if point["x"] == 10.0 else 1.0

def text(point):
    return "high"

def several(point):
    return [1.0, 2.0]

def truth(point):
    return point["x"]

not_callable = 3.0
"""

CAMPAIGN = """
name: priors
budget: {experiments: 6}
space:
  - {name: x, type: continuous, bounds: [0, 10]}
  - {name: solvent, type: categorical, values: [water, ethanol]}
objectives:
  - {name: y, goal: maximize}
model:
  prior_mean: "{module}:{function}"
driver:
  type: simulated
  simulator: {type: function, function: "{module}:truth"}
"""
PRIOR_LINE = 9


def _module(folder: Path) -> str:
    """A module of prior means in ``folder``, named after it so that tests in one
    process never share a cached import."""
    name = "priors_" + "".join(c if c.isalnum() else "_" for c in folder.name)
    (folder / f"{name}.py").write_text(PRIORS)
    return name


def _campaign(folder: Path, function: str, text: str = CAMPAIGN) -> Path:
    module = _module(folder)
    return write_campaign(folder, text.replace("{module}", module).replace("{function}", function))


def _validate(path: Path) -> subprocess.CompletedProcess:
    """`tansaku validate`, with the campaign's folder importable as a user's package is."""
    return subprocess.run(
        [str(TANSAKU), "validate", str(path)],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(path.parent), "COLUMNS": "200"},
    )


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("missing", ":missing: module 'priors_"),
        ("not_callable", ":not_callable is not callable"),
        (
            "raises",
            ":raises raised ValueError: no estimate for this solvent at x=5, solvent=ethanol",
        ),
        ("nan_at_the_top", ":nan_at_the_top returned nan at x=10, solvent=ethanol"),
        ("text", ":text returned 'high' (str) at x=5, solvent=ethanol; it must return one number"),
        ("several", ":several returned [1.0, 2.0] (list)"),
    ],
)
def test_validate_refuses_a_prior_that_cannot_serve_with_exit_2(
    tmp_path: Path, function: str, expected: str
) -> None:
    path = _campaign(tmp_path, function)
    result = _validate(path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{path}:{PRIOR_LINE}:" in result.stderr
    assert "model.prior_mean" in result.stderr
    assert expected in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_a_module_that_does_not_exist_is_named(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        CAMPAIGN.replace('"{module}:{function}"', '"no_such_package.physics:arrhenius"').replace(
            "{module}", "math"
        ),
    )
    problems = campaign_problems(path)
    assert f"{path}:{PRIOR_LINE}:" in problems
    assert "cannot import no_such_package.physics:arrhenius" in problems
    assert "No module named 'no_such_package'" in problems


def test_several_objectives_are_refused(tmp_path: Path) -> None:
    text = CAMPAIGN.replace(
        "  - {name: y, goal: maximize}\n",
        "  - {name: y, goal: maximize}\n  - {name: cost, goal: minimize}\n",
    )
    path = _campaign(tmp_path, "good", text)
    result = _validate(path)
    assert result.returncode == 2, result.stdout
    assert f"{path}:9:" in result.stderr  # the `model:` line, one further down
    assert "model.prior_mean predicts a single objective" in " ".join(result.stderr.split())


def test_a_good_prior_validates_without_importing_torch(tmp_path: Path) -> None:
    path = _campaign(tmp_path, "good")
    probe = textwrap.dedent(
        f"""
        import sys
        from tansaku.cli.app import app
        try:
            app(['validate', {str(path)!r}])
        except SystemExit as done:
            assert done.code == 0, done.code
        print('heavy:', sorted(m for m in ('torch', 'gpytorch', 'botorch') if m in sys.modules))
        """
    )
    probed = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert probed.returncode == 0, probed.stderr
    assert "heavy: []" in probed.stdout
    assert "prior mean" in probed.stdout


def test_probes_cover_the_box_fixed_values_and_categoricals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _campaign(tmp_path, "good")
    monkeypatch.syspath_prepend(str(tmp_path))
    points = probe_points(load_campaign(path).campaign.space)
    assert points[0] == {"x": 5.0, "solvent": "ethanol"}
    assert {p["x"] for p in points} >= {0.0, 10.0}
    assert {p["solvent"] for p in points} == {"water", "ethanol"}
    assert all(0.0 <= p["x"] <= 10.0 for p in points)


def test_with_a_pool_only_its_rows_are_asked_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A per-candidate estimate (a DFT value for each listed material) is defined on the
    # pool alone; asking it about the box's centre would refuse a good prior.
    module = "pool_priors_" + "".join(c if c.isalnum() else "_" for c in tmp_path.name)
    (tmp_path / f"{module}.py").write_text(
        "ESTIMATES = {1.0: 0.2, 4.0: 0.9, 9.0: 0.4}\n"
        "def by_row(point):\n"
        "    return ESTIMATES[point['x']]\n"
    )
    (tmp_path / "pool.csv").write_text("x,y\n1,0.1\n4,0.8\n9,0.5\n")
    path = write_campaign(
        tmp_path,
        f"""
        name: pool-prior
        budget: {{experiments: 3}}
        candidates: {{path: pool.csv}}
        space:
          - {{name: x, type: continuous, bounds: [0, 10]}}
        objectives:
          - {{name: y, goal: maximize}}
        model: {{prior_mean: "{module}:by_row"}}
        driver:
          type: simulated
          simulator: {{type: dataset, path: pool.csv, output: y}}
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_campaign(path).campaign.model.prior_mean == f"{module}:by_row"
