"""What the campaign loop does next, decided from plain data alone.

The Prefect flow reads the ledger and asks the instrument how many slots are free, then
carries out what :func:`next_step` decides. Nothing here calls a proposer, a driver or
Prefect, so every turn of the loop can be tested as a row of a decision table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tansaku.campaign.budget import UNCERTAINTY_DETAIL
from tansaku.campaign.fidelities import cost_of, costs
from tansaku.campaign.schema import Campaign
from tansaku.ledger import ExperimentRecord
from tansaku.report import best_experiment

POOL_EXHAUSTED = "candidates exhausted: every row of the pool has been proposed"


@dataclass(frozen=True)
class Submit:
    """Hand experiments the ledger already holds as proposed to the instrument."""

    experiment_ids: tuple[int, ...]
    """The ledger ids to start, in id order; never more than the free slots."""


@dataclass(frozen=True)
class Wait:
    """Collect the results of the experiments in flight, then decide again."""

    stop_pending: str | None = None
    """Why the campaign would stop now, had it nothing in flight; it stops for this
    reason once the last result is in, unless those results change it (a new best ends
    a run without improvement). ``None`` when no stop rule held or none was consulted."""
    awaiting_approval: tuple[int, ...] = ()
    """Proposals that wait for a person's OK (``driver.approve``) before they are sent."""


@dataclass(frozen=True)
class Stop:
    """End the campaign: the ledger records ``reason``, the reason the user sees."""

    reason: str


@dataclass(frozen=True)
class Propose:
    """Ask the proposer for new experiments, then start the ones it returns."""

    count: int
    """How many to ask for: the free slots, or fewer where the budget ends sooner."""
    if_pool_exhausted: Stop | Wait
    """What to do instead when the proposer returns nothing (a used-up candidate pool)."""


Decision = Submit | Propose | Wait | Stop


def next_step(
    campaign: Campaign,
    records: Sequence[ExperimentRecord],
    *,
    free_slots: int,
    now: datetime,
    clock_start: datetime,
) -> Decision:
    """The next step of a campaign on an instrument that runs experiments in parallel.

    Args:
        campaign: the campaign, for its budget and stop rules.
        records: every experiment in the ledger, in id order.
        free_slots: how many more experiments the instrument accepts now.
        now: the instrument's clock.
        clock_start: the instrument's clock when the campaign started (the deadline
            counts from it).
    """
    if free_slots <= 0:
        # Nothing could start, so the stop rules wait until a result frees a slot.
        return Wait()
    proposed = [r for r in records if r.status == "proposed"]
    approval = campaign.driver.approve
    queued = [r.id for r in proposed if r.approved or not approval]
    if queued:
        # Proposed experiments are already in the ledger and count against the budget:
        # they run even when a stop rule holds (a run that died before submitting them).
        return Submit(tuple(queued[:free_slots]))
    # What is left of the proposals waits for a person's OK, and holds its slot meanwhile.
    awaiting = tuple(r.id for r in proposed)
    if len(awaiting) >= free_slots:
        return Wait(awaiting_approval=awaiting)
    in_flight = bool(awaiting) or any(r.status == "running" for r in records)
    reason = stop_reason(campaign, records, now, clock_start)
    if reason is not None:
        return Wait(reason, awaiting) if in_flight else Stop(reason)
    return Propose(
        count=min(free_slots - len(awaiting), budget_left(campaign, records)),
        if_pool_exhausted=Wait(POOL_EXHAUSTED, awaiting) if in_flight else Stop(POOL_EXHAUSTED),
    )


def budget_left(campaign: Campaign, records: Sequence[ExperimentRecord]) -> int:
    """Experiments the budget still allows: every proposed one counts, failed included."""
    return campaign.budget.experiments - len(counted(records))


def counted(records: Sequence[ExperimentRecord]) -> list[ExperimentRecord]:
    """The experiments the budget counts: all but proposals a person rejected, which
    never used the instrument."""
    return [r for r in records if r.status != "rejected"]


