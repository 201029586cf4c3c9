"""Noisy log expected improvement, maximised over the (possibly mixed) space."""

from __future__ import annotations

import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models.model import Model
from botorch.optim import optimize_acqf
from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating

from orchestrator.proposer.constraints import EncodedConstraints
from orchestrator.proposer.encoding import SpaceEncoding


def optimize_log_nei(
    model: Model,
    train_x: torch.Tensor,
    bounds: torch.Tensor,
    q: int,
    encoding: SpaceEncoding,
    x_pending: torch.Tensor | None = None,
    num_restarts: int = 10,
    raw_samples: int = 512,
    constraints: EncodedConstraints | None = None,
) -> tuple[torch.Tensor, float]:
    """Maximise qLogNEI for a batch of ``q`` points.

    Args:
        model: the fitted surrogate.
        train_x: ``n x d`` encoded inputs observed so far (the baseline).
        bounds: ``2 x d`` bounds of the encoded space.
        q: batch size.
        encoding: says which columns are integer or categorical.
        x_pending: ``p x d`` points proposed but not yet measured.
        constraints: linear constraints over the encoded columns.

    Returns:
        The ``q x d`` encoded candidates and the batch's log acquisition value.
        Purely continuous spaces use ``optimize_acqf``; spaces with integer or
        categorical columns use ``optimize_acqf_mixed_alternating``, which searches
        those columns over their allowed values instead of enumerating every
        combination (``optimize_acqf_mixed``), so it scales to many categories.
    """
    acquisition = qLogNoisyExpectedImprovement(
        model, X_baseline=train_x, X_pending=x_pending, prune_baseline=True
    )
    fixed = encoding.fixed_columns
    discrete = {i: v for i, v in encoding.discrete_columns.items() if i not in fixed}
    categorical = {i: v for i, v in encoding.categorical_columns.items() if i not in fixed}
    linear = {
        "inequality_constraints": (constraints.inequalities or None) if constraints else None,
        "equality_constraints": (constraints.equalities or None) if constraints else None,
    }
    if discrete or categorical:
        candidates, _ = optimize_acqf_mixed_alternating(
            acquisition,
            bounds,
            discrete_dims=discrete or None,
            cat_dims=categorical or None,
            fixed_features=fixed or None,
            q=q,
            num_restarts=num_restarts,
            raw_samples=raw_samples,
            **linear,
        )
    else:
        candidates, _ = optimize_acqf(
            acquisition,
            bounds,
            q=q,
            num_restarts=num_restarts,
            raw_samples=raw_samples,
            fixed_features=fixed or None,
            **linear,
        )
    with torch.no_grad():
        value = float(acquisition(candidates.unsqueeze(0)).item())
    return candidates.detach(), value
