"""Several objectives and outcome constraints: what the model predicts and how it is scored.

The model predicts the measured values themselves (one output per objective, plus one per
quantity an outcome constraint bounds); an MC objective then turns posterior samples into
scores, larger better (a value, its negative, or minus the distance to a target), and
outcome constraints act on the predicted values. BoTorch's convention for a constraint
callable is feasible where it is <= 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective.logei import (
    qLogNoisyExpectedHypervolumeImprovement,
)
from botorch.acquisition.multi_objective.objective import GenericMCMultiOutputObjective
from botorch.acquisition.objective import GenericMCObjective
from botorch.models.model import Model
from botorch.utils.multi_objective.hypervolume import infer_reference_point
from botorch.utils.multi_objective.pareto import is_non_dominated

from tansaku.campaign.objectives import Objective
from tansaku.campaign.schema import Campaign


@dataclass(frozen=True)
class OutcomeModel:
    """Which measured quantities the model predicts, in column order, and how to score them."""

    columns: list[str]
    objectives: list[Objective]
    constraints: list[Callable[[torch.Tensor], torch.Tensor]]

    def scores(self, values: torch.Tensor) -> torch.Tensor:
        """``... x m`` predicted values → ``... x k`` objective scores, larger better."""
        return torch.stack(
            [
                _score(objective, values[..., self.columns.index(objective.name)])
                for objective in self.objectives
            ],
            dim=-1,
        )


def outcome_model(campaign: Campaign) -> OutcomeModel:
    """The columns a multi-objective or outcome-constrained campaign models."""
    constraints = campaign.parsed_outcome_constraints()
    columns = campaign.modelled_quantities
    callables = []
    for constraint in constraints:
        index, bound = columns.index(constraint.name), constraint.bound
        # "x >= b" is feasible where b - x <= 0; "x <= b" where x - b <= 0.
        sign = -1.0 if constraint.sense == ">=" else 1.0
        callables.append(_bound(index, bound, sign))
    return OutcomeModel(columns, list(campaign.objectives), callables)


def impute_failures(outcomes: OutcomeModel, observed: torch.Tensor, failed: int) -> torch.Tensor:
    """Rows for ``failed`` experiments: each column at its worst observed value.

    Objectives take the value with the lowest score; constrained quantities the value
    farthest on the infeasible side, so the model learns that the region fails.
    """
    worst = []
    for column, name in enumerate(outcomes.columns):
        values = observed[:, column]
        objective = next((o for o in outcomes.objectives if o.name == name), None)
        if objective is not None:
            worst.append(values[_score(objective, values).argmin()])
        else:
            violation = torch.stack([c(observed) for c in outcomes.constraints], dim=-1).amax(-1)
            worst.append(values[violation.argmax()])
    return torch.stack(worst).expand(failed, -1)


def build_outcome_acquisition(
    campaign: Campaign,
    outcomes: OutcomeModel,
    model: Model,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    x_pending: torch.Tensor | None,
) -> AcquisitionFunction:
    """qLogNEHVI for several objectives, constrained qLogNEI for one."""
    constraints = outcomes.constraints or None
    if len(outcomes.objectives) == 1:
        objective = GenericMCObjective(lambda samples, X=None: outcomes.scores(samples)[..., 0])
        return qLogNoisyExpectedImprovement(
            model,
            X_baseline=train_x,
            objective=objective,
            constraints=constraints,
            X_pending=x_pending,
            prune_baseline=True,
        )
    return qLogNoisyExpectedHypervolumeImprovement(
        model,
        ref_point=reference_point(outcomes, train_y),
        X_baseline=train_x,
        objective=GenericMCMultiOutputObjective(lambda samples, X=None: outcomes.scores(samples)),
        constraints=constraints,
        X_pending=x_pending,
        prune_baseline=True,
    )


def reference_point(outcomes: OutcomeModel, train_y: torch.Tensor) -> torch.Tensor:
    """The hypervolume's reference point in score units: from each objective's threshold,
    else inferred from the observed Pareto front (BoTorch's ``infer_reference_point``)."""
    scores = outcomes.scores(train_y)
    inferred = infer_reference_point(scores[is_non_dominated(scores)])
    given = [_threshold_score(o) for o in outcomes.objectives]
    return torch.tensor(
        [g if g is not None else float(i) for g, i in zip(given, inferred, strict=True)],
        dtype=train_y.dtype,
    )


def _score(objective: Objective, values: torch.Tensor) -> torch.Tensor:
    if objective.goal == "maximize":
        return values
    if objective.goal == "minimize":
        return -values
    assert objective.target is not None
    return -(values - objective.target).abs()


def _threshold_score(objective: Objective) -> float | None:
    if objective.threshold is None:
        return None
    return objective.threshold if objective.goal == "maximize" else -objective.threshold


def _bound(index: int, bound: float, sign: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda samples: sign * (samples[..., index] - bound)
