"""The report's figures of what was measured: convergence, parameters against objectives,
the Pareto front, failures and the instrument's calendar.

Each figure is built from the ledger's records alone (a :class:`CampaignSummary`), on a
:class:`matplotlib.figure.Figure` of its own (no pyplot, no global state), and comes back
as a :class:`ReportFigure`, or as a :class:`ReportNote` saying why there is none yet.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from tansaku.campaign.objectives import Objective
from tansaku.ledger import ExperimentRecord
from tansaku.report.figure import ReportFigure, ReportNote
from tansaku.report.summary import CampaignSummary, best_experiment

INITIAL_METHODS = frozenset({"sobol", "random"})
"""``ExperimentRecord.method`` of the experiments of the space-filling initial design."""

BAND = (0.1, 0.5, 0.9)
"""Quantiles of the random-search band: its 10 %, median and 90 % lines."""

FAILED_STYLE: dict[str, Any] = {"marker": "x", "color": "tab:red", "s": 40, "linewidths": 1.5}
MAX_LABEL = 14
"""Characters of a category or failure reason shown on an axis (SMILES run long)."""
MAX_REASONS = 8

Item = ReportFigure | ReportNote


def data_figures(
    summary: CampaignSummary, *, running: bool, pool_scores: Sequence[float] | None = None
) -> list[Item]:
    """Every figure of what was measured, in report order.

    Args:
        summary: the campaign as its ledger holds it.
        running: a ``tansaku run`` holds the run directory now (the campaign is not over).
        pool_scores: the first objective's score (larger better, ``Objective.score``) of
            every row of the candidate pool, where all are known (a dry run answering
            from a table of the same rows); the exact random-search baseline uses them.
    """
    if not any(e.status in ("done", "failed") for e in summary.experiments):
        return [
            ReportNote(
                "Nothing measured yet",
                f"No experiment of {summary.name} has a result yet, so there is nothing "
                "to plot; build the report again once results come in.",
            ),
            stop_note(summary, running),
        ]
    items: list[Item] = [convergence(summary, pool_scores)]
    items += [parameters_against(summary, objective) for objective in summary.objectives]
    if len(summary.objectives) > 1:
        items.append(pareto(summary))
    items += [failures(summary), stop_note(summary, running), calendar(summary)]
    return items


# Units and values ----------------------------------------------------------------------


def axis_label(name: str, unit: str | None) -> str:
    """``name (unit)``, or the bare name for a quantity without a unit."""
    return literal(f"{name} ({unit})" if unit else name)


def literal(text: str) -> str:
    """Campaign-supplied ``text`` as matplotlib shows it literally: a ``$`` would start
    mathtext (and an unpaired one fail the drawing)."""
    return text.replace("$", r"\$")


def parameter_unit(summary: CampaignSummary, name: str) -> str | None:
    spec = next(p for p in summary.record.snapshot["space"] if p["name"] == name)
    return spec.get("unit")


def objective_label(objective: Objective) -> str:
    """The axis label of the values :func:`shown` gives: a target's distance to it."""
    if objective.goal == "target":
        return axis_label(f"|{objective.name} - {objective.target:g}|", objective.unit)
    return axis_label(objective.name, objective.unit)


def shown(objective: Objective, score: float) -> float:
    """A score (``Objective.score``, larger better) in the objective's own unit: the value
    itself, or its distance to the target for a ``target`` goal."""
    return score if objective.goal == "maximize" else -score


def value_of(record: ExperimentRecord, name: str) -> float | None:
    value = (record.values or {}).get(name)
    return None if value is None else float(value)


def _finished(summary: CampaignSummary) -> list[ExperimentRecord]:
    return [e for e in summary.experiments if e.status in ("done", "failed")]


def _mark_failed_at_bottom(axes: Axes, positions: Sequence[float], label: str) -> None:
    """Failed experiments as red crosses along the bottom edge, at their x position."""
    if not positions:
        return
    bottom = blended_transform_factory(axes.transData, axes.transAxes)
    axes.scatter(positions, [0.03] * len(positions), transform=bottom, label=label, **FAILED_STYLE)


