"""The campaign file's schema: what a campaign may say, and what each key means.

Validating a campaign imports pydantic and the drivers' config models, never torch.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from tansaku.campaign.candidates import CandidatesSpec
from tansaku.campaign.descriptors import DescriptorsSpec
from tansaku.campaign.expressions import OutcomeConstraint
from tansaku.campaign.prior import PriorDataSpec
from tansaku.drivers.base import DriverConfig
from tansaku.drivers.simulated import SimulatorSpec
from tansaku.units import Duration

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
    Field(description="A name made of letters, digits and underscores, not starting with a digit."),
]
CampaignName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64),
    Field(description="Letters, digits, '.', '_' and '-'; it names files and Prefect runs."),
]


MAX_MAGNITUDE = 1e150
"""Numbers in a campaign are 0 or between 1/MAX_MAGNITUDE and MAX_MAGNITUDE in size, so that
the sum, difference, product or quotient of any two stays finite and non-zero in floating
point (widths, scalings and constraint terms are computed from them). Physical quantities
lie far inside: Avogadro's number is 6e23."""
MIN_RELATIVE_WIDTH = 1e-9
"""Bounds closer than this fraction of their size leave floating point's 16 digits too
few distinct points between them to search."""
MAX_EXACT_INTEGER = 2**53
"""Integer bounds lie within this, where floating point (the model's inputs) holds every
whole number."""
MAX_SEED = 2**32 - 1
"""numpy's and torch's generators both take seeds from 0 to 2**32 - 1."""


def _computable(value: float) -> float:
    if math.isnan(value):
        raise ValueError("nan is not a number; write a finite number")
    limit = _shown(MAX_MAGNITUDE)
    if math.isinf(value):
        raise ValueError(f"{value} is not a finite number; write a number within ±{limit}")
    if abs(value) > MAX_MAGNITUDE:
        raise ValueError(
            f"{_shown(value)} is too large to compute with: numbers in a campaign must lie "
            f"within ±{limit} (give it in a larger unit)"
        )
    if value != 0 and abs(value) < 1 / MAX_MAGNITUDE:
        raise ValueError(
            f"{_shown(value)} is too small to compute with: a number in a campaign is 0 or at "
            f"least {_shown(1 / MAX_MAGNITUDE)} in size (give it in a smaller unit)"
        )
    return value


def _shown(value: float) -> str:
    """``1e150`` rather than Python's ``1e+150``, as people write it in the file."""
    mantissa, e, exponent = f"{value:g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if e else mantissa


Number = Annotated[float, AfterValidator(_computable)]
"""A finite number within ±:data:`MAX_MAGNITUDE`."""


def _repeated(names: Iterable[str]) -> list[str]:
    """The names given more than once, sorted; counted in one pass, as a categorical may list
    tens of thousands of values."""
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _resolvable(low: float, high: float) -> None:
    if high - low < MIN_RELATIVE_WIDTH * max(abs(low), abs(high)):
        raise ValueError(
            f"bounds [{low}, {high}] are too close together for numbers of their size: the "
            "width must be at least a billionth of the larger bound (shift or rescale the "
            "parameter)"
        )


FIXED_HELP = "Hold the parameter at this value for this campaign; it is not searched."


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContinuousParameter(_Section):
    """A real-valued knob between two bounds, optionally searched on a log scale."""

    type: Literal["continuous"]
    name: Identifier
    bounds: tuple[Number, Number]
    log_scale: bool = False
    unit: str | None = None
    fixed: Number | None = Field(None, description=FIXED_HELP)

    @model_validator(mode="after")
    def _check_bounds(self) -> ContinuousParameter:
        low, high = self.bounds
        if low >= high:
            raise ValueError(f"bounds [{low}, {high}]: the low bound must be below the high one")
        _resolvable(low, high)
        if self.log_scale and low <= 0:
            raise ValueError(f"log_scale needs bounds above 0, got low bound {low}")
        if self.fixed is not None and not low <= self.fixed <= high:
            raise ValueError(f"fixed value {self.fixed} lies outside the bounds [{low}, {high}]")
        return self


