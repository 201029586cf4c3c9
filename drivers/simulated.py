"""The ``simulated`` driver: a simulator in place of an instrument, on a virtual clock.

Each experiment takes the simulator's declared ``duration`` of *virtual* time: the clock
jumps forward instead of sleeping, so a campaign of two-hour experiments dry-runs in
seconds and still reports the calendar it would have taken.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveInt

from tansaku.callables import FUNCTION_PATTERN, FunctionImportError, import_function
from tansaku.documents import Location
from tansaku.drivers.base import (
    CampaignContext,
    Completion,
    DriverConfig,
    Experiment,
    InstrumentError,
    Measurement,
)
from tansaku.simulators.benchmarks import BENCHMARKS
from tansaku.simulators.dataset import read_header
from tansaku.units import Duration

Simulator = Callable[[Mapping[str, float | int | str]], float | Mapping[str, float]]
"""A model of the instrument: one reading, or readings by name when it measures several."""


class _SimulatorBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    noise_sd: NonNegativeFloat = Field(
        0.0, description="Standard deviation of Gaussian noise added to every reading."
    )
    failure_rate: float = Field(
        0.0, ge=0.0, lt=1.0, description="Probability that an experiment fails outright."
    )
    fault_rate: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description=(
            "Probability that one attempt raises an instrument error, which the campaign "
            "retries as `driver.retries` allows: rehearses a flaky instrument."
        ),
    )
    duration: Duration = Field(
        timedelta(0), description="Virtual time one experiment takes, e.g. '2h'."
    )
    start: datetime | None = Field(
        None, description="Virtual date and time the campaign starts; default: now."
    )

    def problems(self, context: CampaignContext) -> list[tuple[Location, str]]:
        del context
        return []


class BenchmarkSpec(_SimulatorBase):
    """A synthetic function with a known optimum, fed the parameters in campaign order."""

    type: Literal["benchmark"]
    function: Literal[tuple(BENCHMARKS)]  # type: ignore[valid-type]

    def problems(self, context: CampaignContext) -> list[tuple[Location, str]]:
        found: list[tuple[Location, str]] = []
        outputs = BENCHMARKS[self.function].outputs
        if outputs > len(context.objectives):
            found.append(
                (
                    ("function",),
                    f"{self.function} returns {outputs} values but the campaign measures "
                    f"{len(context.objectives)}: list one objective or outcome per value",
                )
            )
        expected = BENCHMARKS[self.function].dim
        if expected is not None and len(context.parameters) != expected:
            found.append(
                (
                    ("function",),
                    f"{self.function} takes {expected} inputs but the space has "
                    f"{len(context.parameters)} parameters",
                )
            )
        categorical = [n for n, kind in context.parameters.items() if kind == "categorical"]
        if categorical:
            found.append(
                (
                    ("function",),
                    f"{self.function} takes numbers only; categorical parameters: "
                    + ", ".join(categorical),
                )
            )
        return found


class DatasetSpec(_SimulatorBase):
    """A table of real measurements, answered by nearest neighbour (tansaku.simulators.dataset)."""

    type: Literal["dataset"]
    path: Path = Field(description="CSV file, relative to the campaign file.")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Campaign parameter → table column, where the names differ.",
    )
    output: str = Field(description="The column that holds the objective.")
    neighbors: PositiveInt = Field(
        1, description="Nearest measured points averaged, weighted by 1/distance."
    )

    def resolved_path(self, base_dir: Path) -> Path:
        return self.path if self.path.is_absolute() else base_dir / self.path

    def column_of(self, context: CampaignContext) -> dict[str, str]:
        return {name: self.columns.get(name, name) for name in context.parameters}

    def problems(self, context: CampaignContext) -> list[tuple[Location, str]]:
        path = self.resolved_path(context.base_dir)
        if not path.is_file():
            return [(("path",), f"no such file: {path}")]
        header = read_header(path)
        found: list[tuple[Location, str]] = [
            (("columns", name), f"{name!r} is not a parameter of this campaign")
            for name in self.columns
            if name not in context.parameters
        ]
        for name, column in self.column_of(context).items():
            if column not in header:
                found.append(
                    (
                        ("columns",),
                        f"parameter {name!r} reads column {column!r}, which {path.name} lacks; "
                        f"map it under 'columns:' to one of: {', '.join(header)}",
                    )
                )
        if self.output not in header:
            found.append(
                (
                    ("output",),
                    f"{path.name} has no column {self.output!r}; columns: {', '.join(header)}",
                )
            )
        return found


class FunctionSpec(_SimulatorBase):
    """Any Python function of the parameter mapping, named ``module:function``."""

    type: Literal["function"]
    function: str = Field(
        pattern=FUNCTION_PATTERN,
        description="An importable callable, e.g. 'tansaku.simulators.film:film_conductance_ms'.",
    )

    def load(self) -> Simulator:
        return import_function(self.function)

    def problems(self, context: CampaignContext) -> list[tuple[Location, str]]:
        del context
        try:
            self.load()
        except FunctionImportError as error:
            return [(("function",), str(error))]
        return []


AnySimulator = BenchmarkSpec | DatasetSpec | FunctionSpec
SimulatorSpec = Annotated[AnySimulator, Field(discriminator="type")]


class SimulatedDriverConfig(DriverConfig):
    """``driver: {type: simulated, simulator: {...}}``."""

    type: Literal["simulated"]
    simulator: SimulatorSpec

    def problems(self, context: CampaignContext) -> list[tuple[Location, str]]:
        return [(("simulator", *loc), message) for loc, message in self.simulator.problems(context)]


def build_simulator(spec: AnySimulator, context: CampaignContext) -> Simulator:
    """The simulator a spec describes, ready to evaluate."""
    if isinstance(spec, FunctionSpec):
        return spec.load()
    if isinstance(spec, BenchmarkSpec):
        from tansaku.simulators.benchmarks import BenchmarkSimulator

        return BenchmarkSimulator(spec.function, list(context.parameters), context.objectives)
    from tansaku.simulators.dataset import DatasetSimulator

    return DatasetSimulator(
        spec.resolved_path(context.base_dir),
        columns=spec.column_of(context),
        output=spec.output,
        categorical=frozenset(n for n, k in context.parameters.items() if k == "categorical"),
        neighbors=spec.neighbors,
    )


class SimulatedDriver:
    """Runs experiments against a simulator, adding noise and failures, on a virtual clock.

    Noise and failures are drawn from a generator seeded by the campaign seed and the
    experiment id, so a resumed campaign sees the same readings an uninterrupted one would.
    """

    config_model: ClassVar[type[DriverConfig]] = SimulatedDriverConfig

    def __init__(self, config: DriverConfig, context: CampaignContext) -> None:
        if not isinstance(config, SimulatedDriverConfig):
            raise TypeError(f"SimulatedDriver needs a SimulatedDriverConfig, got {type(config)}")
        self._spec = config.simulator
        self._context = context
        self._objective = context.objectives[0]
        self._clock = context.clock_start or self._spec.start or datetime.now(UTC)
        if self._clock.tzinfo is None:
            self._clock = self._clock.replace(tzinfo=UTC)
        self._simulator: Simulator | None = None
        self._attempts: Counter[int] = Counter()

    @classmethod
    def for_dry_run(
        cls, spec: AnySimulator, context: CampaignContext, slots: int = 1
    ) -> SimulatedDriver | ParallelSimulatedDriver:
        """The driver a ``--dry-run`` uses in place of the campaign's own, as many slots wide."""
        config = SimulatedDriverConfig(type="simulated", simulator=spec, slots=slots)
        return cls.for_config(config, context)

    @classmethod
    def for_config(
        cls, config: DriverConfig, context: CampaignContext
    ) -> SimulatedDriver | ParallelSimulatedDriver:
        """One simulated instrument, or a lab of ``slots`` of them running side by side."""
        if config.slots > 1:
            return ParallelSimulatedDriver(config, context)
        return cls(config, context)

    def connect(self) -> None:
        self._simulator = build_simulator(self._spec, self._context)

    def now(self) -> datetime:
        return self._clock

    def run(self, experiment: Experiment) -> Measurement:
        started = self._clock
        measurement = self.measure(experiment, started)
        self._clock = measurement.finished_at
        return measurement

    def measure(self, experiment: Experiment, started: datetime) -> Measurement:
        """The measurement of ``experiment`` started at ``started``; the clock stays put."""
        if self._simulator is None:
            raise RuntimeError("SimulatedDriver used before connect()")
        self._attempts[experiment.id] += 1
        attempt = np.random.default_rng(
            [self._context.seed, experiment.id, self._attempts[experiment.id]]
        )
        if attempt.random() < self._spec.fault_rate:
            raise InstrumentError(
                f"simulated instrument fault (fault_rate) on attempt "
                f"{self._attempts[experiment.id]} of {experiment.label}"
            )
        rng = np.random.default_rng([self._context.seed, experiment.id])
        finished = started + self._spec.duration
        if rng.random() < self._spec.failure_rate:
            return Measurement(
                values={},
                started_at=started,
                finished_at=finished,
                failure="simulated failure (failure_rate)",
            )
        result = self._simulator(experiment.parameters)
        clean = dict(result) if isinstance(result, Mapping) else {self._objective: result}
        readings = {
            name: value + self._spec.noise_sd * rng.standard_normal()
            if math.isfinite(value)
            else value
            for name, value in clean.items()
        }
        return Measurement(
            values=readings,
            started_at=started,
            finished_at=finished,
            raw={"noise_free": clean if len(clean) > 1 else clean[self._objective]},
        )

    def advance_to(self, moment: datetime) -> None:
        """Move the virtual clock forward to ``moment`` (never back)."""
        self._clock = max(self._clock, moment)

    def close(self) -> None:
        self._simulator = None


