"""How campaigns look in the terminal (rich renderables); no logic of their own."""

from __future__ import annotations

import shlex
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tansaku.campaign import LoadedCampaign
from tansaku.campaign.fields import shown
from tansaku.campaign.parameters import (
    CategoricalParameter,
    ContinuousParameter,
    DiscreteParameter,
    Parameter,
)
from tansaku.report import CampaignSummary, best_experiment, summarize
from tansaku.units import format_duration
from tansaku.values import ParameterValue

if TYPE_CHECKING:
    # The ledger (SQLAlchemy) is read only while a run or status shows progress: validate,
    # which shows the campaign table, stays fast without it.
    from tansaku.ledger import ExperimentRecord, Ledger


def campaign_table(loaded: LoadedCampaign) -> Table:
    """The campaign's space, goal, budget and instrument, as ``validate`` shows them."""
    campaign = loaded.campaign
    table = Table(title=f"{campaign.name} ({loaded.path})", title_justify="left")
    table.add_column("parameter")
    table.add_column("type")
    table.add_column("range / values")
    descriptors = loaded.descriptors()
    for p in campaign.space:
        if isinstance(p, CategoricalParameter):
            values = ", ".join(map(str, p.values))
            if p.descriptors == "elements":
                values += "\ndescribed by their element properties"
            elif p.name in descriptors and p.descriptors is not None:
                count = len(descriptors[p.name].columns)
                values += f"\ndescribed by {count} columns of {p.descriptors.path.name}"
        elif isinstance(p, DiscreteParameter):
            allowed = [f"{v:g}" for v in p.allowed]
            values = (
                ", ".join(allowed)
                if len(allowed) <= 8
                else f"{allowed[0]}, {allowed[1]}, …, {allowed[-1]} ({len(allowed)} values)"
            )
        else:
            log = " (log)" if isinstance(p, ContinuousParameter) and p.log_scale else ""
            values = f"[{p.bounds[0]}, {p.bounds[1]}]{log}"
        if getattr(p, "unit", None):
            values += f" {p.unit}"
        if p.fixed is not None:
            values = f"fixed at {p.fixed} (of {values})"
        table.add_row(p.name, p.type, values)
    for mixture in campaign.mixtures:
        total = f"= {mixture.total:g}"
        if mixture.elements is not None:
            symbols = ", ".join(mixture.elements[name] for name in mixture.components)
            total += f"\nelements {symbols}" + (", fractions too" if mixture.keep_fractions else "")
        table.add_row(" + ".join(mixture.components), "mixture", total)
    for constraint in campaign.constraints:
        table.add_row(constraint, "constraint", "")
    for kind, quantities in (("objective", campaign.objectives), ("outcome", campaign.outcomes)):
        for quantity in quantities:
            if quantity.valid is not None:
                table.add_row(quantity.name, kind, f"valid {quantity.valid_range()}")
    for line in campaign.driver.describe(loaded.base_dir):
        table.add_row("instrument", "driver", line)
    if campaign.fidelities is not None:
        from tansaku.campaign.fidelities import target
        from tansaku.campaign.fidelity_drivers import fidelity_driver

        truth = target(campaign)
        for name, source in campaign.fidelities.items():
            where = (
                "the truth, on the instrument above"
                if name == truth
                else "; ".join(fidelity_driver(campaign, name).describe(loaded.base_dir))
            )
            table.add_row(name, "source", f"cost {shown(float(source.cost or 0))}: {where}")
    if campaign.prior_data is not None:
        count = len(loaded.prior())
        table.add_row("prior data", "file", f"{count} measurements in {campaign.prior_data.path}")
    if campaign.model.prior_mean is not None:
        table.add_row("prior mean", "function", campaign.model.prior_mean)
    for spec, source in zip(campaign.transfer_from, loaded.transfer(), strict=True):
        symbols = ", ".join(spec.elements.values())
        table.add_row(
            "transfer",
            campaign.model.transfer,
            f"learns from {len(source.rows)} measurements of {source.name} ({symbols}), "
            f"at most {spec.max_rows}",
        )
    objective = campaign.objective
    budget = f"{campaign.budget.experiments} experiments"
    if (sources := campaign.fidelities) is not None:
        by_cost = ", ".join(f"{name} {shown(float(s.cost or 0))}" for name, s in sources.items())
        budget = f"{shown(campaign.budget.cost or 0)} cost units ({by_cost} each)"
    if campaign.budget.wall_clock is not None:
        budget += f", at most {format_duration(campaign.budget.wall_clock)}"
    dry_run = campaign.dry_run.simulator.type if campaign.dry_run else "—"
    slots = campaign.driver.slots
    pace = f"{slots} in parallel" if slots > 1 else f"batch {campaign.proposer.batch_size}"
    # Left unsaid, the model chooses between exact and noisy at each refit.
    model = {True: "GP on exact measurements", False: "GP on noisy measurements", None: "GP"}[
        campaign.noise_free
    ]
    if (acquisition := campaign.proposer.acquisition) is not None:
        numbers = acquisition.model_dump(exclude={"type"})
        settings = ", ".join(f"{name} {value:g}" for name, value in numbers.items())
        model += f" + {acquisition.type}" + (f" ({settings})" if settings else "")
    start = (
        f"{campaign.initial_size} Sobol then {model}"
        if campaign.candidates is None
        else f"{campaign.initial_size} random rows of {campaign.candidates.path.name} then {model}"
    )
    if sources is not None:
        start = (
            f"{campaign.initial_size} Sobol at the cheapest source (the last at the dearest) "
            "then a multi-fidelity GP + cost-weighted max-value entropy"
        )
    goal = f"{objective.goal} {objective.name}"
    if campaign.effective_purpose == "learn":
        goal = f"map {objective.name} over the space (purpose learn)"
    if (below := campaign.stop.uncertainty_below) is not None:
        budget += f", stop once the model's uncertainty is below {below:g} of the measured spread"
    table.caption = f"{goal} · budget {budget} · {start}, {pace} · dry-run simulator {dry_run}"
    table.caption_justify = "left"
    return table


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def summary_panel(
    summary: CampaignSummary,
    running: bool | None = None,
    waiting: tuple[str, datetime] | None = None,
) -> Panel:
    """Progress, best result, stop reason and (simulated) calendar of a campaign.

    ``waiting`` is the instrument a live run waits for (another campaign holds it) and
    since when (:meth:`~tansaku.ledger.Ledger.waiting`).
    """
    counts = summary.counts
    lines = [
        f"experiments  {summary.finished}"
        # A cost budget bounds the count only through the cheapest source's cost.
        + ("" if summary.fidelities else f"/{summary.budget}")
        + f" · done {counts['done']} · "
        f"failed {counts['failed']} · running {counts['running']} · queued {counts['proposed']}"
        + (f" · rejected {counts['rejected']}" if counts["rejected"] else "")
    ]
    if fidelities := summary.fidelities:
        lines.append(fidelity_line(summary, fidelities))
    if len(summary.objectives) > 1:
        front = summary.pareto_front
        names = [o.name for o in summary.objectives]
        lines.append(f"Pareto front  {len(front)} experiments ({', '.join(names)})")
        lines += [
            f"  #{e.id}: " + ", ".join(f"{n}={_short((e.values or {})[n])}" for n in names)
            for e in front
        ]
    elif (best := summary.best) is not None:
        # Where it was really made, which a person may have told apart from the proposal.
        point = ", ".join(f"{k}={_short(v)}" for k, v in best.point.items())
        lines.append(
            f"best {summary.objective} ({summary.goal})  {_short(best.objective)} "
            f"at #{best.id}: {point}"
        )
    lines.append(best_so_far_line(summary))
    if summary.record.snapshot.get("purpose") == "learn":
        lines.append(uncertainty_line(summary))
    if (prior := summary.best_prior) is not None:
        source = Path(prior.source_path).name
        lines.append(
            f"prior data  {len(summary.prior)} earlier measurements from {source}, not "
            f"counted above; best {summary.objective} "
            f"{_short(prior.values[summary.objective])} (line {prior.line})"
        )
    if summary.revisions:
        last = summary.revisions[-1]
        times = "once" if len(summary.revisions) == 1 else f"{len(summary.revisions)} times"
        lines.append(f"revised  {times}, last {_when(last.at)} UTC by {last.by}")
    calendar = summary.calendar
    if calendar is not None:
        kind = "simulated calendar" if summary.record.mode == "dry-run" else "calendar"
        start, end = calendar
        lines.append(
            f"{kind}  {_when(start)} → {_when(end)} UTC "
            f"({format_duration(end - start)}; instrument busy "
            f"{format_duration(summary.instrument_time)})"
        )
    if summary.record.stop_reason:
        lines.append(f"stopped  {summary.record.stop_reason}")
    if running is not None:
        lines.append(
            "state  "
            + (
                "running now"
                + (
                    f", waiting for instrument {waiting[0]} since {waiting[1]:%H:%M} UTC "
                    "(another campaign holds it)"
                    if waiting
                    else ""
                )
                if running
                else "finished"
                if summary.record.stop_reason
                else "stopped; `tansaku run` resumes it"
            )
        )
    mode = " (dry run)" if summary.record.mode == "dry-run" else ""
    return Panel("\n".join(lines), title=f"{summary.name}{mode}", title_align="left")


