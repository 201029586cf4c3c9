"""The ``proposer:`` section: how the next experiments are chosen."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt, model_validator

from tansaku.campaign.fields import Number, Section


class InitialDesign(Section):
    """The space-filling experiments run before any model is fitted."""

    method: Literal["sobol"] = "sobol"
    n: PositiveInt | None = Field(
        None, description="Number of initial experiments; default max(5, parameters + 1)."
    )


Xi = Annotated[
    Number,
    Field(
        ge=0,
        description=(
            "The margin xi an improvement must beat the best result by, in standard "
            "deviations of the results so far (the model's standardised units); larger "
            "explores more. 0.01 is the textbook's value."
        ),
    ),
]


class ExpectedImprovement(Section):
    """Textbook expected improvement, (mu - f_best - xi) Phi(z) + sigma phi(z), with
    z = (mu - f_best - xi) / sigma; maximised as its logarithm."""

    type: Literal["ei"]
    xi: Xi = 0.0


class LogExpectedImprovement(Section):
    """BoTorch's Monte-Carlo log expected improvement over the best result plus xi, qLogEI."""

    type: Literal["logei"]
    xi: Xi = 0.0


class NoisyExpectedImprovement(Section):
    """Noisy log expected improvement, qLogNEI: the default for ``purpose: optimize``."""

    type: Literal["nei"]


class ProbabilityOfImprovement(Section):
    """Probability of improvement, Phi((mu - f_best - xi) / sigma)."""

    type: Literal["pi"]
    xi: Xi = 0.0


class UpperConfidenceBound(Section):
    """mu + sqrt(beta) sigma: the default for ``purpose: screen``, with beta 2."""

    type: Literal["ucb"]
    beta: Number = Field(
        2.0, gt=0, description="Upper confidence bound mean + sqrt(beta) x standard deviation."
    )


class ThompsonSampling(Section):
    """Each experiment maximises one sample of the model's posterior."""

    type: Literal["thompson"]


Acquisition = Annotated[
    ExpectedImprovement
    | LogExpectedImprovement
    | NoisyExpectedImprovement
    | ProbabilityOfImprovement
    | UpperConfidenceBound
    | ThompsonSampling,
    Field(discriminator="type"),
]


class ProposerSettings(Section):
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
    acquisition: Acquisition | None = Field(
        None,
        description=(
            "How a model-based proposal is chosen: type nei, ei, logei, pi, ucb or thompson. "
            "Default: nei for purpose optimize, ucb with beta ucb_beta for screen."
        ),
    )
    batch_size: PositiveInt = Field(1, description="Experiments proposed together (q).")
    num_restarts: PositiveInt = Field(10, description="Acquisition optimiser restarts.")
    raw_samples: PositiveInt = Field(512, description="Random points that seed the restarts.")

    def acquisition_for(self, purpose: str) -> Acquisition:
        """The acquisition a model-based proposal maximises: as given, else the purpose's
        default (``nei`` to optimise, ``ucb`` with beta ``ucb_beta`` to screen)."""
        if self.acquisition is not None:
            return self.acquisition
        if purpose == "screen":
            return UpperConfidenceBound(type="ucb", beta=self.ucb_beta)
        return NoisyExpectedImprovement(type="nei")

    @model_validator(mode="after")
    def _one_beta(self) -> ProposerSettings:
        if self.acquisition is not None and "ucb_beta" in self.model_fields_set:
            raise ValueError(
                "ucb_beta sets the screening default's beta and `acquisition` replaces that "
                "default: remove ucb_beta (write `acquisition: {type: ucb, beta: ...}` for an "
                "upper confidence bound)"
            )
        return self


def check_acquisition_applies(
    acquisition: Acquisition | None, purpose: str, objectives: int, outcome_constraints: int
) -> None:
    """Refuse an acquisition that the campaign would not use.

    ``purpose: learn`` chooses where the model is least sure instead. Multi-objective and
    outcome-constrained campaigns maximise noisy expected (hypervolume) improvement, which
    weighs each candidate by its predicted chance of meeting the outcome constraints;
    only ``nei`` names it.

    Args:
        acquisition: The ``proposer.acquisition`` given, if any.
        purpose: What the campaign is for (``Campaign.effective_purpose``).
        objectives: How many objectives the campaign has.
        outcome_constraints: How many outcome constraints it has.

    Raises:
        ValueError: for any acquisition with ``learn``; for any type other than ``nei``
            with several objectives or outcome constraints.
    """
    if acquisition is not None and purpose == "learn":
        raise ValueError(
            "purpose learn chooses where the model is least sure of the objective, so "
            "proposer.acquisition would not be used: remove it, or use purpose optimize or "
            "screen"
        )
    if acquisition is None or acquisition.type == "nei":
        return
    if objectives > 1:
        why = "several objectives"
    elif outcome_constraints:
        why = "outcome constraints"
    else:
        return
    raise ValueError(
        f"acquisition {acquisition.type!r} applies to one unconstrained objective; with {why} "
        "the proposer maximises noisy expected (hypervolume) improvement: remove "
        "proposer.acquisition or write `acquisition: {type: nei}`"
    )