class ParallelSimulatedDriver:
    """``slots`` simulated instruments sharing one virtual clock.

    Each submitted experiment finishes ``duration`` after it started; :meth:`collect`
    jumps the clock to the next finish, so experiments overlap in virtual time exactly
    as they would on parallel instruments, and out of order when durations differ.
    """

    config_model: ClassVar[type[DriverConfig]] = SimulatedDriverConfig

    def __init__(self, config: DriverConfig, context: CampaignContext) -> None:
        self._instrument = SimulatedDriver(config, context)
        self._slots = config.slots
        self._in_flight: dict[int, Measurement] = {}

    def connect(self) -> None:
        self._instrument.connect()

    def now(self) -> datetime:
        return self._instrument.now()

    def free_slots(self) -> int:
        return self._slots - len(self._in_flight)

    def submit(self, experiments: Sequence[Experiment]) -> None:
        if len(experiments) > self.free_slots():
            raise ValueError(f"{len(experiments)} experiments for {self.free_slots()} free slots")
        for experiment in experiments:
            self._in_flight[experiment.id] = self._instrument.measure(experiment, self.now())

    def resume(self, experiment: Experiment, submitted_at: datetime) -> None:
        """Measure it again: a simulated reading depends only on the seed and the id."""
        del submitted_at
        self.submit([experiment])

    def collect(self) -> list[Completion]:
        if not self._in_flight:
            return []
        next_finish = min(m.finished_at for m in self._in_flight.values())
        self._instrument.advance_to(next_finish)
        done = [i for i, m in self._in_flight.items() if m.finished_at <= next_finish]
        return [Completion(i, self._in_flight.pop(i)) for i in sorted(done)]

    def close(self) -> None:
        self._instrument.close()
