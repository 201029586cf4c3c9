"""The report's model figures: what the campaign's model believes, which parameters matter.

Every picture is read off the campaign's own fitted model, the :class:`Surrogate` its next
proposal would use; no second model is fitted for the report. The model's uncertainty is
about the underlying property, without measurement noise: a band of two standard
deviations either side says where the property itself probably lies, not where a repeat
measurement would fall.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from tansaku.campaign.parameters import (
    CategoricalParameter,
    ContinuousParameter,
    DiscreteParameter,
    IntegerParameter,
    Parameter,
)
from tansaku.report.data_figures import category_axis, category_key_sentence
from tansaku.report.figure import ReportFigure, ReportNote
from tansaku.report.sensitivity import INTERVAL, Sensitivity, sobol_sensitivities

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis

    from tansaku.proposer.surrogate import Surrogate
    from tansaku.report.summary import CampaignSummary

SIGMA = "\N{GREEK SMALL LETTER SIGMA}"
TWO_SIGMA = f"±2{SIGMA}"
BELIEF_TITLE = "What the model believes"
SENSITIVITY_TITLE = "Which parameters matter"
MAP_TITLE = "The two parameters that matter most"
LINE_POINTS = 101
"""Points along a continuous parameter's slice."""
MAP_POINTS = 41
"""Points along each axis of a 2-D map."""
MAX_BARS = 12
"""An integer or discrete parameter with up to this many values gets one error bar per
value; with more, a line and band like a continuous one."""
PANEL_COLUMNS = 3
MIN_OPACITY = 0.12
"""Opacity of a measured point as far from the slice as the space allows."""


@dataclass(frozen=True)
class _Measured:
    """The points the model learned from, with what was measured there.

    ``rows``: ``n x d`` encoded points; ``values``: ``n x m`` measured values of the
    surrogate's quantities (NaN where not reported); ``prior``: which are prior data.
    """

    rows: np.ndarray
    values: np.ndarray
    prior: np.ndarray


@dataclass(frozen=True)
class _Anchor:
    """The point the slices and maps go through, and how to name it in a caption."""

    row: np.ndarray
    described: str


def model_figures(
    summary: CampaignSummary, surrogate: Surrogate | None
) -> list[ReportFigure | ReportNote]:
    """The report's model sections, in reading order.

    One figure per objective of the model's prediction along each parameter (mean ± 2 sd,
    the measured points), the Sobol sensitivity ranking, and 2-D maps of mean and standard
    deviation over the two continuous or integer parameters that matter most; notes where
    a figure cannot be drawn (no model before two results, too few such parameters).

    Args:
        summary: the campaign's ledger, summarised.
        surrogate: the campaign's fitted model (``OpenCampaign.surrogate()``); ``None``
            before two results.
    """
    if surrogate is None:
        done = summary.counts["done"] + len(summary.prior)
        why = (
            f"The model needs at least two results to be fitted; this campaign has {done}. "
            "Its beliefs and the parameters' importance appear once it has two."
        )
        return [ReportNote(BELIEF_TITLE, why), ReportNote(SENSITIVITY_TITLE, why)]
    if not _searched(surrogate):
        why = "Every parameter of this campaign is fixed: there is nothing to vary."
        return [ReportNote(BELIEF_TITLE, why), ReportNote(SENSITIVITY_TITLE, why)]
    measured = _measured(summary, surrogate)
    anchor = _anchor(summary, surrogate, measured)
    units = _units(summary.record.snapshot)
    objectives = [o for o in summary.objectives if o.name in surrogate.quantities]
    beliefs = [
        _belief_figure(
            surrogate,
            objective.name,
            anchor,
            measured,
            units,
            several=len(objectives) > 1,
            target=objective.target if objective.goal == "target" else None,
        )
        for objective in objectives
    ]
    pool = _pool(summary, surrogate)
    sensitivities = sobol_sensitivities(surrogate, pool)
    shown = [s for s in sensitivities if s.quantity in {o.name for o in objectives}]
    ranking = _sensitivity_figure(summary, shown, pool)
    map_or_note = _map_figure(surrogate, shown[0], anchor, measured, units)
    # The slices and maps move one or two parameters alone, off any constraint's surface.
    warning = _off_limits(summary)
    beliefs = [replace(b, caption=b.caption + warning) for b in beliefs]
    if isinstance(map_or_note, ReportFigure):
        map_or_note = replace(map_or_note, caption=map_or_note.caption + warning)
    return [*beliefs, ranking, map_or_note]


