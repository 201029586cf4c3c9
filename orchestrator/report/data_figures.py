"""The report's figures of what was measured: convergence, parameters against objectives,
the Pareto front, failures and the instrument's calendar.

Each figure is built from the ledger's records alone (a :class:`CampaignSummary`), on a
:class:`matplotlib.figure.Figure` of its own (no pyplot, no global state), and comes back
as a :class:`ReportFigure`, or as a :class:`ReportNote` saying why there is none yet.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
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
"""Characters of a category shown on an axis (SMILES run long)."""
MAX_REASON = 48
"""Characters of a failure reason shown on an axis."""
MAX_REASONS = 8
STATUS_COLOURS = {"done": "tab:blue", "failed": "tab:red"}
RUNNING_COLOUR = "tab:orange"
TICK_FRACTION = 0.004
"""A calendar bar shorter than this fraction of the axis is drawn as a tick as well."""

Item = ReportFigure | ReportNote


def data_figures(
    summary: CampaignSummary,
    *,
    running: bool,
    pool_scores: Sequence[float] | None = None,
    built_at: datetime | None = None,
) -> list[Item]:
    """Every figure of what was measured, in report order.

    Args:
        summary: the campaign as its ledger holds it.
        running: a ``tansaku run`` holds the run directory now (the campaign is not over).
        pool_scores: the first objective's score (larger better, ``Objective.score``) of
            every row of the candidate pool, where all are known (a dry run answering
            from a table of the same rows); the exact random-search baseline uses them.
        built_at: when the report is built (timezone-aware; default now): the calendar
            draws experiments still running up to it.
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
    items += [failures(summary), stop_note(summary, running), calendar(summary, built_at)]
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
    # Matplotlib does not autoscale on a blended transform: without this, a failure
    # outside the successes' range would fall outside the axis, unseen.
    known = [(x, 0.0) for x in positions if math.isfinite(x)]
    if known:
        axes.update_datalim(known, updatey=False)
        axes.autoscale_view(scaley=False)


def integer_ticks(axes: Axes) -> None:
    """Whole-number ticks on the x axis: experiment numbers have no halves."""
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class CategoryTicks:
    """Tick labels of a categorical parameter's values, unique and traceable."""

    labels: list[str]
    """One per value, in order; numbered (``"1: O=C([O-…"``) once any value is shortened."""
    key: str
    """``""`` where every value is shown whole; else ``"name: 1 = full value, 2 = ..."``,
    for the caption."""


def category_ticks(name: str, values: Sequence[object], limit: int = MAX_LABEL) -> CategoryTicks:
    """Labels for a categorical parameter's ``values`` of at most about ``limit`` characters.

    Two long values can share their first characters (SMILES do), so shortened labels
    are numbered, and the key gives each number's full value.
    """
    texts = [str(v) for v in values]
    if all(len(text) <= limit for text in texts):
        return CategoryTicks([literal(text) for text in texts], "")
    labels = [literal(f"{n}: {_short(text, limit - 3)}") for n, text in enumerate(texts, 1)]
    key = f"{name}: " + ", ".join(f"{n} = {text}" for n, text in enumerate(texts, 1))
    return CategoryTicks(labels, key)


def category_axis(
    axes: Axes, name: str, values: Sequence[object], which: Literal["x", "y"] = "x"
) -> str:
    """Ticks at 0, 1, ... labelled with :func:`category_ticks`; returns its key."""
    ticks = category_ticks(name, values)
    positions = range(len(ticks.labels))
    if which == "y":
        axes.set_yticks(positions, ticks.labels, fontsize="small")
        axes.set_ylim(-0.5, len(ticks.labels) - 0.5)
        return ticks.key
    if len(ticks.labels) > 3 or ticks.key:
        axes.set_xticks(
            positions, ticks.labels, fontsize="small", rotation=45, ha="right",
            rotation_mode="anchor",
        )
    else:
        axes.set_xticks(positions, ticks.labels, fontsize="small")
    axes.set_xlim(-0.5, len(ticks.labels) - 0.5)
    return ticks.key


def category_key_sentence(keys: Sequence[str]) -> str:
    """The caption's sentence naming the full values behind numbered, shortened labels."""
    given = [key for key in keys if key]
    if not given:
        return ""
    return " Long category values are numbered and shortened on the axes; in full, " + (
        "; ".join(given) + "."
    )


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


@dataclass(frozen=True)
class Baseline:
    """What picking at random would reach at each finished experiment."""

    label: str
    lines: list[list[float]]
    """One line (the pool's exact expectation) or three (10 %, median, 90 %), as values."""
    draws_from: int
    """Rows of the pool, or the initial design's results the resampling draws from."""