class IntegerParameter(_Section):
    """A whole-numbered knob between two bounds, both included."""

    type: Literal["integer"]
    name: Identifier
    bounds: tuple[StrictInt, StrictInt]
    unit: str | None = None
    fixed: StrictInt | None = Field(None, description=FIXED_HELP)

    @model_validator(mode="after")
    def _check_bounds(self) -> IntegerParameter:
        low, high = self.bounds
        if low >= high:
            raise ValueError(f"bounds [{low}, {high}]: the low bound must be below the high one")
        if max(abs(low), abs(high)) > MAX_EXACT_INTEGER:
            raise ValueError(
                f"bounds [{low}, {high}]: integer bounds must lie within ±{MAX_EXACT_INTEGER} "
                "(2**53), where floating point holds every whole number"
            )
        if self.fixed is not None and not low <= self.fixed <= high:
            raise ValueError(f"fixed value {self.fixed} lies outside the bounds [{low}, {high}]")
        return self


MAX_DISCRETE_VALUES = 10_000


class DiscreteParameter(_Section):
    """A number restricted to listed values, or to steps of a grid between two bounds."""

    type: Literal["discrete"]
    name: Identifier
    values: Annotated[list[Number], Field(min_length=2)] | None = Field(
        None, description="The allowed values, e.g. [0.5, 1, 2, 5]."
    )
    bounds: tuple[Number, Number] | None = Field(None, description="With `step`: the grid's ends.")
    step: Number | None = Field(None, gt=0, description="With `bounds`: the grid's spacing.")
    unit: str | None = None
    fixed: Number | None = Field(None, description=FIXED_HELP)

    @model_validator(mode="after")
    def _check_values(self) -> DiscreteParameter:
        if (self.values is None) == (self.step is None and self.bounds is None):
            raise ValueError("give either `values`, or `bounds` and `step`")
        if self.values is None:
            if self.bounds is None or self.step is None:
                raise ValueError("a grid needs both `bounds` and `step`")
            low, high = self.bounds
            if low >= high:
                raise ValueError(
                    f"bounds [{low}, {high}]: the low bound must be below the high one"
                )
            _resolvable(low, high)
            count = math.floor((high - low) / self.step + 1e-9) + 1
            if count > MAX_DISCRETE_VALUES:
                raise ValueError(
                    f"step {self.step} makes {count} values; at most {MAX_DISCRETE_VALUES} "
                    "(use a continuous parameter instead)"
                )
        elif len(set(self.values)) != len(self.values):
            raise ValueError("values must be distinct")
        if self.fixed is not None and not any(
            math.isclose(self.fixed, v, rel_tol=1e-9, abs_tol=1e-12) for v in self.allowed
        ):
            raise ValueError(f"fixed value {self.fixed} is not one of the allowed values")
        return self

    @property
    def allowed(self) -> list[float]:
        """The allowed values, ascending."""
        if self.values is not None:
            return sorted(self.values)
        assert self.bounds is not None and self.step is not None
        low, high = self.bounds
        count = math.floor((high - low) / self.step + 1e-9) + 1
        # Rounded so that 0.1-steps read 0.3, not 0.30000000000000004.
        return [round(low + k * self.step, 12) for k in range(count)]


class CategoricalParameter(_Section):
    """One choice among named values (a solvent, a substrate, a recipe)."""

    type: Literal["categorical"]
    name: Identifier
    values: Annotated[list[str | int | float], Field(min_length=1)]
    fixed: str | int | float | None = Field(None, description=FIXED_HELP)
    descriptors: DescriptorsSpec | None = Field(
        None,
        description=(
            "A CSV of numeric descriptors per value (e.g. a solvent's polarity and boiling "
            "point) that the model uses instead of treating the values as unrelated."
        ),
    )

    @model_validator(mode="after")
    def _check_values(self) -> CategoricalParameter:
        labels = [str(value) for value in self.values]
        repeated = _repeated(labels)
        if repeated:
            raise ValueError(f"values must be distinct; repeated: {', '.join(repeated)}")
        if self.fixed is not None and str(self.fixed) not in labels:
            raise ValueError(f"fixed value {self.fixed!r} is not one of: {', '.join(labels)}")
        return self


Parameter = Annotated[
    ContinuousParameter | IntegerParameter | DiscreteParameter | CategoricalParameter,
    Field(discriminator="type"),
]


class Mixture(_Section):
    """Components whose amounts add up to a fixed total (fractions to 1, percent to 100)."""

    components: Annotated[list[Identifier], Field(min_length=2)]
    total: Number = Field(1.0, gt=0)


