"""The ``fidelities:`` section: cheap sources beside the expensive one (multi-fidelity).

A campaign may measure its objective at several sources of different cost and
trustworthiness: a quick simulation beside the real experiment. Each source has a cost
(in the budget's units, ``budget.cost``) and an instrument; the dearest source is the
truth the campaign optimises (its *target*), and runs on the campaign's own ``driver:``.
Every other source names a ``driver:`` of its own (a ``type: simulated`` function for a
simulation) and, for a dry run of a real instrument, a ``dry_run: {simulator: ...}``.

Each experiment records its source as the ``fidelity`` parameter in the ledger. The
proposer (``proposer/fidelity.py``) models the source as an extra input and chooses both
the point and the source; only experiments at the target count as the campaign's best.

The sources' own drivers are checked by their drivers' models in
``campaign/fidelity_drivers.py``, which the loader imports (the schema, and so the
proposer, reaches no driver).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from tansaku.campaign.fields import Identifier, Number, Section, shown
from tansaku.campaign.parameters import CategoricalParameter

if TYPE_CHECKING:
    from tansaku.campaign.schema import Campaign

FIDELITY = "fidelity"
"""The parameter, in the ledger and in every proposal, that names an experiment's source."""

AT_TARGET = "at_target_fidelity"
"""The proposer detail that says whether an experiment was made at the target source;
one made at a cheaper source (``False``) never counts as the campaign's best."""

UNSUPPORTED_DRIVERS = ("manual",)
"""Drivers a source cannot run on: a person measuring is a campaign of its own."""


class Fidelity(Section):
    """One source of measurements: its cost, and where its experiments go."""

    cost: Number | None = Field(
        None,
        description=(
            "What one experiment at this source costs, in the units of budget.cost "
            "(hours, euros, or 1 for the cheapest): a number above 0."
        ),
    )
    driver: dict[str, Any] | None = Field(
        None,
        description=(
            "The instrument of this source (a driver section, e.g. type: simulated with a "
            "function simulator); the dearest source uses the campaign's driver instead."
        ),
    )
    dry_run: dict[str, Any] | None = Field(
        None,
        description=(
            "What a dry run uses in place of this source's driver: {simulator: ...}; "
            "default: the driver itself when it is simulated."
        ),
    )

    @field_validator("cost")
    @classmethod
    def _cost_above_zero(cls, cost: float | None) -> float | None:
        if cost is not None and cost <= 0:
            raise ValueError(
                f"a source costing {shown(cost)} would be free to use without end: a cost "
                "must be above 0 (the budget counts it), e.g. cost: 1 for the cheapest source"
            )
        return cost

    @model_validator(mode="after")
    def _has_a_cost(self) -> Fidelity:
        if self.cost is None:
            raise ValueError(
                "this source has no cost: give what one experiment there costs, e.g. "
                "cost: 1 for the cheapest source"
            )
        return self


Fidelities = dict[Identifier, Fidelity]


def costs(campaign: Campaign) -> dict[str, float]:
    """Source name → cost of one experiment there, in the file's order."""
    return {name: float(f.cost or 0.0) for name, f in (campaign.fidelities or {}).items()}


def target(campaign: Campaign) -> str:
    """The source the campaign optimises: the dearest one."""
    by_cost = costs(campaign)
    return max(by_cost, key=lambda name: by_cost[name])


def levels(campaign: Campaign) -> dict[str, float]:
    """Source name → its position between the cheapest (0) and the target (1), by cost:
    the model's fidelity input, so that cost grows linearly along it."""
    by_cost = costs(campaign)
    low, high = min(by_cost.values()), max(by_cost.values())
    return {name: (cost - low) / (high - low) for name, cost in by_cost.items()}


def cost_of(campaign: Campaign, points: list[Mapping[str, Any]]) -> float:
    """What experiments at these points cost together (a point without a known source
    counts at the target's cost)."""
    by_cost = costs(campaign)
    dearest = max(by_cost.values())
    return sum(by_cost.get(str(point.get(FIDELITY)), dearest) for point in points)


def cost_budget_in_experiments(data: Any) -> Any:
    """The campaign's raw data with ``budget.experiments`` filled in from ``budget.cost``.

    A cost budget buys at most cost / cheapest source experiments: that number bounds the
    experiment count everywhere a count is needed (the initial design, progress), while
    the stop rule counts cost. A malformed section is left for its own validator.
    """
    if not isinstance(data, dict) or not isinstance(budget := data.get("budget"), dict):
        return data
    if "cost" not in budget or "experiments" in budget:
        return data
    cost, sources = budget.get("cost"), data.get("fidelities")
    source_costs = (
        [s.get("cost") for s in sources.values() if isinstance(s, dict)]
        if isinstance(sources, dict)
        else []
    )
    numbers = [c for c in source_costs if _positive_number(c)]
    count = 1
    if _positive_number(cost) and numbers and len(numbers) == len(source_costs):
        count = max(1, math.floor(float(cost) / min(float(c) for c in numbers) + 1e-9))
    return {**data, "budget": {**budget, "experiments": count}}