def stop_reason(
    campaign: Campaign,
    records: Sequence[ExperimentRecord],
    now: datetime,
    clock_start: datetime,
) -> str | None:
    """Why the campaign should stop before proposing more, or ``None`` to go on."""
    budget = campaign.budget
    spent = len(counted(records))
    if spent >= budget.experiments:
        return f"budget reached: {spent} of {budget.experiments} experiments"
    if budget.cost is not None:
        reason = cost_spent_reason(campaign, counted(records))
        if reason is not None:
            return reason
    if budget.wall_clock is not None and now - clock_start >= budget.wall_clock:
        return f"deadline reached: {budget.wall_clock} on the instrument clock"
    return _stop_rule_fired(campaign, records) or _uncertainty_low(campaign, records)


def cost_spent_reason(campaign: Campaign, records: Sequence[ExperimentRecord]) -> str | None:
    """Why a multi-fidelity campaign stops on its cost budget: what is left of
    ``budget.cost`` pays for no source any more; ``None`` while it does."""
    budget = campaign.budget.cost or 0.0
    spent = cost_of(campaign, [r.point for r in records])
    if budget - spent >= min(costs(campaign).values()) - 1e-9:
        return None
    return f"budget reached: {spent:g} of {budget:g} cost units"


UNCERTAINTY_TRUSTED_AFTER = (2, 10)
"""The uncertainty rule is consulted once the model has learned from twice the initial
design's results, and from at least 10."""


def latest_uncertainty(
    records: Sequence[ExperimentRecord],
) -> tuple[int, float, int] | None:
    """``(experiment id, relative sd, results the model learned from)`` of the latest
    proposal that recorded the model's uncertainty over the space; ``None`` before the
    first model-based one."""
    for record in reversed(records):
        value = record.proposer.get(UNCERTAINTY_DETAIL)
        if isinstance(value, int | float):
            return record.id, float(value), int(record.proposer.get("observations", 0))
    return None


def _uncertainty_low(campaign: Campaign, records: Sequence[ExperimentRecord]) -> str | None:
    # The uncertainty is that of the model which made the latest proposal: it knew every
    # result but those of the experiments still pending then, so the rule fires late,
    # never early. A proposal already made still runs (``next_step`` submits it first).
    threshold = campaign.stop.uncertainty_below
    latest = latest_uncertainty(records)
    if threshold is None or latest is None or latest[1] >= threshold:
        return None
    times, at_least = UNCERTAINTY_TRUSTED_AFTER
    if latest[2] < max(times * campaign.initial_size, at_least):
        # A model of a handful of results can believe in a long lengthscale and so be
        # sure of everything: on the perovskite example, 0.25 of the spread after 6.
        return None
    experiment, value, _ = latest
    return (
        f"uncertainty below {threshold:g}: the model's standard deviation over the space is "
        f"{value:.3g} of the measured spread when it proposed #{experiment} "
        f"(stop.uncertainty_below {threshold:g})"
    )


def _stop_rule_fired(campaign: Campaign, records: Sequence[ExperimentRecord]) -> str | None:
    rules, objective = campaign.stop, campaign.objective
    best = best_experiment(records, objective, campaign.parsed_outcome_constraints())
    if best is None:
        return None
    target = rules.objective_reaches
    # In score units (larger is better): a value, a negated value, or a negated distance.
    threshold = None if target is None else (target if objective.goal == "maximize" else -target)
    if threshold is not None and objective.score(best.objective) >= threshold:
        return (
            f"target reached: {objective.name} = {best.objective:.6g} at #{best.id} "
            f"(stop.objective_reaches {target})"
        )
    patience = rules.no_improvement_for
    finished_since = sum(1 for r in records if r.id > best.id and r.status in ("done", "failed"))
    if patience is not None and finished_since >= patience:
        return (
            f"no improvement for {finished_since} experiments: the best {objective.name} is "
            f"still {best.objective:.6g} from #{best.id}"
        )
    return None
