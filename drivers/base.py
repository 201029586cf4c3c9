"""The driver protocol: the little the campaign flow needs from an instrument.

A driver applies one experiment's parameters, waits for the instrument, and reads the
objectives back. It knows nothing of the proposer or the ledger: the flow hands it an
:class:`Experiment` and records the :class:`Measurement` it returns.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, StringConstraints

from tansaku.documents import Location, Problem
from tansaku.errors import InputError, InstrumentError
from tansaku.units import Duration
from tansaku.values import ParameterValue

__all__ = [  # what a driver author imports from here, the shared types included
    "AsyncDriver",
    "CampaignContext",
    "Completion",
    "Driver",
    "DriverConfig",
    "DriverFactory",
    "Experiment",
    "InstrumentError",
    "Measurement",
    "ParameterDomain",
    "ParameterValue",
]


MAX_INSTRUMENT_NAME = 100

InstrumentName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=MAX_INSTRUMENT_NAME),
]
"""It names a Prefect global concurrency limit, and those names refuse '/', '%' and more."""


def instrument_name_from(*parts: str) -> str:
    """A valid instrument name made from ``parts`` (a port, a folder path).

    Every run of characters a name may not hold becomes one ``-``, so ``/dev/ttyUSB0``
    is ``dev-ttyUSB0``. A name that would be too long keeps its start and a digest of
    the whole, so two long paths never end up with the same name.
    """
    text = "_".join(parts)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._") or "instrument"
    if len(name) > MAX_INSTRUMENT_NAME:
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        name = f"{name[: MAX_INSTRUMENT_NAME - 13]}-{digest}"
    return name


class DriverConfig(BaseModel):
    """The ``driver:`` section of a campaign. Each driver extends it with its own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    retries: NonNegativeInt = Field(
        0, description="How often a measurement that raised an instrument error is retried."
    )
    retry_delay: Duration = Field(
        timedelta(seconds=5), description="Wait before the first retry; it doubles each time."
    )
    slots: PositiveInt = Field(
        1,
        description=(
            "How many experiments the instrument runs at once. With more than one, the "
            "campaign keeps that many in flight and proposes each new one knowing the others."
        ),
    )
    approve: bool = Field(
        False,
        description=(
            "Each proposal waits for a person's OK (`tansaku approve`, `tansaku reject`, or "
            "the Prefect UI) before the instrument sees it."
        ),
    )
    instrument: InstrumentName | None = Field(
        None,
        description=(
            "Letters, digits, '.', '_' and '-', starting with a letter or digit: the "
            "instrument's name. Campaigns that name one instrument never run more experiments "
            "on it at once than its `slots`; default: where the driver reaches it (a serial "
            "port, a drop folder), none for a simulator."
        ),
    )
    on_interrupted: Literal["rerun", "fail"] = Field(
        "rerun",
        description=(
            "What a restarted campaign does with an experiment that was running when the "
            "previous process died: measure it again, or record it as failed."
        ),
    )

    def ports(self) -> dict[str, str]:
        """Where each device is plugged in, by device name; empty for a driver without.

        Ports say where, not what: a campaign may resume with a device on another port
        (``tansaku run --port``), so they are no part of the campaign's identity.
        """
        return {}

    def with_ports(self, ports: Mapping[str, str]) -> Self:
        """This section with the devices named in ``ports`` plugged in there instead.

        Raises :class:`~tansaku.errors.InputError` naming a device this section lacks.
        """
        if ports:
            device = next(iter(ports))
            raise InputError(f"--port {device}=...: a {self.type} driver has no devices on ports")
        return self

    def instrument_name(self, base_dir: Path) -> str | None:
        """The instrument whose slots this campaign holds while it measures; ``None``: none.

        ``instrument:`` when the campaign names it, else :meth:`default_instrument`.
        Like ports, the name says where, not what: it is no part of the campaign's
        identity, and a campaign may resume under another.
        """
        return self.instrument if self.instrument is not None else self.default_instrument(base_dir)

    def default_instrument(self, base_dir: Path) -> str | None:
        """The instrument's name when the campaign names none (``base_dir``: the campaign
        file's folder); ``None`` holds no slot.

        A driver that reaches a shared device (a port, a folder) names it from there, so
        two campaigns on that device share its slots without being told; the default here
        is ``None``, since an unknown driver's device cannot be told apart.
        """
        del base_dir
        return None

    def describe(self, base_dir: Path) -> list[str]:
        """How this driver reaches the instrument, a line per device or mode, for people.

        ``base_dir`` is the campaign file's folder (the driver's own files are relative
        to it); ``validate`` shows these lines.
        """
        del base_dir
        slots = f"{self.slots} slots" if self.slots > 1 else "one experiment at a time"
        return [f"{self.type}, {slots}"]

    def problems(self, context: CampaignContext) -> list[tuple[Location, str] | Problem]:
        """Inconsistencies between this section and the rest of the campaign.

        Returns ``(location inside this section, message)`` pairs, or a :class:`Problem`
        already placed in a file of the driver's own (a protocol file); empty when all
        is well.
        """
        del context
        return []


