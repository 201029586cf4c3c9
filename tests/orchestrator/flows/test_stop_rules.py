"""Stop rules: budget, deadline, a target value, and a run of experiments without progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tansaku.campaign.loading import parse_campaign
from tansaku.flows.campaign_flow import stop_reason
from tansaku.ledger import ExperimentRecord

START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def campaign(
    goal: str = "maximize",
    stop: str = "{}",
    budget: str = "{experiments: 20}",
    outcomes: str = "",
    purpose: str = "optimize",
):
    text = f"""
name: stops
purpose: {purpose}
budget: {budget}
stop: {stop}
space:
  - {{name: x, type: continuous, bounds: [0, 1]}}
objectives:
  - {{name: y, goal: {goal}}}
{outcomes}
driver:
  type: simulated
  simulator: {{type: function, function: "math:sin"}}
"""
    return parse_campaign(text, Path("stops.yaml"))


def records(*values: float | None, stability: float = 1.0) -> list[ExperimentRecord]:
    """Finished experiments with these values in id order; ``None`` is a failed one."""
    return [
        ExperimentRecord(
            id=i,
            batch=i,
            parameters={"x": 0.5},
            method="gp",
            proposer={},
            status="failed" if value is None else "done",
            attempts=1,
            proposed_at=START,
            updated_at=START,
            objective=value,
            values=None if value is None else {"y": value, "stability": stability},
        )
        for i, value in enumerate(values, start=1)
    ]


def test_without_stop_rules_only_the_budget_and_deadline_stop_a_campaign() -> None:
    loaded = campaign(budget="{experiments: 3, wall_clock: 2h}")
    assert stop_reason(loaded, records(1.0, 0.5), START, START) is None
    assert stop_reason(loaded, records(1, 2, 3), START, START).startswith("budget reached")
    late = START + timedelta(hours=2)
    assert stop_reason(loaded, records(1.0), late, START).startswith("deadline reached")


@pytest.mark.parametrize(
    ("goal", "values", "fires"),
    [
        ("maximize", (0.2, 0.95), True),
        ("maximize", (0.2, 0.89), False),
        ("minimize", (0.95, 0.9), True),
        ("minimize", (0.95, 0.91), False),
    ],
)
def test_a_target_stops_the_campaign_once_a_measurement_is_that_good(goal, values, fires) -> None:
    loaded = campaign(goal=goal, stop="{objective_reaches: 0.9}")
    reason = stop_reason(loaded, records(*values), START, START)
    if fires:
        assert reason.startswith("target reached: y = ") and "at #2" in reason
    else:
        assert reason is None


def test_no_improvement_counts_finished_experiments_after_the_best_failed_ones_included() -> None:
    loaded = campaign(goal="minimize", stop="{no_improvement_for: 3}")
    assert stop_reason(loaded, records(5.0, 1.0, 2.0, None), START, START) is None
    reason = stop_reason(loaded, records(5.0, 1.0, 2.0, None, 1.5), START, START)
    assert reason.startswith("no improvement for 3 experiments") and "from #2" in reason


def test_a_tie_is_no_improvement() -> None:
    loaded = campaign(stop="{no_improvement_for: 2}")
    assert stop_reason(loaded, records(1.0, 1.0, 1.0), START, START).startswith(
        "no improvement for 2"
    )


def test_an_experiment_that_misses_an_outcome_constraint_never_reaches_the_target() -> None:
    loaded = campaign(
        stop="{objective_reaches: 0.9, no_improvement_for: 2}",
        outcomes='outcomes: [{name: stability}]\noutcome_constraints: ["stability >= 0.8"]',
    )
    unstable = records(0.2, 0.95, stability=0.1)
    assert stop_reason(loaded, unstable, START, START) is None
    stable = records(0.2, 0.95, stability=0.9)
    assert stop_reason(loaded, stable, START, START).startswith("target reached: y = 0.95")


def test_without_a_feasible_experiment_no_improvement_does_not_fire() -> None:
    loaded = campaign(
        stop="{no_improvement_for: 2}",
        outcomes='outcomes: [{name: stability}]\noutcome_constraints: ["stability >= 0.8"]',
    )
    assert stop_reason(loaded, records(0.5, 0.6, 0.7, stability=0.1), START, START) is None


def learned(sds: list[float]) -> list[ExperimentRecord]:
    """Finished experiments of a learning campaign: the k-th recorded ``sds[k]`` as its
    proposal's uncertainty, having learned from k results."""
    done = records(*[0.5] * len(sds))
    for k, (record, sd) in enumerate(zip(done, sds, strict=True)):
        record.proposer.update(mean_relative_sd=sd, observations=k)
    return done


def test_the_uncertainty_rule_waits_for_enough_results_then_fires_below_its_threshold() -> None:
    loaded = campaign(stop="{uncertainty_below: 0.3}", budget="{experiments: 40}", purpose="learn")
    # An initial design of 5 (one parameter): trusted after max(2 x 5, 10) results.
    assert stop_reason(loaded, learned([0.9, 0.8, 0.2, 0.2, 0.2, 0.2]), START, START) is None
    assert stop_reason(loaded, learned([0.9] * 10 + [0.35]), START, START) is None
    reason = stop_reason(loaded, learned([0.9] * 10 + [0.25]), START, START)
    assert reason == (
        "uncertainty below 0.3: the model's standard deviation over the space is 0.25 of the "
        "measured spread when it proposed #11 (stop.uncertainty_below 0.3)"
    )