def _positive_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def check_budget_counts_cost(campaign: Campaign) -> None:
    """A cost budget needs sources to cost, and sources need a cost budget."""
    budget = campaign.budget
    if campaign.fidelities is None:
        if budget.cost is not None:
            raise ValueError(
                "budget.cost counts the cost units of the campaign's sources, and it declares "
                "none: add `fidelities:` (each with a cost), or give budget.experiments instead"
            )
        return
    if budget.cost is None:
        raise ValueError(
            "a campaign with fidelities spends a budget in cost units: give budget.cost "
            "(e.g. cost: 200 with an experiment costing 20 and a simulation 1)"
        )
    cheapest = min(costs(campaign).values())
    if cheapest > 0 and budget.cost < cheapest:
        raise ValueError(
            f"budget.cost {shown(budget.cost)} buys no experiment: the cheapest source "
            f"costs {shown(cheapest)}"
        )


def check_fidelities(campaign: Campaign) -> None:
    """Refuse a ``fidelities:`` section that cannot run, with the reason and the fix."""
    sources = campaign.fidelities
    if sources is None:
        return
    if len(sources) < 2:
        raise ValueError(
            "fidelities lists sources of one objective at different costs: give at least two "
            "(e.g. simulation: {cost: 1} and experiment: {cost: 20}), or remove the section"
        )
    by_cost = costs(campaign)
    dearest = max(by_cost.values())
    tied = [name for name, cost in by_cost.items() if cost == dearest]
    if len(tied) > 1:
        raise ValueError(
            f"fidelities {', '.join(tied)} share the highest cost {shown(dearest)}: the "
            "dearest source is the truth the campaign optimises, so exactly one may cost most"
        )
    truth = tied[0]
    if sources[truth].driver is not None or sources[truth].dry_run is not None:
        raise ValueError(
            f"fidelity {truth!r}, the dearest, is the truth and runs on the campaign's "
            f"`driver:` (and `dry_run:`): move its driver there and leave {truth!r} with its "
            "cost alone"
        )
    for name, source in sources.items():
        if name != truth and source.driver is None:
            raise ValueError(
                f"fidelity {name!r} has no driver: every source but the dearest ({truth!r}, "
                "which uses the campaign's driver) names its own, e.g. driver: {type: "
                "simulated, simulator: {type: function, function: 'package.module:function'}}"
            )
    _check_combination(campaign)


def _check_combination(campaign: Campaign) -> None:
    refusals = [
        (campaign.multi_objective, "several objectives: keep one objective"),
        (bool(campaign.outcome_constraints), "outcome constraints: remove outcome_constraints"),
        (campaign.candidates is not None, "a candidate pool: search the space instead"),
        (
            campaign.effective_purpose != "optimize",
            f"purpose {campaign.effective_purpose}: use purpose optimize",
        ),
        (campaign.objective.goal == "target", "goal target: maximize or minimize it"),
        (campaign.model.prior_mean is not None, "model.prior_mean: remove it"),
        (campaign.prior_data is not None, "prior_data: remove it"),
        (bool(getattr(campaign, "transfer_from", None)), "transfer_from: remove it"),
        (bool(campaign.mixtures), "mixtures: remove them"),
        (bool(campaign.constraints), "constraints: remove them"),
        (
            any(isinstance(p, CategoricalParameter) for p in campaign.space),
            "categorical parameters: use continuous or integer ones",
        ),
        (campaign.proposer.acquisition is not None, "proposer.acquisition: remove it"),
        (campaign.proposer.batch_size > 1, "proposer.batch_size above 1: remove it"),
        (campaign.driver.slots > 1, "driver.slots above 1: one experiment at a time"),
        (
            campaign.stop.no_improvement_for is not None,
            "stop.no_improvement_for (cheap results would reset it): remove it",
        ),
        (
            campaign.driver.type in UNSUPPORTED_DRIVERS,
            f"a {campaign.driver.type} driver: give the truth an instrument",
        ),
        (
            any(p.name == FIDELITY for p in campaign.space),
            f"a parameter named {FIDELITY!r}, the name each experiment's source is recorded "
            "under: rename the parameter",
        ),
    ]
    for refused, why in refusals:
        if refused:
            raise ValueError(f"multi-fidelity campaigns do not support {why}")
