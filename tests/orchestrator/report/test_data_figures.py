"""The report's data figures: the random-search baselines against brute force, the
calendar's lanes, and the figures of a campaign told by hand (units, categories, failures)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgba

import tansaku
from tansaku.report import summarize
from tansaku.report.data_figures import (
    assign_lanes,
    best_of_draws_quantiles,
    busy_time,
    calendar,
    category_ticks,
    data_figures,
    expected_best_of_pool,
    reason_groups,
)
from tansaku.report.figure import ReportFigure, ReportNote
from tests.conftest import write_campaign


@pytest.mark.parametrize("k", [1, 2, 3, 5, 6])
def test_the_expected_best_of_a_pool_is_the_mean_over_every_draw(k: int) -> None:
    pool = [3.0, -1.0, 7.5, 7.5, 0.25, 2.0]  # a tie, a negative score
    draws = list(itertools.combinations(pool, k))
    brute_force = sum(max(draw) for draw in draws) / len(draws)
    assert expected_best_of_pool(pool, k) == pytest.approx(brute_force, rel=1e-12)


def test_the_expected_best_of_a_large_pool_does_not_overflow() -> None:
    pool = np.linspace(0.0, 1.0, 2000)
    expected = expected_best_of_pool(pool, 300)
    # Best of k drawn from N evenly spaced values in [0, 1]: k (N + 1) / (k + 1) / N - 1/N.
    n, k = 2000, 300
    exact = (k * (n + 1) / (k + 1) - 1) / (n - 1)
    assert expected == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_best_of_draws_quantiles_are_the_exact_order_statistics(k: int) -> None:
    scores = [4.0, 1.0, 9.0, 1.0, 6.0]
    # Every k-tuple of draws (with replacement) is equally likely.
    maxima = sorted(max(draw) for draw in itertools.product(scores, repeat=k))

    def quantile(q: float) -> float:
        # The smallest value v with P(max <= v) >= q.
        below = {v: sum(m <= v for m in maxima) for v in sorted(set(maxima))}
        return next(v for v, count in below.items() if count >= q * len(maxima))

    assert best_of_draws_quantiles(scores, k) == [quantile(0.1), quantile(0.5), quantile(0.9)]


def at(hours: float) -> datetime:
    return datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=hours)


def test_lanes_are_the_earliest_free_ones_and_never_more_than_the_slots() -> None:
    intervals = [(at(s), at(e)) for s, e in [(0, 2), (0, 3), (2, 4), (3, 5), (6, 7), (1, 2)]]
    lanes = assign_lanes(intervals, slots=3)
    assert lanes == [0, 1, 0, 1, 0, 2]
    for lane in set(lanes):
        mine = sorted(i for i, n in zip(intervals, lanes, strict=True) if n == lane)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(mine)), "overlap in a lane"
    # Three at once on two slots: the lane that frees first takes the third.
    assert assign_lanes([(at(0), at(2)), (at(0), at(1)), (at(0), at(3))], slots=2) == [0, 1, 1]


def test_busy_time_counts_overlapping_experiments_once() -> None:
    intervals = [(at(0), at(2)), (at(1), at(3)), (at(5), at(6)), (at(5.5), at(5.75))]
    assert busy_time(intervals) == timedelta(hours=4)
    assert busy_time([]) == timedelta(0)


FILM = """
    name: film-report
    seed: 3
    budget: {experiments: 6}
    space:
      - {name: temp_c, type: continuous, bounds: [60, 250], unit: degC}
      - {name: solvent, type: categorical, values: [water, ethanol, toluene]}
    objectives:
      - {name: g, goal: maximize, unit: mS}
    proposer:
      initial: {n: 4}
      num_restarts: 2
      raw_samples: 64
    driver: {type: manual, slots: 2}