def _short(text: str, limit: int = MAX_LABEL) -> str:
    return literal(text if len(text) <= limit else text[: limit - 1] + "…")


# Convergence ---------------------------------------------------------------------------


def best_so_far(summary: CampaignSummary) -> list[tuple[int, float | None]]:
    """``(experiment id, best score by then)`` for each finished experiment, in id order.

    The best is :func:`best_experiment`'s (outcome constraints respected, failures
    skipped), scored by the first objective; ``None`` until a feasible result exists.
    """
    objective = summary.objectives[0]
    constraints = summary.outcome_constraints
    finished = _finished(summary)
    curve = []
    for count, record in enumerate(finished, start=1):
        best = best_experiment(finished[:count], objective, constraints)
        score = None if best is None else objective.score(float(best.objective or 0.0))
        curve.append((record.id, score))
    return curve


def expected_best_of_pool(scores: Sequence[float], k: int) -> float:
    """The expected best score of ``k`` rows drawn at random, without replacement, from a
    pool of rows whose scores are ``scores`` (larger better).

    With the ``N`` scores sorted ascending, the ``i``-th is the best of the draw when it
    is drawn with ``k - 1`` of the ``i - 1`` below it: E[max] = Σ_i v_(i) C(i-1, k-1) / C(N, k).
    Computed in logarithms, so pools of thousands of rows do not overflow.
    """
    values = np.sort(np.asarray(scores, dtype=float))
    n = len(values)
    if not 1 <= k <= n:
        raise ValueError(f"cannot draw {k} of {n} rows")
    i = np.arange(k, n + 1)
    log_weights = _log_comb(i - 1, k - 1) - _log_comb(np.array([n]), k)[0]
    return float(np.sum(values[k - 1 :] * np.exp(log_weights)))


def _log_comb(n: np.ndarray, k: int) -> np.ndarray:
    lgamma = np.vectorize(math.lgamma)
    return lgamma(n + 1.0) - math.lgamma(k + 1.0) - lgamma(n - k + 1.0)


def best_of_draws_quantiles(
    scores: Sequence[float], k: int, quantiles: Sequence[float] = BAND
) -> list[float]:
    """Quantiles of the best of ``k`` independent draws from the empirical distribution
    of ``scores`` (larger better): exact order statistics, no sampling.

    The best of ``k`` draws is at most ``x`` with probability F(x)^k, F the empirical
    CDF; its ``q``-quantile is the smallest score ``x`` with F(x) >= q^(1/k).
    """
    values = np.sort(np.asarray(scores, dtype=float))
    n = len(values)
    found = []
    for q in quantiles:
        # A hair below the level: q^(1/k) * n can land a rounding error above a whole
        # number and skip to the next score.
        index = math.ceil(n * q ** (1.0 / k) - 1e-9) - 1
        found.append(float(values[min(max(index, 0), n - 1)]))
    return found


