"""When a campaign stops: its budget, and the rules that may stop it earlier."""

from __future__ import annotations

from pydantic import Field, PositiveInt, field_validator

from tansaku.campaign.fields import Number, Section
from tansaku.units import Duration


class Budget(Section):
    """When the campaign stops: after this many experiments, or at a deadline."""

    experiments: PositiveInt = Field(
        description="Experiments to run, failed ones included (at least 1)."
    )
    cost: Number | None = Field(
        None,
        description=(
            "With fidelities: the cost units to spend, each experiment counting its source's "
            "cost (budget.experiments then defaults to what the cheapest source could buy)."
        ),
    )
    wall_clock: Duration | None = Field(
        None,
        description=(
            "Stop proposing once this much time has passed on the instrument's clock "
            "since the campaign started (virtual time in a dry run)."
        ),
    )


class StopRules(Section):
    """Reasons to stop before the budget is spent; the ledger records which one fired."""

    objective_reaches: Number | None = Field(
        None,
        description=(
            "Stop once a measurement is at least this good: at or above it when maximising, "
            "at or below when minimising, within this distance of the target with a target."
        ),
    )
    no_improvement_for: PositiveInt | None = Field(
        None,
        description="Stop after this many finished experiments in a row without a new best.",
    )
    uncertainty_below: Number | None = Field(
        None,
        description=(
            "purpose learn: stop once the model's standard deviation, averaged over the "
            "space, is below this fraction of the measured values' standard deviation."
        ),
    )

    @field_validator("uncertainty_below")
    @classmethod
    def _a_fraction(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value < 1:
            why = "is never reached" if value <= 0 else "would stop a model that knows nothing"
            raise ValueError(
                f"{value:g} {why}: give a fraction between 0 and 1 of the measured values' "
                "standard deviation, e.g. 0.3 (not 30)"
            )
        return value


UNCERTAINTY_DETAIL = "mean_relative_sd"
"""The proposer detail in which a learning campaign's proposals record how unsure the model
was (its standard deviation averaged over the space, relative to the measured spread): what
``stop.uncertainty_below`` reads."""
