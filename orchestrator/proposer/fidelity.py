"""Proposals for a campaign that measures at several sources of different cost.

The model takes the source as one more input, its *fidelity*: the cheapest source at 0,
the dearest (the truth the campaign optimises) at 1, the others between by their cost
(``campaign.fidelities.levels``), so that an experiment's cost grows linearly along it.
It is BoTorch's ``SingleTaskMultiFidelityGP`` (the kernel of Wu et al. 2019, which learns
how far results at one fidelity tell of another). Each proposal maximises multi-fidelity
max-value entropy search (``qMultiFidelityMaxValueEntropy``: what an experiment would
tell of the maximum *at the target*) divided by the experiment's cost
(``InverseCostWeightedUtility`` over ``AffineFidelityCostModel``), optimised at each
source the budget can still pay for, and the best of them wins: the point and the source
are chosen together.

The initial design is the campaign's Sobol points at the cheapest source, but for its
last point, made at the target, so that the model has seen both before it chooses.

Like the plain proposer, it knows nothing of Prefect, drivers or the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from tansaku.campaign.descriptors import DescriptorTable
from tansaku.campaign.fidelities import AT_TARGET, FIDELITY, cost_of, costs, levels, target
from tansaku.campaign.schema import Campaign
from tansaku.proposer.proposer import (
    Observation,
    Proposal,
    Proposer,
    _dtype,
    _mix,
    _threads_for,
)
from tansaku.values import ParameterValue

MES_CANDIDATES = 1000
"""Sobol points of the space at the target over which max-value entropy search samples
the maximum (BoTorch's multi-fidelity tutorial uses 1000 uniform ones)."""

COST_SLACK = 1e-9
"""Rounding allowed when comparing what is left of the budget with a source's cost."""


class MultiFidelityProposer(Proposer):
    """Chooses the point and the source of each experiment of a multi-fidelity campaign.

    Each proposal's ``parameters`` hold the source under ``fidelity``, and its details
    say whether it is at the target (``at_target_fidelity``) and what it costs.
    """

    def __init__(
        self,
        campaign: Campaign,
        candidates: Sequence[Mapping[str, ParameterValue]] | None = None,
        descriptors: Mapping[str, DescriptorTable] | None = None,
        prior: Sequence[Observation] = (),
    ) -> None:
        if campaign.fidelities is None:
            raise ValueError("MultiFidelityProposer needs a campaign with fidelities")
        super().__init__(campaign, candidates, descriptors, prior)
        self.costs = costs(campaign)
        self.levels = levels(campaign)
        self.target = target(campaign)
        self.cheapest = min(self.costs, key=lambda name: self.costs[name])

    def cost_left(
        self,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, ParameterValue]],
        failed: Sequence[Mapping[str, ParameterValue]],
    ) -> float:
        """What is left of ``budget.cost`` after these experiments."""
        points = [o.parameters for o in observations] + [*pending, *failed]
        return float(self.campaign.budget.cost or 0.0) - cost_of(self.campaign, points)

    def affordable(self, left: float) -> list[str]:
        """The sources one more experiment may go to with ``left`` cost units."""
        return [name for name, cost in self.costs.items() if cost <= left + COST_SLACK]

    def suggest(
        self,
        n: int,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, ParameterValue]] = (),
        proposed_so_far: int = 0,
        failed: Sequence[Mapping[str, ParameterValue]] = (),
    ) -> list[Proposal]:
        """Up to ``n`` experiments, each with its source; fewer (none) where the cost
        budget cannot pay for more. See :meth:`Proposer.suggest` for the arguments."""
        started = time.perf_counter()
        observations = list(observations)
        chosen: list[Proposal] = []
        avoided = failed if self.campaign.proposer.failures == "avoid" else ()
        for step in range(n):
            taken = [*pending, *(p.parameters for p in chosen)]
            left = self.cost_left(observations, taken, failed)
            sources = self.affordable(left)
            if not sources:
                break
            index = proposed_so_far + step
            if index < self.campaign.initial_size or len(observations) < 2:
                proposal = self._sobol(1, index)[0]
                last = index == self.campaign.initial_size - 1
                source = self.target if last and self.target in sources else self.cheapest
                proposal.parameters[FIDELITY] = source
            else:
                proposal = self._choose(observations, avoided, taken, index, sources)
            proposal.details[AT_TARGET] = proposal.parameters[FIDELITY] == self.target
            proposal.details["cost"] = self.costs[str(proposal.parameters[FIDELITY])]
            chosen.append(proposal)
        elapsed = round(time.perf_counter() - started, 4)
        for proposal in chosen:
            proposal.details["suggest_seconds"] = elapsed
        return chosen

    def surrogate(
        self,
        observations: Sequence[Observation],
        failed: Sequence[Mapping[str, ParameterValue]] = (),
        proposed_so_far: int = 0,
    ) -> Any:
        """The model the next proposal would use, read at the target: what it believes of
        the truth (the report's model figures); ``None`` before two results."""
        import numpy as np
        import torch

        from tansaku.proposer.surrogate import Surrogate

        observations = [*self.prior, *observations]
        if len(observations) < 2:
            return None
        avoided = failed if self.campaign.proposer.failures == "avoid" else ()
        train_x, train_y, _ = self._training_data(observations, list(avoided))
        bounds = torch.tensor([*self.encoding.bounds, (0.0, 1.0)], dtype=_dtype()).T
        with torch.random.fork_rng(), _threads_for(len(observations)):
            torch.manual_seed(_mix(self.campaign.seed, proposed_so_far))
            model = fit_multi_fidelity(
                train_x, train_y, bounds, len(avoided), self.campaign.noise_free
            )
        objective = self.campaign.objective
        measured = np.array([[o.value] for o in observations])
        return Surrogate(
            model=AtTarget(model),
            encoding=self.encoding,
            quantities=[objective.name],
            scale="signed",
            sign=-1.0 if objective.goal == "minimize" else 1.0,
            spread=measured.std(axis=0, ddof=1),
            observations=len(observations),
            inputs=train_x[:, :-1],
            stand_ins=len(avoided),
        )

    def _choose(
        self,
        observations: Sequence[Observation],
        failed: Sequence[Mapping[str, ParameterValue]],
        pending: Sequence[Mapping[str, ParameterValue]],
        step: int,
        sources: Sequence[str],
    ) -> Proposal:
        import torch
        from botorch.acquisition.cost_aware import InverseCostWeightedUtility
        from botorch.acquisition.max_value_entropy_search import qMultiFidelityMaxValueEntropy
        from botorch.acquisition.utils import project_to_target_fidelity
        from botorch.models.cost import AffineFidelityCostModel
        from botorch.optim import optimize_acqf
        from torch.quasirandom import SobolEngine

        from tansaku.proposer.model import describe

        campaign = self.campaign
        d = self.encoding.dim
        train_x, train_y, _ = self._training_data(list(observations), list(failed))
        bounds = torch.tensor([*self.encoding.bounds, (0.0, 1.0)], dtype=_dtype()).T
        x_pending = self._encode(pending) if pending else None
        low, high = min(self.costs.values()), max(self.costs.values())
        with torch.random.fork_rng(), _threads_for(len(observations)):
            torch.manual_seed(_mix(campaign.seed, step))
            started = time.perf_counter()
            model = fit_multi_fidelity(train_x, train_y, bounds, len(failed), campaign.noise_free)
            fitted = time.perf_counter()
            engine = SobolEngine(d, scramble=True, seed=_mix(campaign.seed, step) % 2**31)
            unit = engine.draw(MES_CANDIDATES, dtype=_dtype())
            candidate_set = bounds[0, :d] + (bounds[1, :d] - bounds[0, :d]) * unit
            cost_model = AffineFidelityCostModel(fidelity_weights={d: high - low}, fixed_cost=low)
            acquisition = qMultiFidelityMaxValueEntropy(
                model,
                candidate_set,
                X_pending=x_pending,
                cost_aware_utility=InverseCostWeightedUtility(cost_model=cost_model),
                project=lambda x: project_to_target_fidelity(x, {d: 1.0}, d + 1),
            )
            best: tuple[float, str, Any] | None = None
            values: dict[str, float] = {}
            for source in sources:
                candidate, value = optimize_acqf(
                    acquisition,
                    bounds,
                    q=1,
                    num_restarts=campaign.proposer.num_restarts,
                    raw_samples=campaign.proposer.raw_samples,
                    fixed_features={d: self.levels[source]},
                )
                values[source] = float(value)
                if best is None or float(value) > best[0]:
                    best = (float(value), source, candidate)
            finished = time.perf_counter()
        assert best is not None
        value, source, candidate = best
        point = self.encoding.decode(candidate[0, :d].tolist())
        point[FIDELITY] = source
        try:
            hyperparameters: Any = describe(model)
        except (AttributeError, TypeError):
            hyperparameters = {}
        details = {
            "acquisition": type(acquisition).__name__,
            "acquisition_value": value,
            "acquisition_by_fidelity": values,
            "observations": len(observations),
            "failures_as_worst": len(failed),
            "hyperparameters": hyperparameters,
            "fit_seconds": round(fitted - started, 4),
            "acquisition_seconds": round(finished - fitted, 4),
        }
        return Proposal(point, "gp", details)

    def recommend(self, observations: Sequence[Observation], proposed_so_far: int = 0) -> Any:
        """The point the model believes best at the target: its posterior mean's maximum
        there (what a multi-fidelity benchmark judges), or ``None`` before two results."""
        import torch
        from botorch.acquisition import PosteriorMean
        from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction
        from botorch.optim import optimize_acqf

        observations = [*self.prior, *observations]
        if len(observations) < 2:
            return None
        d = self.encoding.dim
        train_x, train_y, _ = self._training_data(observations, [])
        bounds = torch.tensor([*self.encoding.bounds, (0.0, 1.0)], dtype=_dtype()).T
        with torch.random.fork_rng(), _threads_for(len(observations)):
            torch.manual_seed(_mix(self.campaign.seed, proposed_so_far))
            model = fit_multi_fidelity(train_x, train_y, bounds, 0, self.campaign.noise_free)
            mean = FixedFeatureAcquisitionFunction(
                PosteriorMean(model), d=d + 1, columns=[d], values=[1.0]
            )
            candidate, _ = optimize_acqf(mean, bounds[:, :d], q=1, num_restarts=4, raw_samples=256)
        return self.encoding.decode(candidate[0].tolist())

    def _encode(self, points: Sequence[Mapping[str, ParameterValue]]) -> Any:
        """Encoded rows with the fidelity as a last column (the target's where a point
        names no source)."""
        import torch

        rows = [
            [*self.encoding.encode(p), self.levels.get(str(p.get(FIDELITY)), 1.0)] for p in points
        ]
        return torch.tensor(rows, dtype=_dtype()).reshape(len(rows), self.encoding.dim + 1)


