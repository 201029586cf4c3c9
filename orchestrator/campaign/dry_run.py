"""The ``dry_run:`` section: the simulator ``tansaku run --dry-run`` uses as the instrument.

Its ``simulator:`` key is the simulated driver's own, checked by that driver's model as
the driver registry provides it: the campaign schema names no driver implementation.
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, ConfigDict, create_model

from tansaku.campaign.fields import Section
from tansaku.documents import Location
from tansaku.drivers.base import CampaignContext, DriverConfig


class SimulatorSection(BaseModel):
    """A ``simulator:`` section before the simulated driver's model has checked it.

    It stands in where that model is not known (a campaign validated without the loader,
    or no simulated driver installed), taking the simulator's keys as they are, so they
    are not all reported as unknown on top of the real mistake.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str

    def problems(self, context: CampaignContext) -> list[tuple[Location, str]]:
        """Inconsistencies between this simulator and the rest of the campaign.

        Args:
            context: What the campaign tells its drivers.

        Returns:
            ``(location inside this section, message)`` pairs; none for a section no
            simulator has checked.
        """
        del context
        return []


class DryRun(Section):
    """What ``tansaku run --dry-run`` puts in place of the instrument."""

    simulator: SimulatorSection


@cache
def dry_run_model_for(simulated_config: type[DriverConfig]) -> type[DryRun]:
    """The ``dry_run:`` section whose simulator is checked as the simulated driver checks its own.

    Args:
        simulated_config: The simulated driver's config model (``load_driver("simulated")
            .config_model``), whose ``simulator`` field describes a simulator.

    Returns:
        A subclass of :class:`DryRun` with that ``simulator`` field.
    """
    simulator = simulated_config.model_fields["simulator"]
    return create_model(
        f"DryRun[{simulated_config.__name__}]",
        __base__=DryRun,
        simulator=(simulator.annotation, simulator),
    )