class Objective(_Section):
    """A quantity the instrument reads, and which way is better: up, down, or a set value."""

    name: Identifier
    goal: Literal["maximize", "minimize", "target"]
    target: Number | None = Field(
        None, description="With goal 'target': the value to hit (e.g. a band gap of 1.4 eV)."
    )
    threshold: Number | None = Field(
        None,
        description=(
            "The worst value still worth having. With several objectives the thresholds form "
            "the hypervolume's reference point (inferred from the data where missing)."
        ),
    )
    unit: str | None = None
    noise_free: bool = Field(
        False,
        description=(
            "Measurements of this quantity are exact (a deterministic simulation or "
            "calculation): the model passes through them instead of estimating a noise level."
        ),
    )

    @model_validator(mode="after")
    def _target_with_its_goal(self) -> Objective:
        if (self.goal == "target") != (self.target is not None):
            raise ValueError(
                "goal 'target' needs a `target` value, and only goal 'target' takes one"
            )
        return self

    def score(self, value: float) -> float:
        """How good ``value`` is, larger better: the value, its negative, or minus the
        distance to the target."""
        if self.goal == "maximize":
            return value
        if self.goal == "minimize":
            return -value
        assert self.target is not None
        return -abs(value - self.target)


class Outcome(_Section):
    """A quantity the instrument reports that is not optimised (e.g. for a constraint)."""

    name: Identifier
    unit: str | None = None
    noise_free: bool = Field(
        False,
        description=(
            "Measurements of this quantity are exact (a deterministic simulation or "
            "calculation): the model passes through them instead of estimating a noise level."
        ),
    )


class Budget(_Section):
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


class StopRules(_Section):
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


class InitialDesign(_Section):
    """The space-filling experiments run before any model is fitted."""

    method: Literal["sobol"] = "sobol"
    n: PositiveInt | None = Field(
        None, description="Number of initial experiments; default max(5, parameters + 1)."
    )


class ProposerSettings(_Section):
    """How the next experiments are chosen."""

    initial: InitialDesign = InitialDesign()
    failures: Literal["avoid", "ignore"] = Field(
        "avoid",
        description=(
            "'avoid': the model counts a failed experiment as the worst result so far, so "
            "proposals move away from where the space fails; 'ignore': failures are left out "
            "(for failures that say nothing about the point, e.g. a flaky instrument)."
        ),
    )
    ucb_beta: Number = Field(
        2.0,
        gt=0,
        description=(
            "For screening: upper confidence bound mean + sqrt(beta) x standard deviation; "
            "larger explores more."
        ),
    )
    batch_size: PositiveInt = Field(1, description="Experiments proposed together (q).")
    num_restarts: PositiveInt = Field(10, description="Acquisition optimiser restarts.")
    raw_samples: PositiveInt = Field(512, description="Random points that seed the restarts.")


class DryRun(_Section):
    """What ``tansaku run --dry-run`` puts in place of the instrument."""

    simulator: SimulatorSpec


