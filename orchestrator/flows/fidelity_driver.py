"""One driver per source of a multi-fidelity campaign, behind the one driver the flow runs.

Each experiment names its source in its ``fidelity`` parameter; :class:`RoutedDriver`
hands it to that source's driver without that parameter (an instrument is sent only the
campaign's own parameters). The sources' simulated clocks move together: before an
experiment starts on one, its clock is brought up to the latest, so a dry run's calendar
is one timeline across sources.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from tansaku.campaign import LoadedCampaign
from tansaku.campaign.fidelities import FIDELITY, target
from tansaku.campaign.fidelity_drivers import fidelity_driver, fidelity_dry_run
from tansaku.drivers.base import Driver, Experiment, Measurement
from tansaku.drivers.registry import load_driver
from tansaku.drivers.simulated import SimulatedDriver, SimulatedDriverConfig
from tansaku.errors import InputError


class FidelityDryRunError(InputError):
    """``--dry-run`` on a multi-fidelity campaign with a source no simulator stands in for."""


class RoutedDriver:
    """Runs each experiment on the driver of its source (``fidelity`` parameter)."""

    def __init__(self, drivers: Mapping[str, Driver], target: str) -> None:
        self.drivers = dict(drivers)
        self.target = target

    def connect(self) -> None:
        connected: list[Driver] = []
        try:
            for driver in self.drivers.values():
                driver.connect()
                connected.append(driver)
        except BaseException:
            for driver in connected:
                with contextlib.suppress(Exception):
                    driver.close()
            raise

    def now(self) -> datetime:
        return max(driver.now() for driver in self.drivers.values())

    def run(self, experiment: Experiment) -> Measurement:
        source = str(experiment.parameters.get(FIDELITY, self.target))
        if source not in self.drivers:
            raise ValueError(
                f"{experiment.label} names source {source!r}, which the campaign does not "
                f"declare (its sources: {', '.join(self.drivers)})"
            )
        driver = self.drivers[source]
        advance = getattr(driver, "advance_to", None)
        if callable(advance):
            advance(self.now())
        parameters = {k: v for k, v in experiment.parameters.items() if k != FIDELITY}
        return driver.run(Experiment(experiment.campaign, experiment.id, parameters))

    def close(self) -> None:
        for driver in self.drivers.values():
            with contextlib.suppress(Exception):
                driver.close()


def check_fidelity_dry_run(loaded: LoadedCampaign) -> None:
    """Refuse ``--dry-run`` where a cheaper source's real driver has no simulator."""
    campaign = loaded.campaign
    truth = target(campaign)
    for name, source in (campaign.fidelities or {}).items():
        if name == truth or source.dry_run is not None:
            continue
        if not isinstance(fidelity_driver(campaign, name), SimulatedDriverConfig):
            raise FidelityDryRunError(
                f"{loaded.path}: --dry-run needs a simulator for source {name!r}: give it "
                "`dry_run: {simulator: ...}` beside its driver"
            )


def routed_driver(
    loaded: LoadedCampaign,
    run_dir: Path,
    dry_run: bool,
    clock_start: datetime | None,
    for_target: Driver,
) -> RoutedDriver:
    """The campaign's sources' drivers behind one; ``for_target`` is the truth's (the
    campaign's own driver, or its dry-run simulator)."""
    campaign = loaded.campaign
    context = loaded.context(run_dir=run_dir, clock_start=clock_start)
    truth = target(campaign)
    if dry_run:
        check_fidelity_dry_run(loaded)
    drivers: dict[str, Driver] = {}
    for name in campaign.fidelities or {}:
        if name == truth:
            drivers[name] = for_target
            continue
        config = fidelity_driver(campaign, name)
        spec = fidelity_dry_run(campaign, name) if dry_run else None
        if spec is not None:
            drivers[name] = SimulatedDriver(
                SimulatedDriverConfig(type="simulated", simulator=spec), context
            )
        elif isinstance(config, SimulatedDriverConfig):
            drivers[name] = SimulatedDriver(config, context)
        else:
            built = load_driver(config.type)(config, context)
            if not isinstance(built, Driver):
                raise FidelityDryRunError(
                    f"{loaded.path}: source {name!r} runs on a {config.type} driver, which "
                    "runs experiments in parallel; a source's driver runs one at a time"
                )
            drivers[name] = built
    return RoutedDriver({name: drivers[name] for name in campaign.fidelities or {}}, truth)