def convergence(summary: CampaignSummary, pool_scores: Sequence[float] | None = None) -> Item:
    """Best-so-far of the first objective against experiment number, with the initial
    design marked and what random search would be expected to reach."""
    objective = summary.objectives[0]
    curve = best_so_far(summary)
    finished = _finished(summary)
    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    axes = figure.add_subplot()

    initial = [e for e in finished if e.method in INITIAL_METHODS]
    if initial:
        axes.axvspan(
            initial[0].id - 0.5, initial[-1].id + 0.5, color="0.92", zorder=0,
            label=f"initial design ({initial[0].method})",
        )
    done = summary.feasible
    results = [shown(objective, objective.score(float(e.objective or 0.0))) for e in done]
    axes.scatter([e.id for e in done], results, s=16, color="0.45", zorder=2, label="each result")
    ids = [i for i, score in curve if score is not None]
    best = [shown(objective, score) for _, score in curve if score is not None]
    if ids:
        axes.step(ids, best, where="post", color="tab:blue", linewidth=2, zorder=3,
                  label="best so far")
    _mark_failed_at_bottom(axes, [e.id for e in finished if e.status == "failed"], "failed")

    baseline = _random_search(summary, objective, finished, pool_scores)
    if baseline is not None:
        label, lines = baseline
        xs = [record.id for record in finished]
        if len(lines) == 1:
            axes.plot(xs, lines[0], "--", color="tab:orange", zorder=2, label=label)
        else:
            low, median, high = lines
            axes.fill_between(xs, low, high, step="post", color="tab:orange", alpha=0.2,
                              zorder=1, label=f"{label}, 10-90 %")
            axes.step(xs, median, "--", where="post", color="tab:orange", zorder=2,
                      label=f"{label}, median")
    axes.set_xlabel("experiment number")
    axes.set_ylabel(objective_label(objective))
    drawn = results + [v for line in (baseline[1] if baseline else []) for v in line]
    logarithmic = _spans_decades([v for v in drawn if math.isfinite(v)])
    if logarithmic:
        axes.set_yscale("log")
    axes.legend(fontsize="small", loc="best")
    goal = {"maximize": "higher is better", "minimize": "lower is better"}.get(
        objective.goal, "closer to the target is better"
    )
    caption = (
        f"The best {objective.name} found so far ({goal}) after each experiment, among "
        "experiments that met every outcome constraint (failures are skipped, marked with "
        "red crosses); the shaded span is the initial design. "
    )
    caption += _baseline_caption(baseline, pool_scores, initial)
    if logarithmic:
        caption += " The value axis is logarithmic: the results span over two decades."
    return ReportFigure("convergence", "Convergence", caption, figure)


def _spans_decades(values: Sequence[float]) -> bool:
    """Whether positive ``values`` span more than two decades: a log axis reads them."""
    return bool(values) and min(values) > 0 and max(values) > 100 * min(values)


def _random_search(
    summary: CampaignSummary,
    objective: Objective,
    finished: list[ExperimentRecord],
    pool_scores: Sequence[float] | None,
) -> tuple[str, list[list[float]]] | None:
    """The random-search baseline at each finished experiment: its label and one line
    (pool, exact) or three (empirical 10 %, median, 90 %, as values)."""
    counts = list(range(1, len(finished) + 1))
    if pool_scores:
        usable = [min(k, len(pool_scores)) for k in counts]
        line = [shown(objective, expected_best_of_pool(pool_scores, k)) for k in usable]
        return "random search, expected", [line]
    initial_ids = {e.id for e in finished if e.method in INITIAL_METHODS}
    scores = [
        objective.score(float(e.objective or 0.0))
        for e in summary.feasible
        if e.id in initial_ids
    ]
    if len(scores) < 2:
        return None
    per_k = [best_of_draws_quantiles(scores, k) for k in counts]
    lines = [[shown(objective, q[column]) for q in per_k] for column in range(len(BAND))]
    if objective.goal != "maximize":
        lines = [lines[2], lines[1], lines[0]]  # the 90 % score is the lowest value
    return "random search", lines


def _baseline_caption(
    baseline: tuple[str, list[list[float]]] | None,
    pool_scores: Sequence[float] | None,
    initial: list[ExperimentRecord],
) -> str:
    if baseline is None:
        return (
            "No random-search comparison: the initial design has fewer than two feasible "
            "results to draw from."
        )
    if pool_scores:
        return (
            f"The dashed line is the exact expected best of as many rows drawn at random, "
            f"without replacement, from the {len(pool_scores)} rows of the candidate pool, "
            "whose every value the simulator's table holds."
        )
    return (
        "The orange band is random search estimated from the spread of the initial design: "
        f"the median and 10-90 % range of the best of as many draws from its {len(initial)} "
        "results (exact order statistics of their empirical distribution). It cannot pass "
        "the initial design's best, so past the first experiments it understates what more "
        "random draws would find: read it as what the first results alone foretell."
    )


# Each parameter against each objective -------------------------------------------------