"""


def labels_of(figure: ReportFigure) -> list[str]:
    return [a.get_xlabel() for a in figure.figure.axes] + [
        a.get_ylabel() for a in figure.figure.axes
    ]


def test_a_campaign_told_by_hand_has_its_units_categories_and_failures_drawn(
    tmp_path: Path,
) -> None:
    campaign = write_campaign(tmp_path, FILM)
    with tansaku.open(campaign, run_dir=tmp_path / "run") as opened:
        first, second, third, fourth = opened.suggest(4)
        opened.tell(first.id, g=3.0)
        opened.tell(second.id, failed="film cracked")
        opened.tell(third.id, g=9.5)
        opened.tell(fourth.id, failed="film cracked")
        summary = summarize(opened.ledger)
    assert summary is not None
    items = data_figures(summary, running=False)
    figures = {item.name: item for item in items if isinstance(item, ReportFigure)}
    notes = {item.title: item.text for item in items if isinstance(item, ReportNote)}
    assert set(figures) == {"convergence", "parameters-g", "failures", "calendar"}

    assert "g (mS)" in labels_of(figures["convergence"])
    scatter = figures["parameters-g"]
    assert {"temp_c (degC)", "solvent", "g (mS)"} <= set(labels_of(scatter))
    solvent_axes = next(a for a in scatter.figure.axes if a.get_xlabel() == "solvent")
    assert [t.get_text() for t in solvent_axes.get_xticklabels()] == ["water", "ethanol", "toluene"]
    assert "experiment number" in labels_of(scatter)  # the colourbar
    assert "2 failed experiments" in scatter.caption

    failures = figures["failures"]
    reasons = failures.figure.axes[1]
    assert [t.get_text() for t in reasons.get_yticklabels()] == ["film cracked"]
    assert [p.get_width() for p in reasons.patches] == [2]
    assert "2 of 4 finished experiments failed" in failures.caption
    assert "has not stopped: 4 of 6" in notes["Why the campaign stopped"]
    # A person's campaign goes on by what they tell and suggest, not only by a run.
    assert "tansaku suggest" in notes["Why the campaign stopped"]
    # Two results from the initial design: random search is drawn from them, and its
    # failures are not counted among what it resamples.
    convergence = figures["convergence"]
    assert "spread of the initial design" in convergence.caption
    assert "from its 2 feasible results" in convergence.caption
    legend = [t.get_text() for t in convergence.figure.legends[0].get_texts()]
    assert "initial design, resampled, median" in legend
    assert not any("random search" in label for label in legend)
    [axes] = convergence.figure.axes
    assert all(float(tick).is_integer() for tick in axes.get_xticks())
    assert "of the driver's 2 slots" in figures["calendar"].caption


def test_a_campaign_with_nothing_measured_has_notes_only(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path, FILM)
    with tansaku.open(campaign, run_dir=tmp_path / "run") as opened:
        opened.suggest(2)
        summary = summarize(opened.ledger)
    assert summary is not None
    items = data_figures(summary, running=True)
    assert all(isinstance(item, ReportNote) for item in items)
    assert items[0].title == "Nothing measured yet"
    assert "still running (0 of 6" in items[1].text


def test_failures_beyond_the_successes_range_are_drawn_inside_the_axis(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path, FILM)
    with tansaku.open(campaign, run_dir=tmp_path / "run") as opened:
        opened.add(temp_c=120.0, solvent="water", g=3.0)
        opened.add(temp_c=140.0, solvent="water", g=4.0)
        opened.add(temp_c=62.0, solvent="water", failed="too cold to anneal")
        opened.add(temp_c=248.0, solvent="toluene", failed="film burnt")
        summary = summarize(opened.ledger)
    assert summary is not None
    [scatter] = [
        item
        for item in data_figures(summary, running=False)
        if isinstance(item, ReportFigure) and item.name == "parameters-g"
    ]
    temp = next(a for a in scatter.figure.axes if a.get_xlabel() == "temp_c (degC)")
    [crosses] = [c for c in temp.collections if c.get_label() == "failed"]
    low, high = temp.get_xlim()
    assert sorted(crosses.get_offsets()[:, 0]) == [62.0, 248.0]
    assert low < 62.0 and high > 248.0


def test_long_category_values_get_numbered_labels_and_a_key() -> None:
    values = ["O=C([O-])C.[K+]", "O=C([O-])C.[Cs+]", "CCO"]
    ticks = category_ticks("base", values)
    assert len(set(ticks.labels)) == 3
    assert ticks.labels[0].startswith("1: O=C(") and ticks.labels[2] == "3: CCO"
    assert all(len(label) <= 14 for label in ticks.labels)
    assert ticks.key == "base: 1 = O=C([O-])C.[K+], 2 = O=C([O-])C.[Cs+], 3 = CCO"
    assert category_ticks("solvent", ["water", "ethanol"]).key == ""


def test_failure_reasons_differing_in_numbers_or_labels_count_as_one() -> None:
    reasons = reason_groups(
        "branin-faulty",
        [
            "InstrumentError: fault on attempt 1 of branin-faulty-0019",
            "simulated failure (failure_rate)",
            "InstrumentError: fault on attempt 2 of branin-faulty-0020",
            "InstrumentError: fault on attempt 1 of branin-faulty-0021\nTraceback ...",
        ],
    )
    assert reasons == [
        ("InstrumentError: fault on attempt 1 of branin-faulty-0019", 3),
        ("simulated failure (failure_rate)", 1),
    ]


def test_the_calendar_draws_running_experiments_and_instant_failures(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path, FILM)
    with tansaku.open(campaign, run_dir=tmp_path / "run") as opened:
        first, _waiting, third = opened.suggest(3)
        opened.tell(first.id, g=3.0)
        summary = summarize(opened.ledger)
        assert summary is not None
        built_at = max(e.updated_at for e in summary.experiments) + timedelta(seconds=40)
        running = calendar(summary, built_at)
        assert isinstance(running, ReportFigure)
        # The instrument refused the third at once: it started and ended in one instant.
        instant = built_at - timedelta(seconds=10)
        opened.ledger.record_result(
            third.id, objective=None, values={}, raw={}, failure="InstrumentError: no power",
            started_at=instant, finished_at=instant, driver_seconds=0.0,
        )
        summary = summarize(opened.ledger)
    assert summary is not None
    legend = [t.get_text() for t in running.figure.legends[0].get_texts()]
    assert legend == ["done", "still running"]  # nothing failed: no "failed" listed
    [axes] = running.figure.axes
    hatched = [bar for bar in axes.patches if bar.get_hatch()]
    assert len(hatched) == 2  # the second and third, told nothing yet
    origin = summary.record.clock_start
    for bar in hatched:
        assert bar.get_x() + bar.get_width() == pytest.approx(
            (built_at - origin).total_seconds()
        )
    assert "seconds" in axes.get_xlabel()
    busy, idle, span = _title_numbers(axes.get_title())
    assert busy + idle == span == 40

    failed = calendar(summary, built_at)
    assert isinstance(failed, ReportFigure)
    [axes] = failed.figure.axes
    # The instant failure, too short to see as a bar, is a red tick.
    red = to_rgba("tab:red")
    [tick] = [c for c in axes.collections if tuple(c.get_colors()[0]) == red]
    assert tick.get_segments()[0][0][0] == pytest.approx((instant - origin).total_seconds())
    legend = [t.get_text() for t in failed.figure.legends[0].get_texts()]
    assert legend == ["done", "failed", "still running"]


def _title_numbers(title: str) -> tuple[float, float, float]:
    """Busy, idle and span of a calendar title ``busy 40 s · idle 0 s of 40 s · ...``."""
    words = title.replace("·", " ").split()
    return float(words[1]), float(words[4]), float(words[7])