@dataclass(frozen=True)
class ParameterDomain:
    """The values a campaign may give one parameter, and the campaign field that says so."""

    where: str
    """The campaign field that decides them, e.g. ``space[0].bounds`` or ``space[2].fixed``."""
    bounds: tuple[float, float] | None = None
    """Any number from the low to the high bound (continuous and integer parameters)."""
    values: tuple[ParameterValue, ...] = ()
    """Only these (discrete and categorical parameters, and any fixed one)."""


@dataclass(frozen=True)
class CampaignContext:
    """What a driver may know about the campaign it serves."""

    name: str
    parameters: Mapping[str, str]
    """Parameter names, in campaign order, mapped to their kind: ``continuous``,
    ``integer``, ``discrete`` or ``categorical``."""
    objectives: tuple[str, ...]
    """Every quantity the instrument must report: the objectives, then other outcomes."""
    base_dir: Path
    """Folder of the campaign file: relative paths in the driver section start here."""
    seed: int = 0
    run_dir: Path | None = None
    """Where per-experiment files (transcripts, logs) go; ``None`` while only validating."""
    clock_start: datetime | None = None
    """Where a simulated clock resumes; ``None`` starts a fresh calendar."""
    domains: Mapping[str, ParameterDomain] = field(default_factory=dict)
    """Parameter name → the values the campaign may give it (empty when not known), so a
    driver can check them against its hard limits at validation time."""


@dataclass(frozen=True)
class Experiment:
    """One experiment to run: an id unique within the campaign and its parameter values."""

    campaign: str
    id: int
    parameters: Mapping[str, ParameterValue]

    @property
    def label(self) -> str:
        """``"<campaign>-0007"``: the experiment's name in file names, logs and run names."""
        return f"{self.campaign}-{self.id:04d}"


@dataclass(frozen=True)
class Measurement:
    """What an instrument reported for one experiment.

    ``values`` maps objective names to readings; a driver passes on whatever it read,
    NaN included, and the flow decides what counts as a valid result. ``failure`` is
    set when the experiment itself failed (a sample cracked, a reaction gave no
    product): it is recorded, not retried.
    """

    values: Mapping[str, float]
    started_at: datetime
    finished_at: datetime
    failure: str | None = None
    raw: Mapping[str, object] = field(default_factory=dict)


# Runtime-checkable so that Prefect can build a schema for a flow taking a Driver.
@runtime_checkable
class Driver(Protocol):
    """An instrument on the loop. Built-in and third-party drivers implement this."""

    config_model: ClassVar[type[DriverConfig]]

    def connect(self) -> None:
        """Open the connection; called once before the first experiment."""

    def run(self, experiment: Experiment) -> Measurement:
        """Apply the parameters, wait for the instrument, read the objectives."""

    def now(self) -> datetime:
        """The instrument's clock (timezone-aware): wall time, or a simulated calendar."""

    def close(self) -> None:
        """Leave the instrument safe and release it; called once, also after failures."""


@dataclass(frozen=True)
class Completion:
    """One experiment an asynchronous instrument has finished with (or given up on)."""

    experiment_id: int
    measurement: Measurement


@runtime_checkable
class AsyncDriver(Protocol):
    """An instrument that runs several experiments at once and reports each as it ends.

    The flow hands it experiments while it has free slots and collects what comes back,
    in whatever order. Experiments still in flight when tansaku stops are handed back
    with :meth:`resume` on the next run, so results that arrive meanwhile are not lost.
    """

    config_model: ClassVar[type[DriverConfig]]

    def connect(self) -> None:
        """Open the connection; called once before anything is submitted."""

    def free_slots(self) -> int:
        """How many more experiments :meth:`submit` accepts now."""

    def submit(self, experiments: Sequence[Experiment]) -> None:
        """Start these experiments (at most :meth:`free_slots` of them); do not wait."""

    def resume(self, experiment: Experiment, submitted_at: datetime) -> None:
        """Wait again for an experiment a previous run submitted at ``submitted_at``."""

    def collect(self) -> list[Completion]:
        """Experiments that ended since the last call, waiting up to one poll interval."""

    def now(self) -> datetime:
        """The instrument's clock (timezone-aware): wall time, or a simulated calendar."""

    def close(self) -> None:
        """Release the instrument; experiments in flight stay in flight."""


class DriverFactory(Protocol):
    """What the ``tansaku.drivers`` entry point names: a class built from its config."""

    config_model: ClassVar[type[DriverConfig]]

    def __call__(self, config: DriverConfig, context: CampaignContext) -> Driver | AsyncDriver: ...