def parameters_against(summary: CampaignSummary, objective: Objective) -> Item:
    """A scatter of ``objective`` against each parameter, coloured by experiment order,
    failures marked at the bottom."""
    names = summary.parameter_names
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(3.4 * columns + 0.8, 2.9 * rows), layout="constrained")
    measured = [e for e in summary.experiments if e.status == "done"]
    measured = [e for e in measured if value_of(e, objective.name) is not None]
    failed = [e for e in summary.experiments if e.status == "failed"]
    last_id = max((e.id for e in summary.experiments), default=1)
    colours = None
    for index, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, index + 1)
        spec = next(p for p in summary.record.snapshot["space"] if p["name"] == name)
        position = _positioner(spec, axes)
        colours = axes.scatter(
            [position(e.point.get(name)) for e in measured],
            [value_of(e, objective.name) for e in measured],
            c=[e.id for e in measured], cmap="viridis", vmin=1, vmax=max(last_id, 2), s=22,
            edgecolors="none",
        )
        _mark_failed_at_bottom(axes, [position(e.point.get(name)) for e in failed], "failed")
        axes.set_xlabel(axis_label(name, spec.get("unit")))
        if index % columns == 0:
            axes.set_ylabel(axis_label(objective.name, objective.unit))
    assert colours is not None, "a campaign's space has at least one parameter"
    figure.colorbar(colours, ax=figure.axes, label="experiment number", shrink=0.9)
    slug = _slug(objective.name)
    caption = (
        f"Each measured {objective.name} against each parameter, at the point really "
        "measured; colour shows when it was measured (dark early, yellow late), so a "
        "campaign that homes in shows yellow points gathering. "
    )
    caption += (
        f"Red crosses mark the {len(failed)} failed experiment{'s' * (len(failed) != 1)} "
        "at their parameter value, along the bottom."
        if failed
        else "No experiment failed."
    )
    return ReportFigure(
        f"parameters-{slug}", f"{objective.name} against each parameter", caption, figure
    )


def _positioner(spec: dict[str, Any], axes: Axes) -> Any:
    """The x position of a parameter's values; categories become ticks at 0, 1, ..."""
    if spec["type"] != "categorical":
        return lambda value: float("nan") if value is None else float(value)
    labels = [str(v) for v in spec["values"]]
    axes.set_xticks(range(len(labels)), [_short(label) for label in labels])
    axes.tick_params(axis="x", labelrotation=45 if len(labels) > 3 else 0, labelsize="small")
    axes.set_xlim(-0.5, len(labels) - 0.5)
    return lambda value: labels.index(str(value)) if str(value) in labels else float("nan")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "objective"


# Several objectives --------------------------------------------------------------------