class Campaign(_Section):
    """One optimisation campaign: a space, a goal, a budget and an instrument."""

    name: CampaignName
    description: str | None = None
    seed: int = Field(
        0,
        description=(
            f"Seeds the initial design, the proposer and simulators: a whole number from 0 to "
            f"{MAX_SEED}."
        ),
    )
    budget: Budget
    stop: StopRules = StopRules()
    space: Annotated[list[Parameter], Field(min_length=1)]
    prior_data: PriorDataSpec | None = Field(
        None,
        description=(
            "A CSV of earlier measurements (every parameter and measured quantity per row) "
            "that the model learns from; they shorten the initial design and do not count "
            "against the budget."
        ),
    )
    candidates: CandidatesSpec | None = Field(
        None, description="A CSV of candidate rows to choose from instead of a continuous search."
    )
    purpose: Literal["optimize", "screen"] | None = Field(
        None,
        description=(
            "'optimize' looks for the single best experiment (noisy expected improvement); "
            "'screen' for as many good ones as possible (upper confidence bound). "
            "Default: screen with candidates, optimize otherwise."
        ),
    )
    mixtures: list[Mixture] = Field(
        default_factory=list,
        description="Groups of continuous parameters whose values add up to a total.",
    )
    constraints: list[str] = Field(
        default_factory=list,
        description="Linear constraints on numeric parameters, e.g. 'temp + 2 * minutes <= 400'.",
    )
    objectives: Annotated[list[Objective], Field(min_length=1)] = Field(
        description="What is measured and optimised; several make a multi-objective campaign."
    )
    outcomes: list[Outcome] = Field(
        default_factory=list,
        description="Other quantities the instrument reports, e.g. for outcome constraints.",
    )
    outcome_constraints: list[str] = Field(
        default_factory=list,
        description="Bounds on measured quantities, e.g. 'stability >= 0.8'.",
    )
    proposer: ProposerSettings = ProposerSettings()
    driver: DriverConfig = Field(
        description=(
            "The instrument: `type` picks the driver, whose own model checks the other keys "
            "(see campaign_model_for)."
        )
    )
    dry_run: DryRun | None = None
    run_dir: Path | None = Field(
        None, description="Where the ledger and logs go, relative to the campaign file."
    )

    @field_validator("seed")
    @classmethod
    def _seed_in_range(cls, seed: int) -> int:
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(
                f"the seed must be a whole number from 0 to {MAX_SEED} (2**32 - 1), the range "
                "numpy's and torch's random generators take"
            )
        return seed

    @field_validator("space")
    @classmethod
    def _distinct_names(cls, space: list[Parameter]) -> list[Parameter]:
        names = [parameter.name for parameter in space]
        repeated = _repeated(names)
        if repeated:
            raise ValueError(f"parameter names must be distinct; repeated: {', '.join(repeated)}")
        return space

    @field_validator("mixtures")
    @classmethod
    def _mixtures_can_reach_their_totals(
        cls, mixtures: list[Mixture], info: ValidationInfo
    ) -> list[Mixture]:
        if "space" not in info.data:
            return mixtures  # the space has its own errors; these would only echo them
        space = {p.name: p for p in info.data["space"]}
        seen: set[str] = set()
        for number, mixture in enumerate(mixtures, start=1):
            where = f"mixture {number} ({', '.join(mixture.components)})"
            for name in mixture.components:
                parameter = space.get(name)
                if not isinstance(parameter, ContinuousParameter) or parameter.log_scale:
                    raise ValueError(
                        f"{where}: {name!r} must be a continuous parameter on a linear scale"
                    )
                if name in seen:
                    raise ValueError(f"{where}: {name!r} is in more than one mixture or twice")
                seen.add(name)
            low, high = _reachable(mixture.components, space)
            if not low - 1e-9 <= mixture.total <= high + 1e-9:
                raise ValueError(
                    f"{where}: the components' bounds add up to [{low:g}, {high:g}], which "
                    f"cannot reach the total {mixture.total:g}"
                )
        return mixtures

    @field_validator("constraints")
    @classmethod
    def _constraints_are_linear_and_satisfiable(
        cls, constraints: list[str], info: ValidationInfo
    ) -> list[str]:
        from tansaku.campaign.constraints import check_constraints

        if "space" in info.data:
            check_constraints(constraints, info.data["space"], info.data.get("mixtures", []))
        return constraints

    @field_validator("objectives")
    @classmethod
    def _not_a_parameter(
        cls,
        objectives: list[Objective],
        info: ValidationInfo,
    ) -> list[Objective]:
        parameters = {parameter.name for parameter in info.data.get("space", [])}
        clash = sorted({objective.name for objective in objectives} & parameters)
        if clash:
            raise ValueError(f"{', '.join(clash)} is both a parameter and an objective")
        names = [objective.name for objective in objectives]
        repeated = _repeated(names)
        if repeated:
            raise ValueError(f"objective names must be distinct; repeated: {', '.join(repeated)}")
        return objectives

    @field_validator("outcomes")
    @classmethod
    def _outcomes_are_new_names(
        cls, outcomes: list[Outcome], info: ValidationInfo
    ) -> list[Outcome]:
        taken = {p.name for p in info.data.get("space", [])}
        taken |= {o.name for o in info.data.get("objectives", [])}
        names = [outcome.name for outcome in outcomes]
        clash = sorted({name for name in names if name in taken} | set(_repeated(names)))
        if clash:
            raise ValueError(
                f"{', '.join(clash)}: an outcome needs a name no parameter, objective or other "
                "outcome has"
            )
        return outcomes

    @field_validator("outcome_constraints")
    @classmethod
    def _constraints_name_measured_quantities(
        cls, constraints: list[str], info: ValidationInfo
    ) -> list[str]:
        from tansaku.campaign.expressions import ExpressionError, parse_outcome_constraint

        measured = [o.name for o in info.data.get("objectives", [])]
        measured += [o.name for o in info.data.get("outcomes", [])]
        for number, text in enumerate(constraints, start=1):
            try:
                parse_outcome_constraint(text, measured)
            except ExpressionError as error:
                raise ValueError(
                    f"outcome constraint {number}: {error} (declare a quantity that is not an "
                    "objective under `outcomes:`)"
                ) from None
        return constraints

    @model_validator(mode="after")
    def _pool_or_constraints(self) -> Campaign:
        if self.candidates is not None and (self.mixtures or self.constraints):
            raise ValueError(
                "a candidate pool lists its feasible points itself: drop `mixtures` and "
                "`constraints`, or remove the rows that break them from the pool"
            )
        return self

    @property
    def effective_purpose(self) -> Literal["optimize", "screen"]:
        """What the campaign is for: as declared, else screening for candidate pools."""
        if self.purpose is not None:
            return self.purpose
        return "screen" if self.candidates is not None else "optimize"

    @model_validator(mode="after")
    def _one_way_to_parallelise(self) -> Campaign:
        if self.driver.slots > 1 and self.proposer.batch_size > 1:
            raise ValueError(
                f"proposer.batch_size {self.proposer.batch_size} with driver.slots "
                f"{self.driver.slots}: with parallel slots every free slot gets its own "
                "proposal as soon as it frees up; remove batch_size"
            )
        return self

    @model_validator(mode="after")
    def _stop_rules_need_one_objective(self) -> Campaign:
        rules = self.stop
        if len(self.objectives) > 1 and (rules.objective_reaches or rules.no_improvement_for):
            raise ValueError(
                "stop.objective_reaches and stop.no_improvement_for need a single objective; "
                "a multi-objective campaign stops on its budget or deadline"
            )
        return self

    @model_validator(mode="after")
    def _noise_free_all_or_none(self) -> Campaign:
        modelled = self.modelled_quantities
        quantities = [q for q in [*self.objectives, *self.outcomes] if q.name in modelled]
        exact = [q.name for q in quantities if q.noise_free]
        if exact and len(exact) < len(quantities):
            noisy = [q.name for q in quantities if not q.noise_free]
            raise ValueError(
                f"noise_free is set on {', '.join(exact)} but not on {', '.join(noisy)}: one "
                "model fits them together, so set it on all of them or on none"
            )
        return self

    @property
    def modelled_quantities(self) -> list[str]:
        """What the model fits: the objectives, then the other quantities that outcome
        constraints name."""
        names = [o.name for o in self.objectives]
        names += [c.name for c in self.parsed_outcome_constraints() if c.name not in names]
        return names

    @property
    def noise_free(self) -> bool:
        """Whether every quantity the model fits is exact (see ``Objective.noise_free``)."""
        modelled = self.modelled_quantities
        return all(q.noise_free for q in [*self.objectives, *self.outcomes] if q.name in modelled)

    @property
    def objective(self) -> Objective:
        """The campaign's first objective: the only one of a single-objective campaign."""
        return self.objectives[0]

    @property
    def measured(self) -> list[str]:
        """Every quantity the instrument must report: objectives, then other outcomes."""
        return [o.name for o in self.objectives] + [o.name for o in self.outcomes]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def parsed_outcome_constraints(self) -> list[OutcomeConstraint]:
        from tansaku.campaign.expressions import parse_outcome_constraint

        return [parse_outcome_constraint(text, self.measured) for text in self.outcome_constraints]

    @property
    def initial_size(self) -> int:
        """How many Sobol experiments open the campaign (never more than the budget).

        The default, max(5, parameters + 1), is smaller than the common 2 x parameters:
        with BoTorch's dimension-scaled priors the model is useful early, and every
        experiment not spent on the space-filling start goes to the model
        (benchmarks/RESULTS.md measures both on Hartmann6).
        """
        default = max(5, len(self.space) + 1)
        return min(self.proposer.initial.n or default, self.budget.experiments)


def _reachable(names: list[str], space: dict[str, Parameter]) -> tuple[float, float]:
    """The smallest and largest sum the named parameters can take within their bounds."""
    lows, highs = [], []
    for name in names:
        parameter = space[name]
        assert isinstance(parameter, ContinuousParameter)
        if parameter.fixed is not None:
            lows.append(parameter.fixed)
            highs.append(parameter.fixed)
        else:
            lows.append(parameter.bounds[0])
            highs.append(parameter.bounds[1])
    return sum(lows), sum(highs)


@cache
def campaign_model_for(driver_config: type[DriverConfig]) -> type[Campaign]:
    """The campaign schema whose ``driver`` section is checked by ``driver_config``."""
    return create_model(
        f"Campaign[{driver_config.__name__}]",
        __base__=Campaign,
        driver=(driver_config, Field(description=Campaign.model_fields["driver"].description)),
    )
