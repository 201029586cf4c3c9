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
    def _a_positive_fraction(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError(
                f"{value:g} is never reached: give a fraction above 0 of the measured values' "
                "standard deviation, e.g. 0.3"
            )
        return value