def pareto(summary: CampaignSummary) -> Item:
    """Measured points, the Pareto front and the reference point of every pair of
    objectives, and the hypervolume dominated after each experiment."""
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume
    from botorch.utils.multi_objective.pareto import is_non_dominated

    from tansaku.proposer.outcomes import OutcomeModel, reference_point

    objectives = summary.objectives
    feasible = summary.feasible
    if not feasible:
        return ReportNote(
            "Pareto front", "No experiment has met every outcome constraint yet: no front."
        )
    outcomes = OutcomeModel([o.name for o in objectives], list(objectives), [])
    values = torch.tensor(
        [[float((e.values or {})[o.name]) for o in objectives] for e in feasible],
        dtype=torch.double,
    )
    reference = reference_point(outcomes, values)
    front_ids = {e.id for e in summary.pareto_front}
    pairs = [(i, j) for i in range(len(objectives)) for j in range(i + 1, len(objectives))]
    panels = len(pairs) + 1
    columns = min(3, panels)
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(3.9 * columns, 3.5 * rows), layout="constrained")
    reference_shown = [shown(o, float(r)) for o, r in zip(objectives, reference, strict=True)]
    for index, (i, j) in enumerate(pairs):
        axes = figure.add_subplot(rows, columns, index + 1)
        others = [e for e in feasible if e.id not in front_ids]
        front = [e for e in feasible if e.id in front_ids]
        axes.scatter([_shown_value(e, objectives[i]) for e in others],
                     [_shown_value(e, objectives[j]) for e in others],
                     s=16, color="0.55", label="measured")
        axes.plot([_shown_value(e, objectives[i]) for e in front],
                  [_shown_value(e, objectives[j]) for e in front],
                  "o", color="tab:red", markersize=5, label="Pareto front")
        axes.scatter([reference_shown[i]], [reference_shown[j]], marker="*", s=140,
                     color="black", label="reference point", zorder=3)
        axes.set_xlabel(objective_label(objectives[i]))
        axes.set_ylabel(objective_label(objectives[j]))
        axes.legend(fontsize="small")

    scores = outcomes.scores(values)
    hypervolume = Hypervolume(reference)
    finished = _finished(summary)
    feasible_ids = [e.id for e in feasible]
    curve = []
    for record in finished:
        rows_so_far = [n for n, i in enumerate(feasible_ids) if i <= record.id]
        subset = scores[rows_so_far]
        curve.append(hypervolume.compute(subset[is_non_dominated(subset)]) if rows_so_far else 0.0)
    axes = figure.add_subplot(rows, columns, panels)
    axes.step([e.id for e in finished], curve, where="post", color="tab:blue", linewidth=2)
    axes.set_xlabel("experiment number")
    units = [o.unit for o in objectives]
    axes.set_ylabel(
        "hypervolume" + (f" ({' · '.join(units)})" if all(units) else "")
    )
    given = [o.threshold is not None for o in objectives]
    origin = (
        "the objectives' thresholds"
        if all(given)
        else "each objective's threshold where given, else inferred from the front (BoTorch's "
        "infer_reference_point)"
    )
    caption = (
        f"Each pair of objectives: feasible measurements (grey), the {len(front_ids)} on the "
        "Pareto front (red: no other is better on every objective at once) and the reference "
        f"point (★, {origin}). The last panel is the hypervolume the front dominates "
        "above the reference point after each experiment: it only grows, and flattens when "
        "new experiments stop improving the trade-off."
    )
    return ReportFigure("pareto", "Trade-off between the objectives", caption, figure)


def _shown_value(record: ExperimentRecord, objective: Objective) -> float:
    return shown(objective, objective.score(float((record.values or {})[objective.name])))


# Failures and stops --------------------------------------------------------------------


def failures(summary: CampaignSummary) -> Item:
    """Where failures happened in the space, and their reasons counted."""
    failed = [e for e in summary.experiments if e.status == "failed"]
    if not failed:
        return ReportNote("Failures", "No experiment failed.")
    space = summary.record.snapshot["space"]
    chosen = _most_spread(space, summary.experiments)
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    where, why = figure.subplots(1, 2, width_ratios=[1, 1.2])
    x_spec = next(p for p in space if p["name"] == chosen[0])
    x_of = _positioner(x_spec, where)
    succeeded = [e for e in summary.experiments if e.status == "done"]
    if len(chosen) == 2:
        y_spec = next(p for p in space if p["name"] == chosen[1])
        y_of = _axis_positioner(y_spec, where)
        where.set_ylabel(axis_label(y_spec["name"], y_spec.get("unit")))
    else:
        y_spec = None
        where.set_yticks([])

        def y_of(value: Any) -> float:
            del value
            return 0.0

    def y_value(record: ExperimentRecord) -> float:
        return y_of(record.point.get(y_spec["name"])) if y_spec else 0.0

    where.scatter([x_of(e.point.get(chosen[0])) for e in succeeded],
                  [y_value(e) for e in succeeded], s=16, color="0.6", label="measured")
    where.scatter([x_of(e.point.get(chosen[0])) for e in failed],
                  [y_value(e) for e in failed], label="failed", **FAILED_STYLE)
    where.set_xlabel(axis_label(x_spec["name"], x_spec.get("unit")))
    where.legend(fontsize="small")

    reasons = Counter(_reason(e.failure) for e in failed).most_common()
    shown_reasons = reasons[:MAX_REASONS]
    if len(reasons) > MAX_REASONS:
        rest = sum(count for _, count in reasons[MAX_REASONS:])
        shown_reasons.append((f"{len(reasons) - MAX_REASONS} other reasons", rest))
    labels = [_short(reason, 48) for reason, _ in shown_reasons][::-1]
    why.barh(range(len(labels)), [count for _, count in shown_reasons][::-1], color="tab:red")
    why.set_yticks(range(len(labels)), labels, fontsize="small")
    why.set_xlabel("failed experiments")
    why.xaxis.get_major_locator().set_params(integer=True)
    caption = (
        f"{len(failed)} of {summary.finished} finished experiments failed. Left: where, on "
        f"{' and '.join(chosen)} (the parameters the campaign spread widest); right: "
        "their reasons as the instrument gave them, counted."
    )
    return ReportFigure("failures", "Failures", caption, figure)


