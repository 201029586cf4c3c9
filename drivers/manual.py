"""A person at the bench as the instrument: ``driver: {type: manual, slots: k}``.

Nothing is sent anywhere. The campaign shows each experiment to run and waits for its
result, which a person gives at the terminal prompt, with ``tansaku tell`` or in the
Prefect UI; each lands in the ledger, where the campaign flow picks it up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

from tansaku.documents import Location
from tansaku.drivers.base import CampaignContext, DriverConfig


class ManualDriverConfig(DriverConfig):
    """``driver: {type: manual}``; ``slots`` is how many samples the person runs at once."""

    type: Literal["manual"] = "manual"

    def describe(self, base_dir: Path) -> list[str]:
        """One line for ``validate``: who measures, and how many samples at once."""
        del base_dir
        samples = f"{self.slots} samples at once" if self.slots > 1 else "one sample at a time"
        return [f"by hand: a person measures {samples} and enters the results"]

    def problems(self, context: CampaignContext) -> list[tuple[Location, str]]:
        """A person's experiments hold no instrument slot: refuse naming an instrument."""
        del context
        if self.instrument is None:
            return []
        return [
            (
                ("instrument",),
                "a person measures by hand: results come in over days, whether or not "
                "tansaku runs, so no campaign can hold the instrument for them; remove "
                "`instrument`",
            )
        ]


class ManualDriver:
    """The instrument is a person; results reach the ledger without passing through here.

    The flow waits on the ledger instead of calling a driver: a result told from another
    shell, or while tansaku was not running at all, must count as much as one typed at
    the prompt. This class holds the clock (wall time) and the slots.
    """

    config_model: ClassVar[type[DriverConfig]] = ManualDriverConfig

    def __init__(self, config: ManualDriverConfig, context: CampaignContext) -> None:
        del context
        self.config = config

    @property
    def slots(self) -> int:
        """How many experiments the person measures at once (``driver.slots``)."""
        return self.config.slots

    def connect(self) -> None:
        """Nothing to connect to."""

    def now(self) -> datetime:
        """Wall time: a person works on the real clock."""
        return datetime.now(UTC)

    def close(self) -> None:
        """Nothing to release: experiments shown to the person stay waiting in the ledger."""
