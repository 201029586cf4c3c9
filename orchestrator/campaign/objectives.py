"""What a campaign measures: the objectives it optimises and the other outcomes it reads."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from tansaku.campaign.fields import Identifier, Number, Section

NoiseFree = Annotated[
    bool,
    Field(
        description=(
            "Measurements of this quantity are exact (a deterministic simulation or "
            "calculation): the model passes through them instead of estimating a noise level."
        ),
    ),
]


class Objective(Section):
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
    noise_free: NoiseFree = False

    @model_validator(mode="after")
    def _target_with_its_goal(self) -> Objective:
        if (self.goal == "target") != (self.target is not None):
            raise ValueError(
                "goal 'target' needs a `target` value, and only goal 'target' takes one"
            )
        return self

    def score(self, value: float) -> float:
        """How good ``value`` is, larger better.

        Args:
            value: A measurement of this objective.

        Returns:
            The value when maximising, its negative when minimising, and minus its
            distance to the target with a target.
        """
        if self.goal == "maximize":
            return value
        if self.goal == "minimize":
            return -value
        assert self.target is not None
        return -abs(value - self.target)


class Outcome(Section):
    """A quantity the instrument reports that is not optimised (e.g. for a constraint)."""

    name: Identifier
    unit: str | None = None
    noise_free: NoiseFree = False
