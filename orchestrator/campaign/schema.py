"""The campaign file's schema: the campaign and the rules that relate its sections.

Each section has a module of its own (parameters, objectives, budget, proposer_settings,
dry_run); validating a campaign imports pydantic and the driver protocol, never a driver,
torch or Prefect.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from tansaku.campaign.budget import Budget, StopRules
from tansaku.campaign.candidates import CandidatesSpec
from tansaku.campaign.constraints import check_constraints
from tansaku.campaign.dry_run import DryRun
from tansaku.campaign.expressions import (
    ExpressionError,
    OutcomeConstraint,
    parse_outcome_constraint,
)
from tansaku.campaign.fidelities import (
    Fidelities,
    check_budget_counts_cost,
    check_fidelities,
    cost_budget_in_experiments,
)
from tansaku.campaign.fields import Section, distinct_names, repeated
from tansaku.campaign.model_settings import ModelSettings, check_prior_mean_applies
from tansaku.campaign.objectives import Objective, Outcome
from tansaku.campaign.parameters import Mixture, Parameter, check_mixtures
from tansaku.campaign.prior import PriorDataSpec
from tansaku.campaign.proposer_settings import ProposerSettings, check_acquisition_applies
from tansaku.campaign.transfer import TransferSource
from tansaku.drivers.base import DriverConfig

CampaignName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64),
    Field(description="Letters, digits, '.', '_' and '-'; it names files and Prefect runs."),
]

MAX_SEED = 2**32 - 1
"""numpy's and torch's generators both take seeds from 0 to 2**32 - 1."""


class Campaign(Section):
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
    space: Annotated[list[Parameter], Field(min_length=1), distinct_names("parameter names")]
    prior_data: PriorDataSpec | None = Field(
        None,
        description=(
            "A CSV of earlier measurements (every parameter and measured quantity per row) "
            "that the model learns from; they shorten the initial design and do not count "
            "against the budget."
        ),
    )
    transfer_from: list[TransferSource] = Field(
        default_factory=list,
        description=(
            "CSVs of measurements of other chemical systems (other elements), which the "
            "model learns from through the element mixture's element features, each as a "
            "related task whose correlation with this campaign it fits."
        ),
    )
    candidates: CandidatesSpec | None = Field(
        None, description="A CSV of candidate rows to choose from instead of a continuous search."
    )
    purpose: Literal["optimize", "screen", "learn"] | None = Field(
        None,
        description=(
            "'optimize' looks for the single best experiment (noisy expected improvement); "
            "'screen' for as many good ones as possible (upper confidence bound); 'learn' "
            "maps the objective over the whole space (integrated posterior variance). "
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
    objectives: Annotated[
        list[Objective], Field(min_length=1), distinct_names("objective names")
    ] = Field(
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
    model: ModelSettings = Field(
        ModelSettings(),
        description=(
            "What the model knows before any experiment: `prior_mean`, a function of the "
            "parameters that gives the objective's trend."
        ),
    )
    driver: DriverConfig = Field(
        description=(
            "The instrument: `type` picks the driver, whose own model checks the other keys "
            "(see campaign_model_for)."
        )
    )
    dry_run: DryRun | None = None
    fidelities: Fidelities | None = Field(
        None,
        description=(
            "Sources of the objective at different costs, e.g. {simulation: {cost: 1, "
            "driver: ...}, experiment: {cost: 20}}: the dearest is the truth, on `driver:`."
        ),
    )
    run_dir: Path | None = Field(
        None, description="Where the ledger and logs go, relative to the campaign file."
    )
    ledger: str | None = Field(
        None,
        description=(
            "A shared ledger, postgresql://user@host:5432/database, in place of the SQLite "
            "file in the run directory. Keep the password out of the file: PGPASSWORD, "
            "~/.pgpass or TANSAKU_LEDGER give it."
        ),
    )

    @field_validator("ledger")
    @classmethod
    def _ledger_is_postgresql(cls, ledger: str | None) -> str | None:
        # Only the form is checked here: validating a campaign opens no connection;
        # `tansaku run` reports a database that refuses.
        if ledger is None:
            return None
        from tansaku.database_url import DatabaseUrlError, parse_postgres_url, password_in

        try:
            parse_postgres_url(ledger)
        except DatabaseUrlError as error:
            raise ValueError(
                f"{error} (leave `ledger` out for the SQLite ledger in the run directory)"
            ) from None
        if password_in(ledger):
            raise ValueError(
                "the ledger URL holds a password, which a campaign file would share with "
                "everyone who reads it; remove it and give it with PGPASSWORD, ~/.pgpass or "
                "TANSAKU_LEDGER"
            )
        return ledger.strip()

    @field_validator("seed")
    @classmethod
    def _seed_in_range(cls, seed: int) -> int:
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(
                f"the seed must be a whole number from 0 to {MAX_SEED} (2**32 - 1), the range "
                "numpy's and torch's random generators take"
            )
        return seed

    @model_validator(mode="before")
    @classmethod
    def _budget_in_cost_units(cls, data: Any) -> Any:
        return cost_budget_in_experiments(data)

    @model_validator(mode="after")
    def _sections_agree(self) -> Campaign:
        # One validator runs every rule, so a file that breaks several hears of all of
        # them, each placed on the field at fault rather than on the whole campaign.
        errors: list[InitErrorDetails] = []
        for field, rule in _SECTION_RULES:
            try:
                rule(self)
            except ValueError as error:
                errors.append(
                    InitErrorDetails(
                        type="value_error",
                        loc=(field,),
                        input=getattr(self, field),
                        ctx={"error": error},
                    )
                )
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @model_validator(mode="after")
    def _pool_or_constraints(self) -> Campaign:
        # A mixture may stand beside a pool, to say which components are elements; the
        # pool's rows are checked against its total when the pool is read.
        if self.candidates is not None and self.constraints:
            raise ValueError(
                "a candidate pool lists its feasible points itself: drop `constraints`, or "
                "remove the rows that break them from the pool"
            )
        return self

    @property
    def effective_purpose(self) -> Literal["optimize", "screen", "learn"]:
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
        exact = [q.name for q in quantities if q.noise_free is True]
        if exact and len(exact) < len(quantities):
            noisy = [q.name for q in quantities if q.noise_free is not True]
            raise ValueError(
                f"noise_free is set on {', '.join(exact)} but not on {', '.join(noisy)}: one "
                "model fits them together, so set it on all of them or on none"
            )
        return self

    @property
    def element_mixture(self) -> Mixture | None:
        """The first mixture whose components are chemical elements, if any."""
        return next((m for m in self.mixtures if m.elements is not None), None)

    @property
    def modelled_quantities(self) -> list[str]:
        """What the model fits: the objectives, then the other quantities that outcome
        constraints name."""
        names = [o.name for o in self.objectives]
        names += [c.name for c in self.parsed_outcome_constraints() if c.name not in names]
        return names

    @property
    def noise_free(self) -> bool | None:
        """Whether the quantities the model fits are exact (``True``: all are), noisy
        (``False``: one is said to be) or to be decided from the data (``None``: none says);
        see ``Objective.noise_free``."""
        modelled = self.modelled_quantities
        said = {q.noise_free for q in [*self.objectives, *self.outcomes] if q.name in modelled}
        return False if False in said else True if said == {True} else None

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
        """Whether the campaign optimises more than one objective."""
        return len(self.objectives) > 1

    def parsed_outcome_constraints(self) -> list[OutcomeConstraint]:
        """The ``outcome_constraints:`` entries, parsed.

        Returns:
            One bound on a measured quantity per entry, in the file's order.
        """
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


def _mixtures_reach_their_totals(campaign: Campaign) -> None:
    check_mixtures(campaign.mixtures, campaign.space)


def _constraints_are_linear_and_satisfiable(campaign: Campaign) -> None:
    check_constraints(campaign.constraints, campaign.space, campaign.mixtures)


def _objectives_are_not_parameters(campaign: Campaign) -> None:
    parameters = {parameter.name for parameter in campaign.space}
    clash = sorted({objective.name for objective in campaign.objectives} & parameters)
    if clash:
        raise ValueError(f"{', '.join(clash)} is both a parameter and an objective")


def _outcomes_are_new_names(campaign: Campaign) -> None:
    taken = {p.name for p in campaign.space} | {o.name for o in campaign.objectives}
    names = [outcome.name for outcome in campaign.outcomes]
    clash = sorted({name for name in names if name in taken} | set(repeated(names)))
    if clash:
        raise ValueError(
            f"{', '.join(clash)}: an outcome needs a name no parameter, objective or other "
            "outcome has"
        )


def _outcome_constraints_name_measured_quantities(campaign: Campaign) -> None:
    for number, text in enumerate(campaign.outcome_constraints, start=1):
        try:
            parse_outcome_constraint(text, campaign.measured)
        except ExpressionError as error:
            raise ValueError(
                f"outcome constraint {number}: {error} (declare a quantity that is not an "
                "objective under `outcomes:`)"
            ) from None


def _acquisition_fits_the_objectives(campaign: Campaign) -> None:
    check_acquisition_applies(
        campaign.proposer.acquisition,
        campaign.effective_purpose,
        len(campaign.objectives),
        len(campaign.outcome_constraints),
    )


def _learning_maps_one_objective(campaign: Campaign) -> None:
    if campaign.purpose != "learn":
        return
    if "ucb_beta" in campaign.proposer.model_fields_set:
        raise ValueError(
            "purpose learn chooses where the model is least sure of the objective, so "
            "proposer.ucb_beta (the screening acquisition's exploration) would not be used: "
            "remove it, or use purpose screen"
        )
    if campaign.multi_objective:
        raise ValueError(
            "purpose learn maps a single objective: keep one objective (a campaign each to "
            "map several), or use purpose optimize for a Pareto front"
        )
    if campaign.objective.goal == "target":
        raise ValueError(
            "purpose learn maps the objective over the whole space and approaches no target: "
            "give the objective goal maximize or minimize, or use purpose optimize to reach "
            "the target"
        )
    if campaign.outcome_constraints:
        raise ValueError(
            "purpose learn maps the whole space, feasible or not, so outcome constraints "
            "would not change it: remove outcome_constraints, or use purpose optimize"
        )


def _uncertainty_rule_needs_learning(campaign: Campaign) -> None:
    if campaign.stop.uncertainty_below is not None and campaign.effective_purpose != "learn":
        raise ValueError(
            "stop.uncertainty_below needs purpose learn, whose proposals measure the model's "
            "uncertainty over the space: add `purpose: learn` or remove the rule"
        )


def _transfer_goes_through_elements(campaign: Campaign) -> None:
    if not campaign.transfer_from:
        return
    element_mixtures = [m for m in campaign.mixtures if m.elements is not None]
    if len(element_mixtures) != 1:
        raise ValueError(
            "transfer_from reaches this campaign through the element features of its element "
            "mixture: give exactly one mixture `elements:` (this campaign has "
            f"{len(element_mixtures)})"
        )
    if campaign.multi_objective or campaign.outcome_constraints:
        raise ValueError(
            "transfer_from supports one objective without outcome constraints; remove "
            "transfer_from or the other objectives and outcome constraints"
        )
    if campaign.model.prior_mean is not None:
        raise ValueError(
            "transfer_from and model.prior_mean both tell the model what to expect before "
            "any experiment; use one of them"
        )


_SECTION_RULES: tuple[tuple[str, Callable[[Campaign], None]], ...] = (
    ("mixtures", _mixtures_reach_their_totals),
    ("constraints", _constraints_are_linear_and_satisfiable),
    ("objectives", _objectives_are_not_parameters),
    ("outcomes", _outcomes_are_new_names),
    ("outcome_constraints", _outcome_constraints_name_measured_quantities),
    ("purpose", _learning_maps_one_objective),
    ("stop", _uncertainty_rule_needs_learning),
    ("proposer", _acquisition_fits_the_objectives),
    ("model", check_prior_mean_applies),
    ("fidelities", check_fidelities),
    ("budget", check_budget_counts_cost),
    ("transfer_from", _transfer_goes_through_elements),
)
"""Rules that relate a field to others, each with the field its problems are placed on."""


@cache
def campaign_model_for(
    driver_config: type[DriverConfig], dry_run: type[DryRun] = DryRun
) -> type[Campaign]:
    """The campaign schema that checks the ``driver:`` and ``dry_run:`` sections with given models.

    Args:
        driver_config: The config model of the driver the campaign names.
        dry_run: The ``dry_run:`` section's model (see
            :func:`~tansaku.campaign.dry_run.dry_run_model_for`).

    Returns:
        A subclass of :class:`Campaign` with those two fields.
    """
    return create_model(
        f"Campaign[{driver_config.__name__}]",
        __base__=Campaign,
        driver=(driver_config, Field(description=Campaign.model_fields["driver"].description)),
        dry_run=(dry_run | None, None),
    )