# Inputs ------------------------------------------------------------------------------


def _measured(summary: CampaignSummary, surrogate: Surrogate) -> _Measured:
    encoding = surrogate.encoding
    fixed = {p.name: p.fixed for p in encoding.space if p.fixed is not None}
    found: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
        (e.point, e.values or {}, False) for e in summary.experiments if e.status == "done"
    ]
    found += [(p.parameters, p.values, True) for p in summary.prior]
    rows, values, prior = [], [], []
    for point, reported, is_prior in found:
        full = {**fixed, **point}
        if not encoding.encodes(full):
            continue  # measured with a value a revision dropped: the model cannot place it
        rows.append(encoding.encode(full))
        values.append([_number(reported.get(q)) for q in surrogate.quantities])
        prior.append(is_prior)
    return _Measured(
        np.array(rows, dtype=float).reshape(-1, encoding.dim),
        np.array(values, dtype=float).reshape(-1, len(surrogate.quantities)),
        np.array(prior, dtype=bool),
    )


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def _anchor(summary: CampaignSummary, surrogate: Surrogate, measured: _Measured) -> _Anchor:
    """The best experiment's point; without one, the measured point the model rates best."""
    encoding = surrogate.encoding
    best = summary.best
    fixed = {p.name: p.fixed for p in encoding.space if p.fixed is not None}
    if best is not None and encoding.encodes({**fixed, **best.point}):
        row = np.array(encoding.encode({**fixed, **best.point}), dtype=float)
        return _Anchor(row, f"the best result (experiment #{best.id})")
    objective = summary.objectives[0]
    column = surrogate.quantities.index(objective.name)
    mean = surrogate.predict_encoded(torch.tensor(measured.rows)).mean[:, column]
    chosen = int(np.argmax([objective.score(float(m)) for m in mean]))
    return _Anchor(
        measured.rows[chosen], "the measured point the model predicts best (no feasible result)"
    )


def _pool(summary: CampaignSummary, surrogate: Surrogate) -> list[dict[str, Any]] | None:
    """For a candidate-pool campaign, the rows it measured or proposed; else ``None``."""
    if summary.record.snapshot.get("candidates") is None:
        return None
    encoding = surrogate.encoding
    fixed = {p.name: p.fixed for p in encoding.space if p.fixed is not None}
    points = [{**fixed, **e.point} for e in summary.experiments]
    return [p for p in points if encoding.encodes(p)]


def _units(snapshot: dict[str, Any]) -> dict[str, str | None]:
    """Unit of every parameter and measured quantity, by name (``None`` where unitless)."""
    named = [*snapshot["space"], *snapshot["objectives"], *snapshot.get("outcomes", [])]
    return {entry["name"]: entry.get("unit") for entry in named}


def _label(name: str, units: dict[str, str | None]) -> str:
    unit = units.get(name)
    return f"{name} ({unit})" if unit else name