def _axis_positioner(spec: dict[str, Any], axes: Axes) -> Any:
    """Like :func:`_positioner`, on the y axis."""
    if spec["type"] != "categorical":
        return lambda value: float("nan") if value is None else float(value)
    labels = [str(v) for v in spec["values"]]
    axes.set_yticks(range(len(labels)), [_short(label) for label in labels], fontsize="small")
    axes.set_ylim(-0.5, len(labels) - 0.5)
    return lambda value: labels.index(str(value)) if str(value) in labels else float("nan")


def _most_spread(space: list[dict[str, Any]], experiments: list[ExperimentRecord]) -> list[str]:
    """The (at most two) parameters whose values vary most, as a fraction of their range."""
    spreads = []
    for spec in space:
        if spec["type"] == "categorical":
            labels = [str(v) for v in spec["values"]]
            values = [labels.index(str(e.point.get(spec["name"]))) / max(len(labels) - 1, 1)
                      for e in experiments if str(e.point.get(spec["name"])) in labels]
        else:
            values = [float(e.point[spec["name"]]) for e in experiments
                      if e.point.get(spec["name"]) is not None]
            low, high = min(values, default=0.0), max(values, default=0.0)
            width = _range_of(spec) or (high - low) or 1.0
            values = [(v - low) / width for v in values]
        spreads.append((float(np.std(values)) if values else 0.0, spec["name"]))
    order = sorted(range(len(spreads)), key=lambda i: (-spreads[i][0], i))
    return [spreads[i][1] for i in sorted(order[:2])]


def _range_of(spec: dict[str, Any]) -> float:
    if spec.get("bounds"):
        return float(spec["bounds"][1]) - float(spec["bounds"][0])
    values = [float(v) for v in spec.get("values") or []]
    return max(values) - min(values) if values else 0.0


def _reason(failure: str | None) -> str:
    return (failure or "no reason given").strip().splitlines()[0] or "no reason given"


def stop_note(summary: CampaignSummary, running: bool) -> ReportNote:
    """Why the campaign stopped, or that it has not."""
    reason = summary.record.stop_reason
    if reason is not None:
        text = f"The campaign stopped: {reason}."
    elif running:
        text = (
            f"The campaign is still running ({summary.finished} of {summary.budget} "
            "experiments finished when this report was built)."
        )
    else:
        text = (
            f"The campaign has not stopped: {summary.finished} of {summary.budget} "
            "experiments are finished and no run holds it now. Run it again to carry on."
        )
    return ReportNote("Why the campaign stopped", text)


# The instrument's calendar -------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    """One experiment on the instrument's clock, in the lane (slot) it was drawn in."""

    record: ExperimentRecord
    start: datetime
    end: datetime
    lane: int


def assign_lanes(
    intervals: Sequence[tuple[datetime, datetime]], slots: int
) -> list[int]:
    """A lane (0-based) for each ``(start, end)`` interval: the lowest lane free by its start.

    Interval partitioning, taken in order of start: it uses as few lanes as the most
    intervals overlapping at once, and never more than ``slots``; where more overlap
    than that (a run's slots changed by a revision), the lane that frees soonest is shared.
    """
    order = sorted(range(len(intervals)), key=lambda i: (intervals[i][0], i))
    lane_ends: list[datetime] = []
    lanes = [0] * len(intervals)
    for i in order:
        start, end = intervals[i]
        free = [lane for lane, busy_until in enumerate(lane_ends) if busy_until <= start]
        if free:
            lane = free[0]
        elif len(lane_ends) < slots:
            lane_ends.append(end)
            lane = len(lane_ends) - 1
        else:
            lane = min(range(len(lane_ends)), key=lambda n: (lane_ends[n], n))
        lane_ends[lane] = max(lane_ends[lane], end)
        lanes[i] = lane
    return lanes