def convergence(summary: CampaignSummary, pool_scores: Sequence[float] | None = None) -> Item:
    """Best-so-far of the first objective against experiment number, with the initial
    design marked and what random search would be expected to reach."""
    objective = summary.objectives[0]
    curve = best_so_far(summary)
    finished = _finished(summary)
    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
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
        # A step needs two points to show; a lone best still gets its marker.
        axes.step(ids, best, where="post", color="tab:blue", linewidth=2, zorder=3,
                  marker="o" if len(ids) == 1 else None, label="best so far")
    _mark_failed_at_bottom(axes, [e.id for e in finished if e.status == "failed"], "failed")

    baseline = _random_search(summary, objective, finished, pool_scores)
    if baseline is not None:
        xs = [record.id for record in finished]
        if len(baseline.lines) == 1:
            axes.plot(xs, baseline.lines[0], "--", color="tab:orange", zorder=2,
                      label=baseline.label)
        else:
            low, median, high = baseline.lines
            axes.fill_between(xs, low, high, step="post", color="tab:orange", alpha=0.2,
                              zorder=1, label=f"{baseline.label}, 10-90 %")
            axes.step(xs, median, "--", where="post", color="tab:orange", zorder=2,
                      label=f"{baseline.label}, median")
    axes.set_xlabel("experiment number")
    integer_ticks(axes)
    axes.set_ylabel(objective_label(objective))
    drawn = results + [v for line in (baseline.lines if baseline else []) for v in line]
    logarithmic = _spans_decades([v for v in drawn if math.isfinite(v)])
    if logarithmic:
        axes.set_yscale("log")
    figure.legend(fontsize="small", loc="outside lower center", ncols=3)
    goal = {"maximize": "higher is better", "minimize": "lower is better"}.get(
        objective.goal, "closer to the target is better"
    )
    caption = (
        f"The best {objective.name} found so far ({goal}) after each experiment, among "
        "experiments that met every outcome constraint (failures are skipped, marked with "
        "red crosses); the shaded span is the initial design. "
    )
    if len(summary.objectives) > 1:
        caption += (
            f"It shows the first objective, {objective.name}, alone; the trade-off between "
            "all the objectives is in its own figure. "
        )
    caption += _baseline_caption(baseline, pool_scores)
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
) -> Baseline | None:
    """The random-search baseline at each finished experiment: the pool's exact
    expectation, or the initial design's feasible results resampled."""
    counts = list(range(1, len(finished) + 1))
    if pool_scores:
        usable = [min(k, len(pool_scores)) for k in counts]
        line = [shown(objective, expected_best_of_pool(pool_scores, k)) for k in usable]
        return Baseline("random search (exact expectation)", [line], len(pool_scores))
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
    # Honest about what it is: resampling the first results never passes their best.
    return Baseline("initial design, resampled", lines, len(scores))


def _baseline_caption(baseline: Baseline | None, pool_scores: Sequence[float] | None) -> str:
    if baseline is None:
        return (
            "No random-search comparison: the initial design has fewer than two feasible "
            "results to draw from."
        )
    if pool_scores:
        return (
            f"The dashed line is the exact expected best of as many rows drawn at random, "
            f"without replacement, from the {baseline.draws_from} rows of the candidate pool, "
            "whose every value the simulator's table holds."
        )
    return (
        "The orange band is random search estimated from the spread of the initial design: "
        "the median and 10-90 % range of the best of as many draws from its "
        f"{baseline.draws_from} feasible results (exact order statistics of their empirical "
        "distribution). It cannot pass the initial design's best, so past the first "
        "experiments it understates what more random draws would find: read it as what the "
        "first results alone foretell."
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
    keys = []
    for index, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, index + 1)
        spec = next(p for p in summary.record.snapshot["space"] if p["name"] == name)
        position, key = _positioner(spec, axes)
        keys.append(key)
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
    caption += category_key_sentence(keys)
    return ReportFigure(
        f"parameters-{slug}", f"{objective.name} against each parameter", caption, figure
    )