def experiments_table(summary: CampaignSummary, last: int) -> Table:
    """The latest ``last`` experiments."""
    simulated = summary.record.mode == "dry-run"
    table = Table(
        title=_last_title(min(last, len(summary.experiments))), title_justify="left"
    )
    measured = summary.measured
    for column in (
        "#",
        "method",
        "status",
        *measured,
        "parameters",
        "simulated end" if simulated else "end",
    ):
        table.add_column(column)
    for e in summary.experiments[-last:]:
        point = ", ".join(f"{k}={_short(v)}" for k, v in e.point.items())
        if e.objective is not None:
            outcomes = [_short((e.values or {}).get(name, "")) for name in measured]
        else:
            # A rejected proposal never ran: why it was refused stands in for a result.
            outcomes = [e.failure or e.decision_reason or ""] + [""] * (len(measured) - 1)
        end = _when(e.finished_at) if e.finished_at else ""
        table.add_row(str(e.id), e.method, e.status, *outcomes, point, end)
    return table


def fidelity_line(summary: CampaignSummary, fidelities: dict[str, float]) -> str:
    """``cost  96 of 200 units · simulation 36 at 1 · experiment 3 at 20``: what a
    multi-fidelity campaign spent, and at which source."""
    budget = summary.record.snapshot["budget"].get("cost")
    used = Counter(
        str(e.point.get("fidelity")) for e in summary.experiments if e.status != "rejected"
    )
    parts = [f"{name} {used[name]} at {cost:g}" for name, cost in fidelities.items()]
    return f"cost  {summary.cost_spent:g} of {budget:g} units · " + " · ".join(parts)


