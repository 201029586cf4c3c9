"""The proposer: from the observations so far to the next experiments.

A plain object with no knowledge of Prefect, drivers or storage. It starts with a
scrambled Sobol design, then fits a GP and maximises noisy log expected improvement.
Given the same campaign, observations and warm start it returns the same proposals, so
a resumed campaign proposes what an uninterrupted one would have.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from drivers.base import ParameterValue
from orchestrator.campaign.constraints import campaign_constraints
from orchestrator.campaign.schema import Campaign
from orchestrator.proposer.encoding import SpaceEncoding

if TYPE_CHECKING:
    from torch.quasirandom import SobolEngine


@dataclass(frozen=True)
class Observation:
    """A finished experiment the model learns from: its parameters and objective value."""

    parameters: Mapping[str, ParameterValue]
    value: float


@dataclass(frozen=True)
class Proposal:
    """One experiment to run, and how it was chosen.

    ``details`` holds what the ledger keeps about the choice: the acquisition value, the
    model's hyperparameters and fit time for a model-based proposal, the Sobol index for
    an initial one. ``warm_start`` is what the next :meth:`Proposer.suggest` call may
    start its fit from.
    """

    parameters: dict[str, ParameterValue]
    method: Literal["sobol", "gp"]
    details: dict[str, Any] = field(default_factory=dict)
    warm_start: dict[str, Any] | None = None


class Proposer:
    """Chooses experiments for one campaign.

    Args:
        campaign: supplies the space, the goal, the seed and the proposer settings.
    """

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.encoding = SpaceEncoding(campaign.space)
        self.constraints = campaign_constraints(campaign)

    def suggest(
        self,
        n: int,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, ParameterValue]] = (),
        proposed_so_far: int = 0,
        warm_start: Mapping[str, Any] | None = None,
    ) -> list[Proposal]:
        """The next experiments, at most ``n`` of them.

        Args:
            n: how many experiments are wanted.
            observations: successful experiments (failed ones are left out).
            pending: parameters of experiments proposed but not yet measured; the
                acquisition accounts for them so they are not proposed again.
            proposed_so_far: experiments proposed so far in the campaign, failed ones
                included: it positions the Sobol sequence and seeds the optimiser.
            warm_start: ``Proposal.warm_start`` of the previous model-based proposal.

        Returns:
            Fewer than ``n`` proposals while the initial design finishes, so that the
            first model sees all of it.
        """
        started = time.perf_counter()
        initial_left = self.campaign.initial_size - proposed_so_far
        if initial_left > 0 or len(observations) < 2:
            proposals = self._sobol(
                n if initial_left <= 0 else min(n, initial_left), proposed_so_far
            )
        else:
            proposals = self._bayesian(n, observations, pending, proposed_so_far, warm_start)
        elapsed = round(time.perf_counter() - started, 4)
        for proposal in proposals:
            proposal.details["suggest_seconds"] = elapsed
        return proposals

    def _sobol(self, n: int, start: int) -> list[Proposal]:
        from torch.quasirandom import SobolEngine

        engine = SobolEngine(self.encoding.dim, scramble=True, seed=self.campaign.seed)
        if self.constraints:
            points = self._feasible_initial_points(engine, start, n)
        else:
            engine.fast_forward(start)
            points = [self.encoding.from_unit(r.tolist()) for r in engine.draw(n, dtype=_dtype())]
        return [
            Proposal(point, "sobol", {"sobol_index": start + i}) for i, point in enumerate(points)
        ]

    def _feasible_initial_points(
        self, engine: SobolEngine, start: int, n: int
    ) -> list[dict[str, ParameterValue]]:
        """The initial design inside the constraints: Sobol for the unconstrained columns,
        uniform samples of the constraints' polytope (hit-and-run) for the others.

        Samples are drawn in one seeded sequence so a resumed campaign gets the same
        design; after rounding integer or discrete columns, points that leave the
        constraints are skipped for the next ones in the sequence.
        """
        import torch
        from botorch.utils.sampling import get_polytope_samples

        from orchestrator.proposer.constraints import encode_constraints, satisfies

        encoding = self.encoding
        fixed = encoding.fixed_columns
        constrained = sorted(
            {encoding.column(name) for c in self.constraints for name in c.coefficients}
            - set(fixed)
        )
        bounds = torch.tensor([encoding.bounds[i] for i in constrained], dtype=_dtype()).T
        system = encode_constraints(self.constraints, encoding, _dtype(), constrained)
        pool_size = 4 * self.campaign.initial_size
        samples = get_polytope_samples(
            pool_size,
            bounds,
            inequality_constraints=system.inequalities or None,
            equality_constraints=system.equalities or None,
            seed=self.campaign.seed,
        )
        sobol = engine.draw(pool_size, dtype=_dtype())
        feasible = []
        for sample, unit in zip(samples.tolist(), sobol.tolist(), strict=True):
            row = encoding.encode(encoding.from_unit(unit))
            for column, value in zip(constrained, sample, strict=True):
                row[column] = value
            point = encoding.decode(row)
            if satisfies(point, self.constraints):
                feasible.append(point)
        if len(feasible) < start + n:
            raise RuntimeError(
                "could not draw an initial design inside the constraints; with integer or "
                "discrete parameters in a constraint, few rounded points may satisfy it"
            )
        return feasible[start : start + n]

    def _bayesian(
        self,
        n: int,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, ParameterValue]],
        proposed_so_far: int,
        warm_start: Mapping[str, Any] | None,
    ) -> list[Proposal]:
        import torch

        from orchestrator.proposer.acquisition import optimize_log_nei
        from orchestrator.proposer.constraints import encode_constraints
        from orchestrator.proposer.model import describe, fit_model, hyperparameters

        sign = 1.0 if self.campaign.objective.goal == "maximize" else -1.0
        train_x = torch.tensor(
            [self.encoding.encode(o.parameters) for o in observations], dtype=_dtype()
        )
        train_y = torch.tensor([[sign * o.value] for o in observations], dtype=_dtype())
        bounds = torch.tensor(self.encoding.bounds, dtype=_dtype()).T
        x_pending = (
            torch.tensor([self.encoding.encode(p) for p in pending], dtype=_dtype())
            if pending
            else None
        )
        with torch.random.fork_rng():
            torch.manual_seed(_mix(self.campaign.seed, proposed_so_far))
            started = time.perf_counter()
            model = fit_model(
                train_x, train_y, bounds, list(self.encoding.categorical_columns), warm_start
            )
            fitted = time.perf_counter()
            candidates, log_acquisition = optimize_log_nei(
                model,
                train_x,
                bounds,
                q=n,
                x_pending=x_pending,
                encoding=self.encoding,
                num_restarts=self.campaign.proposer.num_restarts,
                raw_samples=self.campaign.proposer.raw_samples,
                constraints=encode_constraints(self.constraints, self.encoding, _dtype()),
            )
            finished = time.perf_counter()
        details: dict[str, Any] = {
            "acquisition": "qLogNoisyExpectedImprovement",
            "log_acquisition_value": log_acquisition,
            "observations": len(observations),
            "hyperparameters": describe(model),
            "fit_seconds": round(fitted - started, 4),
            "acquisition_seconds": round(finished - fitted, 4),
        }
        state = hyperparameters(model)
        return [
            Proposal(self.encoding.decode(row.tolist()), "gp", details, state) for row in candidates
        ]


def _dtype() -> Any:
    import torch

    return torch.float64


def _mix(seed: int, step: int) -> int:
    """A torch seed for step ``step`` of a campaign seeded ``seed``."""
    return (seed * 1_000_003 + step) % (2**63 - 1)