def _file_name(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# Evaluating the model ----------------------------------------------------------------


def _predict(surrogate: Surrogate, rows: np.ndarray, quantity: str) -> tuple[np.ndarray, ...]:
    """Mean and sd of ``quantity`` at ``n x d`` encoded ``rows``."""
    prediction = surrogate.predict_encoded(torch.tensor(rows, dtype=torch.float64))
    column = prediction.quantities.index(quantity)
    return prediction.mean[:, column], prediction.sd[:, column]


def _along(anchor: _Anchor, column: int, values: np.ndarray) -> np.ndarray:
    """The anchor's row repeated, with ``column`` set to each of ``values``."""
    rows = np.tile(anchor.row, (len(values), 1))
    rows[:, column] = values
    return rows


def _closeness(
    measured: _Measured, anchor: _Anchor, surrogate: Surrogate, columns: list[int]
) -> np.ndarray:
    """How near each measured point lies to the anchor in ``columns``: 1 on it, 0 at a
    root-mean-square distance of a whole range (each column scaled by its range; a
    categorical counts 0 for the same value, 1 for another)."""
    if not columns or not len(measured.rows):
        return np.ones(len(measured.rows))
    encoding = surrogate.encoding
    gaps = []
    for column in columns:
        low, high = encoding.bounds[column]
        offset = measured.rows[:, column] - anchor.row[column]
        if isinstance(encoding.space[column], CategoricalParameter):
            gaps.append((offset != 0).astype(float))
        else:
            gaps.append(np.abs(offset) / (high - low))
    distance = np.sqrt(np.mean(np.square(gaps), axis=0))
    return np.clip(1.0 - distance, 0.0, 1.0)


def _opacity(closeness: np.ndarray) -> np.ndarray:
    return MIN_OPACITY + (1.0 - MIN_OPACITY) * closeness**2


def _points_colour(colour: str, opacity: np.ndarray) -> np.ndarray:
    rgba = np.tile(to_rgba(colour), (len(opacity), 1))
    rgba[:, 3] = opacity
    return rgba


def _searched(surrogate: Surrogate) -> list[int]:
    encoding = surrogate.encoding
    return [i for i in range(encoding.dim) if i not in encoding.fixed_columns]


def _as_bars(parameter: Parameter) -> np.ndarray | None:
    """The encoded values to draw one error bar each at, or ``None`` for a line."""
    if isinstance(parameter, CategoricalParameter):
        return np.arange(len(parameter.values), dtype=float)
    if isinstance(parameter, DiscreteParameter) and len(parameter.allowed) <= MAX_BARS:
        return np.array(parameter.allowed, dtype=float)
    if isinstance(parameter, IntegerParameter):
        low, high = parameter.bounds
        if high - low + 1 <= MAX_BARS:
            return np.arange(low, high + 1, dtype=float)
    return None


def _line_values(parameter: Parameter, low: float, high: float, count: int) -> np.ndarray:
    """Encoded values along a parameter drawn as a line: whole numbers stay whole."""
    if isinstance(parameter, DiscreteParameter):
        return np.array(parameter.allowed, dtype=float)
    values = np.linspace(low, high, count)
    return np.unique(np.round(values)) if isinstance(parameter, IntegerParameter) else values


def _plain_log_axis(axis: Axis, decades: float) -> None:
    """A log axis over ``decades`` labelled in plain numbers (0.2, 0.5, 1, 2), not powers
    of ten; 1-2-5 steps where the axis spans few decades, only 1, 10, 100 beyond."""
    subs = (1.0,) if decades > 3 else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _shown(parameter: Parameter, encoded: np.ndarray) -> np.ndarray:
    """Encoded values as an axis shows them: a log-scale parameter in its own units."""
    if isinstance(parameter, ContinuousParameter) and parameter.log_scale:
        return np.power(10.0, encoded)
    return encoded


# Figures -----------------------------------------------------------------------------


def _belief_figure(
    surrogate: Surrogate,
    quantity: str,
    anchor: _Anchor,
    measured: _Measured,
    units: dict[str, str | None],
    *,
    several: bool,
    target: float | None,
) -> ReportFigure:
    searched = _searched(surrogate)
    columns = min(PANEL_COLUMNS, len(searched))
    rows = -(-len(searched) // columns)
    figure = Figure(figsize=(4.2 * columns, 3.3 * rows + 0.4), layout="constrained")
    q = surrogate.quantities.index(quantity)
    has_value = ~np.isnan(measured.values[:, q])
    keys = []
    for number, column in enumerate(searched):
        ax = figure.add_subplot(rows, columns, number + 1)
        others = [c for c in searched if c != column]
        closeness = _closeness(measured, anchor, surrogate, others)
        keys.append(_belief_panel(ax, surrogate, quantity, column, anchor))
        _measured_points(
            ax, surrogate.encoding.space[column], measured, column, q, has_value, closeness
        )
        if target is not None:
            ax.axhline(target, color="tab:green", linestyle=":", linewidth=1.2, label="target")
        ax.set_xlabel(_label(surrogate.encoding.space[column].name, units))
        ax.set_ylabel(_label(quantity, units))
    _legend_below(figure)
    caption = (
        f"The model's prediction of {quantity} along each parameter, the others held at "
        f"{anchor.described}, marked by the dashed line: the line is the posterior mean, the "
        f"band (error bars, for parameters with few values) {TWO_SIGMA}, the model's "
        f"uncertainty about the underlying {quantity}, without the scatter a repeat "
        "measurement adds. Dots are the measured results, fainter the farther they lie from "
        "that point in the other parameters (root-mean-square distance, each parameter scaled "
        "by its range), so faint ones need not sit on the line."
    )
    if target is not None:
        caption += f" The dotted green line is the target, {quantity} = {target:g}."
    caption += category_key_sentence(keys)
    return ReportFigure(
        name="model-beliefs" + (f"-{_file_name(quantity)}" if several else ""),
        title=BELIEF_TITLE + (f": {quantity}" if several else ""),
        caption=caption,
        figure=figure,
    )


def _legend_below(figure: Figure) -> None:
    """One legend for every panel, below them all, where it covers no data."""
    handles: dict[str, Any] = {}
    for ax in figure.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    figure.legend(
        list(handles.values()), list(handles), fontsize="small", loc="outside lower center",
        ncols=len(handles),
    )


def _belief_panel(
    ax: Axes, surrogate: Surrogate, quantity: str, column: int, anchor: _Anchor
) -> str:
    """The model along one parameter; returns the key of shortened category labels."""
    parameter = surrogate.encoding.space[column]
    bars = _as_bars(parameter)
    if bars is not None:
        mean, sd = _predict(surrogate, _along(anchor, column, bars), quantity)
        ax.errorbar(
            bars, mean, yerr=2 * sd, fmt="o", color="C0", capsize=4, label=f"model mean {TWO_SIGMA}"
        )
        key = ""
        if isinstance(parameter, CategoricalParameter):
            key = category_axis(ax, parameter.name, parameter.values)
        ax.axvline(anchor.row[column], color="0.4", linestyle="--", linewidth=1)
        return key
    low, high = surrogate.encoding.bounds[column]
    values = _line_values(parameter, low, high, LINE_POINTS)
    mean, sd = _predict(surrogate, _along(anchor, column, values), quantity)
    x = _shown(parameter, values)
    ax.fill_between(x, mean - 2 * sd, mean + 2 * sd, color="C0", alpha=0.25, label=TWO_SIGMA)
    ax.plot(x, mean, color="C0", label="model mean")
    ax.axvline(
        _shown(parameter, anchor.row[column : column + 1])[0],
        color="0.4",
        linestyle="--",
        linewidth=1,
    )
    if isinstance(parameter, ContinuousParameter) and parameter.log_scale:
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis, high - low)
    return ""


def _measured_points(
    ax: Axes,
    parameter: Parameter,
    measured: _Measured,
    column: int,
    q: int,
    has_value: np.ndarray,
    closeness: np.ndarray,
) -> None:
    x = _shown(parameter, measured.rows[:, column])
    if isinstance(parameter, CategoricalParameter):
        # Spread sideways so that points measured at one value do not hide each other.
        x = x + np.random.default_rng(0).uniform(-0.15, 0.15, len(x))
    for is_prior, marker, label in ((False, "o", "measured"), (True, "s", "prior data")):
        chosen = has_value & (measured.prior == is_prior)
        if chosen.any():
            ax.scatter(
                x[chosen],
                measured.values[chosen, q],
                s=16,
                marker=marker,
                color=_points_colour("C3", _opacity(closeness[chosen])),
                edgecolors="none",
                label=label,
                zorder=3,
            )


def _sensitivity_figure(
    summary: CampaignSummary,
    sensitivities: list[Sensitivity],
    pool: list[dict[str, Any]] | None,
) -> ReportFigure:
    k = len(sensitivities[0].names)
    figure = Figure(
        figsize=(4.6 * len(sensitivities), 1.6 + 0.45 * k), layout="constrained"
    )
    for number, sensitivity in enumerate(sensitivities):
        ax = figure.add_subplot(1, len(sensitivities), number + 1)
        y = np.arange(k)[::-1]
        total = np.array(sensitivity.total)
        first = np.array(sensitivity.first)
        total_span = np.array(sensitivity.total_interval).T
        first_span = np.array(sensitivity.first_interval).T
        ax.barh(
            y,
            total,
            xerr=_error_lengths(total, total_span),
            color="C0",
            alpha=0.45,
            capsize=3,
            label="total (with interactions)",
        )
        ax.errorbar(
            first,
            y,
            xerr=_error_lengths(first, first_span),
            fmt="o",
            color="C1",
            capsize=3,
            label="first-order (alone)",
        )
        ax.set_yticks(y, list(sensitivity.names))
        ax.set_xlim(0, 1.02)
        ax.set_xlabel(f"share of the variance of {sensitivity.quantity}")
    _legend_below(figure)
    s = sensitivities[0]
    low, high = INTERVAL
    caption = (
        "Which parameters the fitted model says matter: the share of each objective's "
        "variance a parameter explains, as its total Sobol index (bar: its effect including "
        "interactions) and first-order index (dot: its effect alone), of the posterior mean "
        f"(Saltelli and Jansen estimators on {s.base_points} scrambled Sobol base points, "
        f"{s.base_points * (k + 2)} model evaluations); whiskers span the middle "
        f"{high - low:g} % of the indices of {s.draws} joint posterior draws of the function, "
        "how sure the model is. Sobol indices rather than lengthscales: they see nonlinear "
        "effects and interactions, and compare every kind of parameter, categorical ones "
        "included, in one unit, a fraction of the variance. A total well above the "
        f"first-order index means the parameter acts through interactions. {_domain(summary, pool)}"
    )
    return ReportFigure("parameter-sensitivity", SENSITIVITY_TITLE, caption, figure)


def _error_lengths(estimate: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Whisker lengths below and above ``estimate`` reaching the ``2 x k`` ``span``."""
    return np.clip(np.stack([estimate - span[0], span[1] - estimate]), 0.0, None)


def _domain(summary: CampaignSummary, pool: list[dict[str, Any]] | None) -> str:
    """What the indices' variance is over, in a sentence for the caption."""
    if pool is not None:
        return (
            "The variance is over the candidate pool, stood for by the "
            f"{len(pool)} rows the campaign measured or proposed (the model does not hold the "
            "pool): each parameter is drawn independently from the values those rows take, "
            "as Sobol indices require, so combinations off the pool are included."
        )
    text = (
        "The variance is over the whole space, each parameter drawn independently and "
        "uniformly over its range (log-uniform on a log scale, each value of an integer or "
        "categorical equally often)"
    )
    if _constrained(summary):
        return text + (
            ": Sobol indices need independent parameters, so the constraints and mixture "
            "totals are not applied, and where the sample breaks them the model extrapolates."
        )
    return text + "."


def _constrained(summary: CampaignSummary) -> bool:
    snapshot = summary.record.snapshot
    return bool(snapshot.get("constraints") or snapshot.get("mixtures"))


def _off_limits(summary: CampaignSummary) -> str:
    """A caption's warning that slices and maps cross the campaign's constraints."""
    if not _constrained(summary):
        return ""
    return (
        " Moving parameters one or two at a time crosses the campaign's constraints and "
        "mixture totals: there the campaign cannot measure and the model extrapolates."
    )


def _map_figure(
    surrogate: Surrogate,
    sensitivity: Sensitivity,
    anchor: _Anchor,
    measured: _Measured,
    units: dict[str, str | None],
) -> ReportFigure | ReportNote:
    encoding = surrogate.encoding
    numeric = [
        name
        for name in sensitivity.names
        if isinstance(encoding.space[encoding.column(name)], ContinuousParameter | IntegerParameter)
    ]
    if len(numeric) < 2:
        return ReportNote(
            MAP_TITLE,
            "The maps of the model over two parameters need two continuous or integer "
            f"parameters that are searched; this campaign has {len(numeric)}.",
        )
    quantity = sensitivity.quantity
    x_column, y_column = (encoding.column(name) for name in numeric[:2])
    x_parameter, y_parameter = encoding.space[x_column], encoding.space[y_column]
    x_values = _line_values(x_parameter, *encoding.bounds[x_column], MAP_POINTS)
    y_values = _line_values(y_parameter, *encoding.bounds[y_column], MAP_POINTS)
    grid_x, grid_y = np.meshgrid(x_values, y_values)
    rows = np.tile(anchor.row, (grid_x.size, 1))
    rows[:, x_column] = grid_x.ravel()
    rows[:, y_column] = grid_y.ravel()
    mean, sd = _predict(surrogate, rows, quantity)
    others = [c for c in _searched(surrogate) if c not in (x_column, y_column)]
    closeness = _closeness(measured, anchor, surrogate, others)
    figure = Figure(figsize=(10, 4.2), layout="constrained")
    shown_x, shown_y = _shown(x_parameter, grid_x), _shown(y_parameter, grid_y)
    for number, (surface, what, colours) in enumerate(
        ((mean, "mean", "viridis"), (sd, SIGMA, "magma"))
    ):
        ax = figure.add_subplot(1, 2, number + 1)
        mesh = ax.pcolormesh(
            shown_x, shown_y, surface.reshape(grid_x.shape), shading="nearest", cmap=colours
        )
        figure.colorbar(mesh, ax=ax, label=f"model {what} of {_label(quantity, units)}")
        ax.scatter(
            _shown(x_parameter, measured.rows[:, x_column]),
            _shown(y_parameter, measured.rows[:, y_column]),
            s=18,
            color=_points_colour("white", _opacity(closeness)),
            edgecolors=_points_colour("black", _opacity(closeness)),
            linewidths=0.8,
        )
        ax.scatter(
            _shown(x_parameter, anchor.row[x_column : x_column + 1]),
            _shown(y_parameter, anchor.row[y_column : y_column + 1]),
            s=160,
            marker="*",
            color="white",
            edgecolors="black",
        )
        for parameter, scale, axis in (
            (x_parameter, ax.set_xscale, ax.xaxis),
            (y_parameter, ax.set_yscale, ax.yaxis),
        ):
            if isinstance(parameter, ContinuousParameter) and parameter.log_scale:
                scale("log")
                low, high = encoding.bounds[encoding.column(parameter.name)]
                _plain_log_axis(axis, high - low)
        ax.set_xlabel(_label(x_parameter.name, units))
        ax.set_ylabel(_label(y_parameter.name, units))
        ax.set_title(f"model {what}")
    fainter = (
        " Dots are measured results, fainter the farther they lie from that point in the "
        "other parameters."
        if others
        else " Dots are the measured results."
    )
    caption = (
        f"The model's mean (left) and standard deviation {SIGMA} (right: its uncertainty about the "
        f"underlying {quantity}, without measurement noise) over {x_parameter.name} and "
        f"{y_parameter.name}, the continuous or integer parameters that matter most to "
        f"{quantity} by total Sobol index, the others held at {anchor.described}, marked by "
        "the star."
        + fainter
    )
    return ReportFigure("model-map", MAP_TITLE, caption, figure)