def _positioner(
    spec: dict[str, Any], axes: Axes, which: Literal["x", "y"] = "x"
) -> tuple[Any, str]:
    """The position of a parameter's values on the ``which`` axis, and the key of its
    shortened category labels (``""`` if none); categories become ticks at 0, 1, ..."""
    if spec["type"] != "categorical":
        return (lambda value: float("nan") if value is None else float(value)), ""
    labels = [str(v) for v in spec["values"]]
    key = category_axis(axes, spec["name"], labels, which)
    return (
        lambda value: labels.index(str(value)) if str(value) in labels else float("nan")
    ), key


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
    integer_ticks(axes)
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
    x_of, x_key = _positioner(x_spec, where)
    succeeded = [e for e in summary.experiments if e.status == "done"]
    y_key = ""
    if len(chosen) == 2:
        y_spec = next(p for p in space if p["name"] == chosen[1])
        y_of, y_key = _positioner(y_spec, where, "y")
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

    reasons = reason_groups(summary.name, [e.failure for e in failed])
    shown_reasons = reasons[:MAX_REASONS]
    if len(reasons) > MAX_REASONS:
        rest = sum(count for _, count in reasons[MAX_REASONS:])
        shown_reasons.append((f"{len(reasons) - MAX_REASONS} other reasons", rest))
    labels = [literal(_short(reason, MAX_REASON)) for reason, _ in shown_reasons][::-1]
    why.barh(range(len(labels)), [count for _, count in shown_reasons][::-1], color="tab:red")
    why.set_yticks(range(len(labels)), labels, fontsize="small")
    why.set_xlabel("failed experiments")
    why.xaxis.set_major_locator(MaxNLocator(integer=True))
    caption = (
        f"{len(failed)} of {summary.finished} finished experiments failed. Left: where, on "
        f"{' and '.join(chosen)} (the parameters the campaign spread widest); right: "
        "their reasons as the instrument gave them, counted; reasons that differ only in "
        "numbers or in the experiment they name count as one, shown by its first example."
    )
    caption += category_key_sentence([x_key, y_key])
    return ReportFigure("failures", "Failures", caption, figure)


def reason_groups(campaign: str, failures: Sequence[str | None]) -> list[tuple[str, int]]:
    """``(example reason, count)`` of failure reasons, most frequent first.

    Reasons that differ only in numbers or in the experiment they name (``... on attempt
    1 of branin-faulty-0019``) are one reason: a retry count or a label says nothing about
    why. The example is the group's first reason, as the instrument gave it.
    """
    label = re.compile(re.escape(campaign) + r"-\d+")
    examples: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for failure in failures:
        reason = _reason(failure)
        key = re.sub(r"\d+(\.\d+)?", "#", label.sub("<experiment>", reason))
        examples.setdefault(key, reason)
        counts[key] += 1
    return [(examples[key], count) for key, count in counts.most_common()]


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
        text = f"Stopped — {reason}."
    elif running:
        text = (
            f"The campaign is still running ({summary.finished} of {summary.budget} "
            "experiments finished when this report was built)."
        )
    else:
        verb = "is" if summary.finished == 1 else "are"
        text = (
            f"The campaign has not stopped: {summary.finished} of {summary.budget} "
            f"experiments {verb} finished and no run holds it now. {_carry_on(summary)}"
        )
    return ReportNote("Why the campaign stopped", text)


def _carry_on(summary: CampaignSummary) -> str:
    """How to take the campaign further: a person's campaign goes on by what they tell."""
    if summary.record.snapshot.get("driver", {}).get("type") != "manual":
        return "Run it again to carry on."
    counts = summary.counts
    waiting = counts["proposed"] + counts["running"]
    if waiting:
        return (
            f"To carry on, tell the results of the {waiting} experiment"
            f"{'s' * (waiting != 1)} waiting for them (tansaku tell), suggest more "
            "(tansaku suggest) or run it again."
        )
    return "To carry on, suggest more experiments (tansaku suggest) or run it again."


# The instrument's calendar -------------------------------------------------------------


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


@dataclass(frozen=True)
class Booking:
    """One experiment on the instrument's clock: from its start to its end, or to now
    for one still running."""

    record: ExperimentRecord
    start: datetime
    end: datetime

    @property
    def still_running(self) -> bool:
        return self.record.status == "running"


def bookings(summary: CampaignSummary, built_at: datetime) -> list[Booking]:
    """Every experiment with a place on the instrument's clock, in id order.

    A result holds its own start and end. An experiment still running has neither: a
    live one started at its last transition (``updated_at``, when it went running) and
    runs on to ``built_at``; in a dry run the virtual clock does not follow the wall
    clock, so it started at the latest result recorded before it went running and runs
    to the latest result of all (what the virtual clock has reached).
    """
    measured = [
        Booking(e, e.started_at, e.finished_at)
        for e in summary.experiments
        if e.started_at is not None and e.finished_at is not None
    ]
    origin = summary.record.clock_start
    latest = max([origin, *(b.end for b in measured)])
    running = []
    for record in summary.experiments:
        if record.status != "running":
            continue
        if summary.record.mode != "dry-run":
            running.append(Booking(record, min(record.updated_at, built_at), built_at))
            continue
        earlier = [b.end for b in measured if b.record.updated_at <= record.updated_at]
        running.append(Booking(record, max([origin, *earlier]), latest))
    return sorted(measured + running, key=lambda booking: booking.record.id)