def _progress(summary: CampaignSummary) -> tuple[float, float]:
    """``(done, total)`` of the budget: experiments, or cost units with fidelities."""
    if summary.fidelities:
        return summary.cost_spent, float(summary.record.snapshot["budget"]["cost"])
    return summary.finished, summary.budget


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


BARS = "▁▂▃▄▅▆▇█"
SPARKLINE_WIDTH = 40


def best_so_far_line(summary: CampaignSummary, width: int = SPARKLINE_WIDTH) -> str:
    """``best so far  ▁▁▃▅▅▇███  0.41 → 3.02 S/cm over 30 experiments``: the best value of
    the first objective after each finished experiment, higher bars better whatever the goal.

    The best is :func:`best_experiment`'s (failures and experiments that miss an outcome
    constraint never count), in the order the experiments finished, so a watched line only
    ever grows at its right end. Past ``width`` finished experiments it shows the best at
    ``width`` evenly spaced counts, the first and the last included. A blank bar: no
    feasible result yet by then.
    """
    objective = summary.objectives[0]
    label = "best so far" if len(summary.objectives) == 1 else f"best so far ({objective.name})"
    finished = sorted(
        (e for e in summary.experiments if e.status in ("done", "failed")),
        key=lambda e: (e.finished_at is None, e.finished_at or e.proposed_at, e.id),
    )
    if not finished:
        return f"{label}  nothing measured yet"
    total = len(finished)
    counts = range(1, total + 1) if total <= width else _evenly_spaced(total, width)
    constraints = summary.outcome_constraints
    bests = [best_experiment(finished[:count], objective, constraints) for count in counts]
    values = [float(b.objective or 0.0) if b is not None else None for b in bests]
    experiments = f"{total} experiment{'s' * (total != 1)}"
    measured = [v for v in values if v is not None]
    if not measured:
        feasible = " meeting the outcome constraints" if constraints else ""
        return f"{label}  no successful result{feasible} yet in {experiments}"
    unit = f" {objective.unit}" if objective.unit else ""
    target = f" (target {objective.target:g})" if objective.target is not None else ""
    bars = _bars([None if v is None else objective.score(v) for v in values])
    return (
        f"{label}  {bars}  {_short(measured[0])} → {_short(measured[-1])}{unit}{target} "
        f"over {experiments}"
    )