class AtTarget:
    """A multi-fidelity model read at the target: it takes ``... x d`` encoded inputs of
    the space and answers for fidelity 1, as a single-fidelity model of the truth would."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def posterior(self, x: Any, **kwargs: Any) -> Any:
        import torch

        target = torch.ones(*x.shape[:-1], 1, dtype=x.dtype)
        return self.model.posterior(torch.cat([x, target], dim=-1), **kwargs)


def fit_multi_fidelity(
    train_x: Any, train_y: Any, bounds: Any, stand_ins: int = 0, noise_free: bool | None = False
) -> Any:
    """A ``SingleTaskMultiFidelityGP`` with the fidelity as the last of ``train_x``'s
    columns, inputs normalised to ``bounds`` and outcomes standardised, fitted by
    maximising the marginal likelihood. The noise is inferred unless ``noise_free`` is
    ``True``: the multi-fidelity model does not choose it from the data."""
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskMultiFidelityGP
    from botorch.models.transforms import Normalize, Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from tansaku.proposer.model import _fixed_noise

    d = train_x.shape[-1]
    model = SingleTaskMultiFidelityGP(
        train_x,
        train_y,
        train_Yvar=_fixed_noise(train_y, stand_ins) if noise_free else None,
        data_fidelities=[d - 1],
        input_transform=Normalize(d=d, bounds=bounds),
        outcome_transform=Standardize(m=1),
    )
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model
