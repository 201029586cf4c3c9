"""The best-so-far line of ``tansaku status``: which way is better, what counts, its width."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tansaku.cli.views import best_so_far_line
from tansaku.ledger import CampaignRecord, ExperimentRecord
from tansaku.report import CampaignSummary

START = datetime(2026, 12, 1, 9, tzinfo=UTC)
FAILED = None


def campaign(
    results: list[float | dict[str, float] | None],
    objective: dict[str, Any] | None = None,
    outcome_constraints: tuple[str, ...] = (),
    finish_order: list[int] | None = None,
) -> CampaignSummary:
    """A campaign whose experiments 1, 2, … measured ``results`` (a value of ``y``, every
    reading, or ``FAILED``), finishing in ``finish_order`` (their ids; default id order)."""
    snapshot = {
        "budget": {"experiments": 100},
        "objectives": [objective or {"name": "y", "goal": "maximize"}],
        "outcomes": [{"name": "purity"}] if outcome_constraints else [],
        "outcome_constraints": list(outcome_constraints),
        "space": [{"name": "x", "type": "continuous", "bounds": [0, 1]}],
    }
    record = CampaignRecord(
        name="spark", mode="dry-run", snapshot=snapshot, source_path="spark.yaml",
        created_at=START, clock_start=START, stop_reason=None, stopped_at=None,
    )  # fmt: skip
    order = finish_order or list(range(1, len(results) + 1))
    experiments = []
    for index, result in enumerate(results):
        experiment_id = index + 1
        readings = result if isinstance(result, dict) else {"y": result}
        finished = START + timedelta(hours=order.index(experiment_id) + 1)
        experiments.append(
            ExperimentRecord(
                id=experiment_id, batch=experiment_id, parameters={"x": 0.5}, method="gp",
                proposer={}, status="failed" if result is FAILED else "done", attempts=1,
                proposed_at=START, updated_at=finished,
                objective=None if result is FAILED else readings["y"],
                values=None if result is FAILED else readings,
                failure="the instrument timed out" if result is FAILED else None,
                started_at=finished - timedelta(hours=1), finished_at=finished,
            )
        )
    return CampaignSummary(record, experiments)


def bars(line: str) -> str:
    """The sparkline itself: what stands between the label and the values."""
    return line.split("  ")[1]


def test_maximize_rises_with_the_best_and_names_first_and_latest_best_with_the_unit() -> None:
    line = best_so_far_line(
        campaign([0.41, 0.2, 1.5, 3.02, 2.0], {"name": "y", "goal": "maximize", "unit": "S/cm"})
    )
    assert line == "best so far  ▁▁▄██  0.41 → 3.02 S/cm over 5 experiments"


def test_minimize_bars_still_rise_as_the_value_falls() -> None:
    line = best_so_far_line(campaign([10.0, 12.0, 4.0, 1.0], {"name": "y", "goal": "minimize"}))
    assert line == "best so far  ▁▁▆█  10 → 1 over 4 experiments"


def test_target_rises_as_the_best_comes_closer_to_the_target_from_either_side() -> None:
    objective = {"name": "y", "goal": "target", "target": 1.4, "unit": "eV"}
    line = best_so_far_line(campaign([2.4, 0.9, 1.6, 1.45, 3.0], objective))
    # Distances 1.0, 0.5, 0.2, 0.05, (1.6): each closer than the one before but the last.
    assert bars(line) == "▁▅▇██"
    assert line.endswith("2.4 → 1.45 eV (target 1.4) over 5 experiments")


def test_a_failure_keeps_the_previous_best_and_early_failures_leave_the_line_blank() -> None:
    line = best_so_far_line(campaign([FAILED, FAILED, 1.0, FAILED, 2.0, FAILED]))
    assert line == "best so far    ▁▁██  1 → 2 over 6 experiments"


def test_a_result_that_misses_an_outcome_constraint_is_never_the_best() -> None:
    results: list[float | dict[str, float] | None] = [
        {"y": 1.0, "purity": 0.9},
        {"y": 9.0, "purity": 0.5},  # the highest y, but impure
        {"y": 2.0, "purity": 0.95},
    ]
    line = best_so_far_line(campaign(results, outcome_constraints=("purity >= 0.8",)))
    assert line == "best so far  ▁▁█  1 → 2 over 3 experiments"


def test_no_feasible_result_yet_is_said_in_words() -> None:
    assert best_so_far_line(campaign([FAILED, FAILED])) == (
        "best so far  no successful result yet in 2 experiments"
    )
    impure = campaign([{"y": 5.0, "purity": 0.1}], outcome_constraints=("purity >= 0.8",))
    assert best_so_far_line(impure) == (
        "best so far  no successful result meeting the outcome constraints yet in 1 experiment"
    )


def test_nothing_finished_yet_says_so() -> None:
    assert best_so_far_line(campaign([])) == "best so far  nothing measured yet"


def test_a_constant_best_is_a_flat_line() -> None:
    line = best_so_far_line(campaign([3.0, 1.0, 2.0, 3.0]))
    assert line == "best so far  ▄▄▄▄  3 → 3 over 4 experiments"


def test_a_long_campaign_is_resampled_to_the_width_and_ends_at_its_latest_best() -> None:
    # 100 experiments, each better than the one before: the best after 1, 3, 6, …, 100.
    line = best_so_far_line(campaign([float(i) for i in range(1, 101)]), width=40)
    sparkline = bars(line)
    assert len(sparkline) == 40
    assert sparkline[0] == "▁" and sparkline[-1] == "█"
    assert list(sparkline) == sorted(sparkline) and len(set(sparkline)) == 8
    assert line.endswith("  1 → 100 over 100 experiments")
    # Just past the width: still 40 bars, from the first result to the latest.
    line = best_so_far_line(campaign([float(i) for i in range(1, 42)]), width=40)
    assert len(bars(line)) == 40 and line.endswith("  1 → 41 over 41 experiments")


def test_the_line_follows_the_order_experiments_finished_in() -> None:
    # With several instruments, #3 finished first: the line starts at its result.
    line = best_so_far_line(campaign([1.0, 2.0, 5.0], finish_order=[3, 1, 2]))
    assert line == "best so far  ▄▄▄  5 → 5 over 3 experiments"


def test_with_several_objectives_it_names_the_first_one() -> None:
    summary = campaign([1.0, 2.0])
    summary.record.snapshot["objectives"].append({"name": "cost", "goal": "minimize"})
    assert best_so_far_line(summary).startswith("best so far (y)  ▁█  1 → 2")
