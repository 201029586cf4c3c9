"""``fidelities:`` at validation: each mistake is one sentence naming its line, its field
and what to write instead, exit 2 at `tansaku validate`, without torch or Prefect."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tansaku.campaign.loading import load_campaign
from tests.conftest import campaign_problems, write_campaign

TWO_FIDELITY = """
name: mf
budget: {cost: 100}
space:
  - {name: x1, type: continuous, bounds: [-5, 10]}
  - {name: x2, type: continuous, bounds: [0, 15]}
objectives:
  - {name: y, goal: minimize}
fidelities:
  simulation:
    cost: 1
    driver:
      type: simulated
      simulator: {type: function, function: "tansaku.simulators.fidelity:cheap_branin"}
  experiment: {cost: 20}
driver:
  type: simulated
  simulator: {type: function, function: "tansaku.simulators.fidelity:branin"}
"""


def test_a_two_fidelity_campaign_counts_its_budget_in_cost_units(tmp_path: Path) -> None:
    campaign = load_campaign(write_campaign(tmp_path, TWO_FIDELITY)).campaign
    assert campaign.budget.cost == 100
    # The cost budget buys at most 100 simulations: what bounds the experiment count.
    assert campaign.budget.experiments == 100


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    cost: 1\n", "", "9:3: fidelities.simulation: this source has no cost: give"),
        (
            "cost: 1\n",
            "cost: 0\n",
            "10:5: fidelities.simulation.cost: a source costing 0 would",
        ),
        (
            "cost: 1\n",
            "cost: -2\n",
            "a source costing -2 would be free to use without end",
        ),
        ("{cost: 20}", "{cost: 1}", "simulation, experiment share the highest cost 1"),
        (
            "  experiment: {cost: 20}\n",
            "",
            "fidelities: fidelities lists sources of one objective at different costs: give "
            "at least two",
        ),
        (
            "    driver:\n      type: simulated\n      simulator: {type: function, function: "
            '"tansaku.simulators.fidelity:cheap_branin"}\n',
            "",
            "fidelity 'simulation' has no driver: every source but the dearest ('experiment'",
        ),
        (
            "{cost: 20}",
            "{cost: 20, driver: {type: simulated, simulator: {type: benchmark, function: branin}}}",
            "fidelity 'experiment', the dearest, is the truth and runs on the campaign's",
        ),
        ("budget: {cost: 100}", "budget: {experiments: 10}", "budget: a campaign with fidelities"),
        ("budget: {cost: 100}", "budget: {cost: 0.5}", "budget.cost 0.5 buys no experiment"),
        (
            "goal: minimize}",
            "goal: minimize}\n  - {name: z, goal: maximize}",
            "multi-fidelity campaigns do not support several objectives: keep one objective",
        ),
        (
            "driver:\n  type: simulated\n  simulator: {type: function, function: "
            '"tansaku.simulators.fidelity:branin"}',
            "purpose: learn\ndriver:\n  type: simulated\n  simulator: {type: function, "
            'function: "tansaku.simulators.fidelity:branin"}',
            "multi-fidelity campaigns do not support purpose learn: use purpose optimize",
        ),
        (
            "bounds: [0, 15]}",
            "bounds: [0, 15]}\n  - {name: fidelity, type: continuous, bounds: [0, 1]}",
            "do not support a parameter named 'fidelity'",
        ),
        (
            "bounds: [0, 15]}",
            "bounds: [0, 15]}\n  - {name: solvent, type: categorical, values: [a, b]}",
            "do not support categorical parameters",
        ),
        (
            "type: simulated\n      simulator",
            "type: simulated\n      slots: 2\n      simulator",
            "fidelities.simulation.driver.slots: multi-fidelity campaigns run one experiment",
        ),
        (
            "fidelity:cheap_branin",
            "fidelity:no_such_function",
            "fidelities.simulation.driver.simulator.function: cannot import",
        ),
        (
            "      type: simulated\n",
            "      type: telepathy\n",
            "fidelities.simulation.driver.type: unknown driver type 'telepathy'",
        ),
    ],
)
def test_a_mistaken_fidelity_is_refused_with_its_line_and_the_fix(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in TWO_FIDELITY
    path = write_campaign(tmp_path, TWO_FIDELITY.replace(old, new))
    problems = campaign_problems(path)
    assert f"{path}:" in problems and message in " ".join(problems.split()), problems
    assert len(problems.splitlines()) == 1, problems


def test_a_cost_budget_without_fidelities_is_refused(tmp_path: Path) -> None:
    plain = TWO_FIDELITY.split("fidelities:")[0] + "driver:" + TWO_FIDELITY.split("driver:")[-1]
    problems = campaign_problems(write_campaign(tmp_path, plain))
    assert "budget.cost counts the cost units of the campaign's sources" in problems
    assert len(problems.splitlines()) == 1, problems


def _validate(path: Path) -> subprocess.CompletedProcess:
    probe = textwrap.dedent(
        f"""
        import sys
        from tansaku.cli.app import app
        try:
            app(['validate', {str(path)!r}])
        except SystemExit as done:
            code = done.code
        heavy = sorted(m for m in ('torch', 'botorch', 'prefect') if m in sys.modules)
        print('heavy:', heavy, file=sys.stderr)
        sys.exit(code)
        """
    )
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )


def test_validate_exits_2_naming_the_line_and_imports_no_torch_or_prefect(
    tmp_path: Path,
) -> None:
    good = _validate(write_campaign(tmp_path, TWO_FIDELITY, "good.yaml"))
    assert good.returncode == 0, good.stderr
    assert "heavy: []" in good.stderr
    assert "cost units" in " ".join(good.stdout.split())
    bad = _validate(write_campaign(tmp_path, TWO_FIDELITY.replace("cost: 1\n", "cost: 0\n")))
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "campaign.yaml:10:5: fidelities.simulation.cost: a source" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert "heavy: []" in bad.stderr
