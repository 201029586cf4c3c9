"""The ``proposer:`` section: how the next experiments are chosen."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from tansaku.campaign.fields import Number, Section


class InitialDesign(Section):
    """The space-filling experiments run before any model is fitted."""

    method: Literal["sobol"] = "sobol"
    n: PositiveInt | None = Field(
        None, description="Number of initial experiments; default max(5, parameters + 1)."
    )


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
    batch_size: PositiveInt = Field(1, description="Experiments proposed together (q).")
    num_restarts: PositiveInt = Field(10, description="Acquisition optimiser restarts.")
    raw_samples: PositiveInt = Field(512, description="Random points that seed the restarts.")