def uncertainty_line(summary: CampaignSummary) -> str:
    """``uncertainty  0.59 → 0.25 of the measured spread over 6 proposals (stops below
    0.3)``: how unsure a learning campaign's model was of the whole space, at its first and
    latest model-based proposal (:attr:`CampaignSummary.uncertainties`)."""
    threshold = (summary.record.snapshot.get("stop") or {}).get("uncertainty_below")
    stops = f" (stops below {threshold:g})" if threshold is not None else ""
    recorded = summary.uncertainties
    if not recorded:
        return f"uncertainty  not measured until the first model-based proposal{stops}"
    values = [value for _, value in recorded]
    shown_values = f"{values[0]:.2g}" if len(values) == 1 else f"{values[0]:.2g} → {values[-1]:.2g}"
    proposals = f"{len(values)} proposal{'s' * (len(values) != 1)}"
    return f"uncertainty  {shown_values} of the measured spread over {proposals}{stops}"


def _evenly_spaced(total: int, width: int) -> list[int]:
    """``width`` experiment counts spread evenly over ``1..total``, both ends included, so
    the line starts at the first result and ends at the latest."""
    return [1 + k * (total - 1) // (width - 1) for k in range(width)]


def _bars(scores: Sequence[float | None]) -> str:
    """One block character per score, the lowest ``▁`` and the highest ``█``; a blank for
    ``None``; a constant series as a flat line at half height."""
    known = [s for s in scores if s is not None]
    low, high = min(known), max(known)
    if high == low:
        return "".join(" " if s is None else BARS[len(BARS) // 2 - 1] for s in scores)
    top = len(BARS) - 1
    return "".join(
        " " if s is None else BARS[round((s - low) / (high - low) * top)] for s in scores
    )


def waiting_table(
    space: Sequence[Parameter], records: Sequence[ExperimentRecord], title: str
) -> Table:
    """Experiments waiting for a person, one row each, as a person at the bench reads them.

    Each parameter shows its unit and where the value lies in its range (``140 degC (42 %
    of 60-250)``, with an en dash), so a slip of a dial stands out. ``tansaku suggest``,
    ``tansaku status`` and the prompt of ``tansaku run`` share it.

    Args:
        space: the campaign's parameters (``loaded.campaign.space``).
        records: the experiments to show: running ones wait for a result, proposed ones
            for approval.
        title: what the table lists.
    """
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    for parameter in space:
        table.add_column(parameter.name)
    # A multi-fidelity campaign's experiments each name the source that measures them.
    sourced = any("fidelity" in record.parameters for record in records)
    if sourced:
        table.add_column("fidelity")
    table.add_column("waits for")
    for record in records:
        cells = [parameter_cell(p, record.parameters.get(p.name)) for p in space]
        if sourced:
            cells.append(str(record.parameters.get("fidelity", "")))
        waits = "a result" if record.status == "running" else "approval"
        table.add_row(str(record.id), *cells, waits)
    return table


def parameter_cell(parameter: Parameter, value: ParameterValue | None) -> str:
    """``140 degC (42 % of 60-250)`` (an en dash); a categorical value as it is.

    Its spaces are non-breaking but one, so a narrow column wraps it into the value and,
    below, where it lies, never mid-phrase.
    """
    if value is None or isinstance(parameter, CategoricalParameter):
        return "" if value is None else str(value)
    unit = f"\N{NO-BREAK SPACE}{parameter.unit}" if parameter.unit else ""
    if parameter.fixed is not None:
        return f"{_short(value)}{unit} (fixed)"
    if isinstance(parameter, DiscreteParameter):
        low, high = parameter.allowed[0], parameter.allowed[-1]
    else:
        low, high = parameter.bounds
    share = round(100 * (float(value) - low) / (high - low))
    where = f"({share} % of {shown(low)}\N{EN DASH}{shown(high)})"
    return f"{_short(value)}{unit} " + where.replace(" ", "\N{NO-BREAK SPACE}")


def answer_hints(
    run_dir: Path, records: Sequence[ExperimentRecord], measured: Sequence[str]
) -> list[str]:
    """The commands that answer ``records``, with the first waiting id filled in."""
    where = shlex.quote(str(run_dir))
    hints = []
    told = [r.id for r in records if r.status == "running"]
    if told:
        values = " ".join(f"{name}=…" for name in measured)
        hints.append(
            f"tell a result:  tansaku tell {where} {told[0]} {values}   "
            f"(or --failed 'why'; --actual name=value where you did otherwise)"
        )
    decided = [r.id for r in records if r.status == "proposed"]
    if decided:
        hints.append(
            f"decide:  tansaku approve {where} {decided[0]}   or   "
            f"tansaku reject {where} {decided[0]} --reason 'why'"
        )
    return hints


class ProgressDisplay:
    """A live progress bar fed by polling the ledger, the campaign's single source of truth."""

    def __init__(self, console: Console, interval_s: float = 0.25) -> None:
        self._console = console
        self._interval = interval_s
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._ledger: Ledger | None = None
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}", markup=False),
            TimeElapsedColumn(),
            console=console,
        )

    def start(self, run_dir: Path) -> None:
        """Show the campaign in ``run_dir`` until :meth:`stop`.

        The display reads through a ledger of its own, closed in :meth:`stop` after its
        last reading: the runner's closes when the run ends, before the display stops,
        and a reading after that would leave SQLite's journal files behind."""
        from tansaku.ledger import Ledger

        self._ledger = Ledger.open(run_dir, create=False)
        summary = summarize(self._ledger)
        assert summary is not None
        task = self._progress.add_task(summary.name, total=_progress(summary)[1], best="")
        self._progress.start()
        self._thread = threading.Thread(target=self._poll, args=(self._ledger, task), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopped.set()
        self._thread.join()
        self._thread = None
        self._progress.stop()
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def _poll(self, ledger: Ledger, task: int) -> None:
        while True:
            stopping = self._stopped.wait(self._interval)
            summary = summarize(ledger)
            if summary is not None:
                best = summary.best
                text = (
                    f"Pareto front {len(summary.pareto_front)}"
                    if len(summary.objectives) > 1
                    else f"best {summary.objective} {_short(best.objective)} (#{best.id})"
                    if best
                    else ""
                )
                done, total = _progress(summary)
                self._progress.update(task, completed=done, total=total, best=text)
            if stopping:
                return


def _last_title(count: int) -> str:
    return "the last experiment" if count == 1 else f"last {count} experiments"
