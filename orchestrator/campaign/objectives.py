"""What a campaign measures: the objectives it optimises and the other outcomes it reads."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails

from tansaku.campaign.fields import Identifier, Number, Section, shown

NoiseFree = Annotated[
    bool | None,
    Field(
        description=(
            "true: measurements of this quantity are exact (a deterministic simulation or "
            "calculation), and the model passes through them; false: they are noisy, and "
            "the model estimates the noise level. Left out, the model decides from the data "
            "at each refit (proposer/noise.py)."
        ),
    ),
]


def _low_below_high(valid: tuple[float, float]) -> tuple[float, float]:
    low, high = valid
    if low >= high:
        raise ValueError(
            f"valid range [{shown(low)}, {shown(high)}]: the low end {shown(low)} must be "
            f"below the high end {shown(high)}"
        )
    return valid


ValidRange = Annotated[tuple[Number, Number], AfterValidator(_low_below_high)]

VALID_HELP = (
    "The range a real reading lies in (e.g. [0, 1] for a yield fraction); a value outside it "
    "is refused when a person enters it and recorded as a failure when an instrument returns it."
)


def _exactly(value: float) -> str:
    # %g rounds to six digits, which would show 1.0000001 as 1 beside a range ending at 1.
    text = shown(value)
    return text if float(text) == value else repr(value)


class Measured(Section):
    """What objectives and outcomes share: a name, a unit, exactness and a valid range."""

    name: Identifier
    unit: str | None = None
    noise_free: NoiseFree = None
    valid: ValidRange | None = Field(None, description=VALID_HELP)

    def valid_range(self) -> str:
        """The valid range as the file gives it, with the unit: ``[0, 5000] S/cm``."""
        assert self.valid is not None
        low, high = self.valid
        return f"[{shown(low)}, {shown(high)}]" + (f" {self.unit}" if self.unit else "")

    def outside_valid(self, value: float) -> str | None:
        """Why ``value`` cannot be a real reading of this quantity, if it cannot.

        Args:
            value: A reading, from an instrument or a person.

        Returns:
            ``None`` when no range is declared or ``value`` lies within it (ends included),
            else one sentence: ``"conductivity = 9000 lies outside its valid range
            [0, 5000] S/cm"``.
        """
        if self.valid is None or self.valid[0] <= value <= self.valid[1]:
            return None
        return f"{self.name} = {_exactly(value)} lies outside its valid range {self.valid_range()}"


class Objective(Measured):
    """A quantity the instrument reads, and which way is better: up, down, or a set value."""

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

    @model_validator(mode="after")
    def _target_with_its_goal(self) -> Objective:
        if (self.goal == "target") != (self.target is not None):
            raise ValueError(
                "goal 'target' needs a `target` value, and only goal 'target' takes one"
            )
        return self

    @model_validator(mode="after")
    def _settings_within_valid(self) -> Objective:
        # Raised as a ValidationError so each problem is placed on its own key.
        errors = [
            InitErrorDetails(
                type="value_error",
                loc=(key,),
                input=value,
                ctx={
                    "error": ValueError(
                        f"{key} {_exactly(value)} lies outside the valid range "
                        f"{self.valid_range()}; it must be a value a real reading can take"
                    )
                },
            )
            for key, value in (("target", self.target), ("threshold", self.threshold))
            if value is not None and self.outside_valid(value) is not None
        ]
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
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


class Outcome(Measured):
    """A quantity the instrument reports that is not optimised (e.g. for a constraint)."""
