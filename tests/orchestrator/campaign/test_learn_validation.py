"""``purpose: learn`` and ``stop.uncertainty_below`` at validation: each mistake named with
its line and what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import campaign_problems, write_campaign

LEARN = """
name: map
purpose: learn
budget: {experiments: 20}
stop: {uncertainty_below: 0.3}
space:
  - {name: x, type: continuous, bounds: [0, 1]}
objectives:
  - {name: y, goal: maximize}
driver:
  type: simulated
  simulator: {type: function, function: "math:sin"}
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("below: 0.3}", "below: 0}", "4:8: stop.uncertainty_below: 0 is never reached"),
        ("below: 0.3}", "below: 30}", "30 would stop a model that knows nothing: give a fraction"),
        ("purpose: learn\n", "", "stop: stop.uncertainty_below needs purpose learn"),
        (
            "goal: maximize}",
            "goal: maximize}\n  - {name: z, goal: minimize}",
            "purpose: purpose learn maps a single objective",
        ),
        ("goal: maximize}", "goal: target, target: 0.5}", "approaches no target"),
        ("driver:", "proposer: {ucb_beta: 3}\ndriver:", "proposer.ucb_beta (the screening"),
        (
            "driver:",
            "proposer: {acquisition: {type: ei}}\ndriver:",
            "so proposer.acquisition would not be used",
        ),
    ],
)
def test_a_mistaken_learning_campaign_is_refused_with_the_reason(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in LEARN
    path = write_campaign(tmp_path, LEARN.replace(old, new))
    problems = campaign_problems(path)
    assert f"{path}:" in problems and message in problems
    assert len(problems.splitlines()) == 1, problems