def busy_time(intervals: Sequence[tuple[datetime, datetime]]) -> timedelta:
    """How long at least one experiment was under way: the length of the intervals' union."""
    total = timedelta(0)
    current: tuple[datetime, datetime] | None = None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += current[1] - current[0]
    return total


def calendar(summary: CampaignSummary) -> Item:
    """A Gantt chart of the experiments on the instrument's clock, one lane per slot."""
    started = [e for e in summary.experiments if e.started_at is not None]
    ends = [e.finished_at for e in started if e.finished_at is not None]
    if not ends:
        return ReportNote("Instrument calendar", "No experiment has finished yet.")
    horizon = max([*ends, *(e.started_at for e in started if e.started_at is not None)])
    intervals = [(e.started_at, e.finished_at or horizon) for e in started]
    slots = int(summary.record.snapshot.get("driver", {}).get("slots", 1))
    lanes = assign_lanes(intervals, slots)
    origin = summary.record.clock_start
    span = horizon - origin
    scale, unit = _time_unit(span)

    def at(moment: datetime) -> float:
        return (moment - origin).total_seconds() / scale

    lane_count = max(lanes) + 1
    figure = Figure(figsize=(9, 1.3 + 0.45 * lane_count), layout="constrained")
    axes = figure.add_subplot()
    colour = {"done": "tab:blue", "failed": "tab:red"}
    for record, (start, end), lane in zip(started, intervals, lanes, strict=True):
        still = record.finished_at is None
        axes.barh(
            lane, at(end) - at(start), left=at(start), height=0.7,
            color="none" if still else colour.get(record.status, "tab:gray"),
            edgecolor="tab:orange" if still else "white", hatch="//" if still else None,
            linewidth=0.6,
        )
    axes.set_yticks(range(lane_count), [f"slot {n + 1}" for n in range(lane_count)])
    axes.set_ylim(lane_count - 0.5, -0.5)
    axes.set_xlim(0, max(at(horizon), 1e-9))
    axes.set_xlabel(f"time since the campaign started ({unit}, instrument clock)")
    busy = busy_time(intervals)
    occupied = sum((end - start for start, end in intervals), timedelta(0))
    idle = span - busy
    use = occupied / (span * lane_count) if span > timedelta(0) else 1.0
    axes.set_title(
        f"busy {_duration(busy)} · idle {_duration(idle)} of {_duration(span)} · "
        f"slots in use {use:.0%}",
        fontsize="medium",
    )
    from matplotlib.patches import Patch

    handles = [Patch(color="tab:blue", label="done"), Patch(color="tab:red", label="failed")]
    if any(e.finished_at is None for e in started):
        handles.append(
            Patch(facecolor="none", edgecolor="tab:orange", hatch="//", label="still running")
        )
    axes.legend(handles=handles, fontsize="small", loc="upper right")
    caption = (
        f"Each experiment as a bar from its start to its end on the instrument's clock "
        f"({'virtual time of the dry run' if summary.record.mode == 'dry-run' else 'real time'}),"
        f" in {lane_count} of the driver's {slots} slot{'s' * (slots != 1)} (lanes are "
        "assigned afresh, earliest free first: the ledger does not record which slot ran "
        "what). Gaps are idle time: the instrument waited for the proposer, a person or a "
        f"restart. Busy {_duration(busy)} (at least one experiment under way), idle "
        f"{_duration(idle)}."
    )
    return ReportFigure("calendar", "Instrument calendar", caption, figure)


def _time_unit(span: timedelta) -> tuple[float, str]:
    """Seconds per axis unit, and its name, for a calendar ``span`` long."""
    hours = span.total_seconds() / 3600
    if hours > 72:
        return 86400.0, "days"
    if hours > 2:
        return 3600.0, "hours"
    return 60.0, "minutes"


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"