def calendar(summary: CampaignSummary, built_at: datetime | None = None) -> Item:
    """A Gantt chart of the experiments on the instrument's clock, one lane per slot.

    Args:
        summary: the campaign as its ledger holds it.
        built_at: when the report is built (timezone-aware; default now): where the
            experiments of a live run that are still running end for now.
    """
    booked = bookings(summary, built_at or datetime.now(UTC))
    if not booked:
        return ReportNote("Instrument calendar", "No experiment has started yet.")
    intervals = [(b.start, b.end) for b in booked]
    slots = int(summary.record.snapshot.get("driver", {}).get("slots", 1))
    lanes = assign_lanes(intervals, slots)
    origin = summary.record.clock_start
    horizon = max(b.end for b in booked)
    span = horizon - origin
    scale, unit = _time_unit(span)

    def at(moment: datetime) -> float:
        return (moment - origin).total_seconds() / scale

    lane_count = max(lanes) + 1
    figure = Figure(figsize=(9, 1.6 + 0.45 * lane_count), layout="constrained")
    axes = figure.add_subplot()
    width = max(at(horizon), 1e-9)
    for booking, lane in zip(booked, lanes, strict=True):
        still = booking.still_running
        colour = RUNNING_COLOUR if still else STATUS_COLOURS.get(booking.record.status, "0.5")
        left, length = at(booking.start), at(booking.end) - at(booking.start)
        axes.barh(
            lane, length, left=left, height=0.7,
            color="none" if still else colour,
            edgecolor=colour if still else "white", hatch="//" if still else None,
            linewidth=0.6,
        )
        if length < TICK_FRACTION * width:
            # Too short to see as a bar (an instrument error answers at once): a tick,
            # taller than the bars so that it shows between two of them.
            axes.vlines(left + length / 2, lane - 0.47, lane + 0.47, colors=colour,
                        linewidth=2.5)
    axes.set_yticks(range(lane_count), [f"slot {n + 1}" for n in range(lane_count)])
    axes.set_ylim(lane_count - 0.5, -0.5)
    axes.set_xlim(0, width)
    axes.set_xlabel(f"time since the campaign started ({unit}, instrument clock)")
    busy = busy_time(intervals)
    occupied = sum((end - start for start, end in intervals), timedelta(0))
    use = occupied / (span * lane_count) if span > timedelta(0) else 1.0
    busy_text, idle_text, span_text = _durations(busy, span, scale, unit)
    axes.set_title(
        f"busy {busy_text} · idle {idle_text} of {span_text} · slots in use {use:.0%}",
        fontsize="medium",
    )
    statuses = {b.record.status for b in booked if not b.still_running}
    handles = [
        Patch(color=colour, label=status)
        for status, colour in STATUS_COLOURS.items()
        if status in statuses
    ]
    if any(b.still_running for b in booked):
        handles.append(
            Patch(facecolor="none", edgecolor=RUNNING_COLOUR, hatch="//", label="still running")
        )
    figure.legend(handles=handles, fontsize="small", loc="outside lower center",
                  ncols=len(handles))
    clock = "virtual time of the dry run" if summary.record.mode == "dry-run" else "real time"
    where = (
        "in the driver's one slot"
        if slots == 1 and lane_count == 1
        else f"in {lane_count} of the driver's {slots} slot{'s' * (slots != 1)} (lanes are "
        "assigned afresh, earliest free first: the ledger does not record which slot ran what)"
    )
    caption = (
        f"Each experiment as a bar from its start to its end on the instrument's clock "
        f"({clock}), {where}; one too short to see as a bar is a tick. Hatched bars are "
        "experiments still running when the report was built. Gaps are idle time: the "
        "instrument waited for the proposer, a person or a restart. Busy "
        f"{busy_text} (at least one experiment under way), idle {idle_text}."
    )
    return ReportFigure("calendar", "Instrument calendar", caption, figure)


def _time_unit(span: timedelta) -> tuple[float, str]:
    """Seconds per axis unit, and its name, for a calendar ``span`` long."""
    seconds = span.total_seconds()
    if seconds > 72 * 3600:
        return 86400.0, "days"
    if seconds > 2 * 3600:
        return 3600.0, "hours"
    if seconds >= 120:
        return 60.0, "minutes"
    return 1.0, "seconds"


UNIT_SYMBOLS = {"days": "d", "hours": "h", "minutes": "min", "seconds": "s"}


def _durations(
    busy: timedelta, span: timedelta, scale: float, unit: str
) -> tuple[str, str, str]:
    """Busy, idle and whole span in the axis' unit, rounded so that busy and idle add up
    to the span as shown."""
    decimals = 0 if unit == "seconds" else 1
    shown_span = round(span.total_seconds() / scale, decimals)
    shown_busy = min(round(busy.total_seconds() / scale, decimals), shown_span)
    shown_idle = round(shown_span - shown_busy, decimals)
    symbol = UNIT_SYMBOLS[unit]

    def text(value: float) -> str:
        return f"{value:.{decimals}f} {symbol}"

    return text(shown_busy), text(shown_idle), text(shown_span)
