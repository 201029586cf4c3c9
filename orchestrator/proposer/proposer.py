"""The proposer: from the observations so far to the next experiments.

A plain object with no knowledge of Prefect, drivers or storage. It starts with a
scrambled Sobol design, then fits a GP and maximises noisy log expected improvement.
Given the same campaign and observations it returns the same proposals, so
a resumed campaign proposes what an uninterrupted one would have.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from tansaku.campaign.budget import UNCERTAINTY_DETAIL
from tansaku.campaign.constraints import campaign_constraints
from tansaku.campaign.descriptors import DescriptorTable
from tansaku.campaign.parameters import CategoricalParameter
from tansaku.campaign.schema import Campaign
from tansaku.campaign.transfer import TransferSet
from tansaku.errors import TansakuError
from tansaku.proposer.encoding import SpaceEncoding
from tansaku.values import ParameterValue

if TYPE_CHECKING:
    from tansaku.proposer.noise import NoiseChoice
    from tansaku.proposer.outcomes import OutcomeModel
    from tansaku.proposer.surrogate import Surrogate


class InitialDesignError(TansakuError):
    """The space's constraints leave too few points for the initial design."""


@dataclass(frozen=True)
class Observation:
    """A finished experiment the model learns from: its parameters and objective value.

    ``outcomes`` holds every measured quantity by name; campaigns with several
    objectives or with outcome constraints need it, single-objective ones use ``value``.
    """

    parameters: Mapping[str, ParameterValue]
    value: float
    outcomes: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Proposal:
    """One experiment to run, and how it was chosen.

    ``details`` holds what the ledger keeps about the choice: the acquisition value, the
    model's hyperparameters and fit time for a model-based proposal, the Sobol index for
    an initial one.
    """

    parameters: dict[str, ParameterValue]
    method: Literal["sobol", "random", "gp"]
    details: dict[str, Any] = field(default_factory=dict)


class Proposer:
    """Chooses experiments for one campaign.

    Args:
        campaign: supplies the space, the goal, the seed and the proposer settings.
        candidates: the rows of the campaign's candidate pool
            (``LoadedCampaign.candidates()``); required when the campaign has one.
        descriptors: parameter name → descriptor table, for each categorical parameter
            that names one (``LoadedCampaign.descriptors()``).
        prior: measurements made before the campaign (its ``prior_data``). The model
            learns from them as from the campaign's own, each one shortens the initial
            design by one experiment, and a pool row measured before is not proposed.
        transfer: measurements of other chemical systems (``LoadedCampaign.transfer()``):
            the model learns from them as related tasks (``proposer/transfer.py``); they
            do not shorten the initial design.
    """

    def __init__(
        self,
        campaign: Campaign,
        candidates: Sequence[Mapping[str, ParameterValue]] | None = None,
        descriptors: Mapping[str, DescriptorTable] | None = None,
        prior: Sequence[Observation] = (),
        transfer: Sequence[TransferSet] = (),
    ) -> None:
        if (campaign.candidates is None) != (candidates is None):
            raise ValueError(
                "pass the candidate rows exactly when the campaign has a candidate pool "
                "(LoadedCampaign.candidates())"
            )
        described = {
            p.name
            for p in campaign.space
            if isinstance(p, CategoricalParameter) and p.descriptors is not None
        }
        if set(descriptors or {}) != described:
            raise ValueError(
                "pass the descriptor tables of exactly the categorical parameters that name "
                "one (LoadedCampaign.descriptors())"
            )
        self.campaign = campaign
        self.encoding = SpaceEncoding(campaign.space)
        self.constraints = campaign_constraints(campaign)
        self.candidates = None if candidates is None else [dict(row) for row in candidates]
        self.descriptors = dict(descriptors or {})
        self.prior = list(prior)
        if len(transfer) != len(campaign.transfer_from):
            raise ValueError(
                "pass the rows of exactly the campaign's transfer_from sources "
                "(LoadedCampaign.transfer())"
            )
        self.transfer = list(transfer)
        self._mc_points: Any = None
        self.noise_choice: NoiseChoice | None = None
        """The last refit's choice of noise model, when the campaign leaves it to the data."""

    def suggest(
        self,
        n: int,
        observations: Sequence[Observation],
        pending: Sequence[Mapping[str, ParameterValue]] = (),
        proposed_so_far: int = 0,
        failed: Sequence[Mapping[str, ParameterValue]] = (),
    ) -> list[Proposal]:
        """The next experiments, at most ``n`` of them.

        Args:
            n: how many experiments are wanted.
            observations: successful experiments (failed ones are left out).
            pending: parameters of experiments proposed but not yet measured; the
                acquisition accounts for them so they are not proposed again.
            proposed_so_far: experiments proposed so far in the campaign, failed ones
                included: it positions the Sobol sequence and seeds the optimiser.
            failed: parameters of failed experiments; a pool row that failed is not
                proposed again, and with ``proposer.failures: avoid`` (the default) the
                model counts each as the worst result so far.

        Returns:
            ``n`` proposals (fewer only when a candidate pool runs out; an empty list
            once it is used up). A batch that straddles the end of the initial design
            is the rest of the design plus model proposals, so that rounds of parallel
            experiments (a NIMS-OS round) stay whole.
        """
        started = time.perf_counter()
        observations = [*self.prior, *observations]
        measured = [o.parameters for o in observations]
        remaining = self._remaining_candidates(measured, pending, failed)
        if remaining is not None:
            n = min(n, len(remaining))
            if n == 0:
                return []
        initial_left = self.campaign.initial_size - len(self.prior) - proposed_so_far
        modelled = len(observations) >= 2
        avoided = failed if self.campaign.proposer.failures == "avoid" else ()
        if initial_left > 0 or not modelled:
            # Until two results are in, the design fills the whole batch.
            size = min(n, initial_left) if modelled else n
            proposals = (
                self._sobol(size, proposed_so_far)
                if remaining is None
                else self._random_rows(size, remaining)
            )
            if modelled and len(proposals) < n:
                chosen = [p.parameters for p in proposals]
                proposals += self._bayesian(
                    n - len(proposals),
                    observations,
                    avoided,
                    [*pending, *chosen],
                    proposed_so_far + len(proposals),
                    self._remaining_candidates(measured, pending, failed, chosen),
                )
        else:
            proposals = self._bayesian(
                n, observations, avoided, pending, proposed_so_far, remaining
            )
        elapsed = round(time.perf_counter() - started, 4)
        for proposal in proposals:
            proposal.details["suggest_seconds"] = elapsed
        return proposals

    def _training_data(
        self,
        observations: Sequence[Observation],
        failed: Sequence[Mapping[str, ParameterValue]],
    ) -> tuple[Any, Any, OutcomeModel | None]:
        """``(train_x, train_y, outcome model)``; failed points count as the worst results.

        A single objective is modelled signed so that larger is better (a target: as
        measured, scored by the acquisition); screening models sign(y) log(1 + |y|)
        (the "bilog" of Eriksson & Poloczek), which keeps the ranking and tames heavy
        tails. Several objectives or outcome constraints model every measured quantity
        involved (see ``proposer/outcomes.py``).
        """
        import torch

        from tansaku.proposer.outcomes import impute_failures, outcome_model

        campaign = self.campaign
        train_x = self._encode([o.parameters for o in observations] + list(failed))
        if campaign.multi_objective or campaign.outcome_constraints:
            outcomes = outcome_model(campaign)
            observed = torch.tensor(
                [[o.outcomes[name] for name in outcomes.columns] for o in observations],
                dtype=_dtype(),
            )
            imputed = impute_failures(outcomes, observed, len(failed))
            return train_x, torch.cat([observed, imputed]), outcomes
        objective = campaign.objective
        worst = min((o.value for o in observations), key=objective.score)
        values = [o.value for o in observations] + [worst] * len(failed)
        sign = -1.0 if objective.goal == "minimize" else 1.0
        signed = torch.tensor([[sign * v] for v in values], dtype=_dtype())
        if self._bilog:
            # Screening looks for the top of the distribution; on a log-like scale one
            # extreme measurement no longer flattens the model everywhere else.
            signed = signed.sign() * signed.abs().log1p()
        return train_x, signed, None

    def _remaining_candidates(
        self, *taken_groups: Sequence[Mapping[str, ParameterValue]]
    ) -> list[dict[str, ParameterValue]] | None:
        """Pool rows not yet measured, pending or failed; ``None`` without a pool."""
        if self.candidates is None:
            return None
        taken = {self._key(point) for group in taken_groups for point in group}
        return [row for row in self.candidates if self._key(row) not in taken]

    def _key(self, point: Mapping[str, ParameterValue]) -> tuple:
        """A hashable identity for a point: its values in parameter order, as text."""
        return tuple(str(point[p.name]) for p in self.encoding.space)

    def _random_rows(
        self, n: int, remaining: Sequence[dict[str, ParameterValue]]
    ) -> list[Proposal]:
        """The initial design of a pool campaign: rows in a seeded random order."""
        import numpy as np

        assert self.candidates is not None
        order = np.random.default_rng(self.campaign.seed).permutation(len(self.candidates))
        free = {self._key(row) for row in remaining}
        chosen = [int(i) for i in order if self._key(self.candidates[i]) in free][:n]
        return [Proposal(dict(self.candidates[i]), "random", {"row": i}) for i in chosen]

    def _sobol(self, n: int, start: int) -> list[Proposal]:
        if self.constraints:
            points = self._feasible_initial_points(start, n)
        else:
            from torch.quasirandom import SobolEngine

            engine = SobolEngine(self.encoding.dim, scramble=True, seed=self.campaign.seed)
            engine.fast_forward(start)
            points = [self.encoding.from_unit(r.tolist()) for r in engine.draw(n, dtype=_dtype())]
        return [
            Proposal(point, "sobol", {"sobol_index": start + i}) for i, point in enumerate(points)
        ]

    def _feasible_initial_points(self, start: int, n: int) -> list[dict[str, ParameterValue]]:
        """The initial design inside the constraints: the feasible points of the campaign's
        Sobol sequence (``space_points``, seeded by the campaign).

        The points are drawn in one seeded sequence so a resumed campaign gets the same
        design; after rounding integer or discrete columns, points that leave the
        constraints are skipped for the next ones in the sequence.
        """
        from tansaku.proposer.constraints import satisfies
        from tansaku.proposer.sampling import space_points

        encoding = self.encoding
        rows = space_points(
            encoding, self.constraints, self.campaign.seed, 4 * self.campaign.initial_size
        )
        decoded = [encoding.decode(row) for row in rows.tolist()]
        feasible = [point for point in decoded if satisfies(point, self.constraints)]
        if len(feasible) < start + n:
            raise InitialDesignError(
                "could not draw an initial design inside the constraints; with integer or "
                "discrete parameters in a constraint, few rounded points may satisfy it"
            )
        return feasible[start : start + n]

    def _bayesian(
        self,
        n: int,
        observations: Sequence[Observation],
        failed: Sequence[Mapping[str, ParameterValue]],
        pending: Sequence[Mapping[str, ParameterValue]],
        proposed_so_far: int,
        remaining: Sequence[dict[str, ParameterValue]] | None,
    ) -> list[Proposal]:
        import numpy as np
        import torch

        from tansaku.proposer.acquisition import (
            batch_value,
            build_acquisition,
            choose_from_pool,
            optimize_over_space,
            thompson_choice,
            thompson_points,
        )
        from tansaku.proposer.constraints import encode_constraints
        from tansaku.proposer.learning import IntegratedVariance, mean_relative_sd
        from tansaku.proposer.model import describe
        from tansaku.proposer.outcomes import build_outcome_acquisition

        campaign = self.campaign
        learning = campaign.effective_purpose == "learn"
        train_x, train_y, outcomes = self._training_data(observations, failed)
        bounds = torch.tensor(self.encoding.bounds, dtype=_dtype()).T
        x_pending = self._encode(pending) if pending else None
        with torch.random.fork_rng(), _threads_for(len(observations)):
            torch.manual_seed(_mix(campaign.seed, proposed_so_far))
            started = time.perf_counter()
            model = self._fit(train_x, train_y, bounds, len(failed))
            fitted = time.perf_counter()
            mc_points = self._learning_points() if learning else None
            acquisition = (
                IntegratedVariance(model, mc_points, x_pending)
                if mc_points is not None
                else build_acquisition(
                    campaign.proposer.acquisition_for(campaign.effective_purpose),
                    model,
                    train_x,
                    train_y,
                    q=n,
                    x_pending=x_pending,
                    target=campaign.objective.target,
                )
                if outcomes is None
                else build_outcome_acquisition(
                    campaign, outcomes, model, train_x, train_y, x_pending
                )
            )
            value: float | None = None
            if acquisition is None:
                # Thompson sampling: each experiment is the best point of one posterior sample.
                choices = (
                    thompson_points(self.encoding, self.constraints, _dtype())
                    if remaining is None
                    else self._encode(remaining)
                )
                candidates = thompson_choice(model, choices, n, campaign.objective.target)
            elif remaining is None:
                candidates = optimize_over_space(
                    acquisition,
                    bounds,
                    q=n,
                    encoding=self.encoding,
                    constraints=encode_constraints(self.constraints, self.encoding, _dtype()),
                    num_restarts=campaign.proposer.num_restarts,
                    raw_samples=campaign.proposer.raw_samples,
                )
            else:
                candidates = choose_from_pool(acquisition, self._encode(remaining), q=n)
            if acquisition is not None:
                value = batch_value(acquisition, candidates)
            finished = time.perf_counter()
        details: dict[str, Any] = {
            "acquisition": (
                "MaxPosteriorSampling" if acquisition is None else type(acquisition).__name__
            ),
            "acquisition_value": value,
            "observations": len(observations),
            "failures_as_worst": len(failed),
            "hyperparameters": describe(model),
            "noise_model": _noise_model(campaign.noise_free, self.noise_choice),
            "fit_seconds": round(fitted - started, 4),
            "acquisition_seconds": round(finished - fitted, 4),
        }
        if mc_points is not None:
            # What stop.uncertainty_below reads: how sure the model was of the whole space
            # when it chose this batch, against the spread of the values measured.
            spread = float(np.std([o.value for o in observations], ddof=1))
            details[UNCERTAINTY_DETAIL] = mean_relative_sd(model, mc_points, spread)
        if remaining is None:
            points = [self.encoding.decode(row.tolist()) for row in candidates]
        else:
            # The pool's own rows, not decoded copies: a log-scale value survives exactly.
            by_row = {tuple(self.encoding.encode(row)): row for row in remaining}
            points = [dict(by_row[tuple(row.tolist())]) for row in candidates]
        return [Proposal(point, "gp", details) for point in points]

    def surrogate(
        self,
        observations: Sequence[Observation],
        failed: Sequence[Mapping[str, ParameterValue]] = (),
        proposed_so_far: int = 0,
    ) -> Surrogate | None:
        """The model the next proposal would use, to read what it believes.

        The same training data (prior data, failures as the worst result with
        ``proposer.failures: avoid``), the same fit and the same seed as
        :meth:`suggest` with these arguments; ``None`` before two results, when the
        campaign has no model yet.
        """
        import numpy as np
        import torch

        from tansaku.proposer.surrogate import Surrogate

        observations = [*self.prior, *observations]
        if len(observations) < 2:
            return None
        avoided = failed if self.campaign.proposer.failures == "avoid" else ()
        train_x, train_y, outcomes = self._training_data(observations, avoided)
        bounds = torch.tensor(self.encoding.bounds, dtype=_dtype()).T
        with torch.random.fork_rng(), _threads_for(len(observations)):
            torch.manual_seed(_mix(self.campaign.seed, proposed_so_far))
            model = self._fit(train_x, train_y, bounds, len(avoided))
        objective = self.campaign.objective
        if outcomes is None:
            measured = np.array([[o.value] for o in observations])
            quantities = [objective.name]
            scale = "bilog" if self._bilog else "signed"
            sign = -1.0 if objective.goal == "minimize" else 1.0
        else:
            quantities = list(outcomes.columns)
            measured = np.array([[o.outcomes[q] for q in quantities] for o in observations])
            scale, sign = "signed", 1.0
        return Surrogate(
            model=model,
            encoding=self.encoding,
            quantities=quantities,
            scale=scale,
            sign=sign,
            spread=measured.std(axis=0, ddof=1),
            observations=len(observations),
            inputs=train_x,
            stand_ins=len(avoided),
        )

    def _learning_points(self) -> Any:
        """``N x d`` encoded points a learning campaign integrates the model's variance
        over: the candidate pool's rows, or uniform samples of the feasible space; the same
        points for every proposal of the campaign."""
        from tansaku.proposer.learning import integration_points, pool_points

        if self._mc_points is None:
            self._mc_points = (
                integration_points(self.encoding, self.constraints, self.campaign.seed)
                if self.candidates is None
                else pool_points(self._encode(self.candidates), self.campaign.seed)
            )
        return self._mc_points

    @property
    def _bilog(self) -> bool:
        """Whether a single objective is modelled on the bilog scale (screening)."""
        campaign = self.campaign
        return campaign.effective_purpose == "screen" and campaign.objective.goal != "target"

    def _fit(self, train_x: Any, train_y: Any, bounds: Any, stand_ins: int) -> Any:
        """The fitted GP; a campaign that does not say whether its measurements are exact
        gets the noise model its data supports (``proposer/noise.py``), decided with the
        previous refit's choice as the side to hold to."""
        from tansaku.proposer.model import fit_model
        from tansaku.proposer.noise import choose_noise

        def fit(noise_free: bool, start_from: Any = None) -> Any:
            return fit_model(
                train_x,
                train_y,
                bounds,
                self._categorical_features,
                noise_free=noise_free,
                stand_ins=stand_ins,
                element_blocks=self._element_blocks,
                prior_mean=self._prior_mean,
                transfer=self._transfer,
                start_from=start_from,
            )

        said = self.campaign.noise_free
        if said is not None:
            return fit(said)
        model, self.noise_choice = choose_noise(
            fit, train_x, train_y, train_x.shape[0] - stand_ins, self.noise_choice
        )
        return model

    @cached_property
    def _prior_mean(self) -> Any:
        """The campaign's ``model.prior_mean`` on the scale the model fits (signed so that
        larger is better, bilog when screening), or ``None``; one for the proposer's
        lifetime, so its cache of values serves every proposal."""
        from tansaku.proposer.prior_mean import PriorOnModelScale

        name = self.campaign.model.prior_mean
        if name is None:
            return None
        sign = -1.0 if self.campaign.objective.goal == "minimize" else 1.0
        return PriorOnModelScale(name, self.encoding, sign, self._bilog)

    @cached_property
    def _element_blocks(self) -> list[Any]:
        """The mixtures of chemical elements, whose element properties the model sees."""
        from tansaku.proposer.elements import element_blocks

        return element_blocks(
            self.campaign.mixtures, self.encoding, _dtype(), self._transfer_elements
        )

    @cached_property
    def _transfer_elements(self) -> list[str]:
        """Elements of the transfer sources that the campaign's mixture lacks, in order."""
        mixture = self.campaign.element_mixture
        own = set(mixture.elements.values()) if mixture and mixture.elements else set()
        found: dict[str, None] = {}
        for source in self.campaign.transfer_from:
            found |= {s: None for s in source.elements.values() if s not in own}
        return list(found)

    @cached_property
    def _transfer(self) -> Any:
        """The transfer sources' rows on the model's scales (a seeded subset of each), or
        ``None`` without ``transfer_from``."""
        import torch

        from tansaku.proposer.transfer import Transfer, source_rows

        mixture = self.campaign.element_mixture
        if not self.transfer or mixture is None:
            return None
        sign = -1.0 if self.campaign.objective.goal == "minimize" else 1.0
        sources = [
            source_rows(
                measured.rows,
                spec.max_rows,
                self.campaign.seed,
                mixture,
                self._transfer_elements,
                self._encode,
                sign,
                self._bilog,
            )
            for spec, measured in zip(self.campaign.transfer_from, self.transfer, strict=True)
        ]
        transfer = Transfer(sources, mode=self.campaign.model.transfer)
        if transfer.mode != "prior_mean":
            return transfer
        from tansaku.proposer.model import fit_model

        nothing = torch.empty(0, self.encoding.dim, dtype=_dtype())
        bounds = torch.tensor(self.encoding.bounds, dtype=_dtype()).T
        with torch.random.fork_rng():
            torch.manual_seed(self.campaign.seed)
            model = fit_model(
                nothing,
                torch.empty(0, 1, dtype=_dtype()),
                bounds,
                self._categorical_features,
                element_blocks=self._element_blocks,
                transfer=replace(transfer, mode="pooled"),
            )
        return replace(transfer, source_model=model)

    @cached_property
    def _categorical_features(self) -> dict[int, Any]:
        """Encoded column → the model's features of that categorical's values: from its
        descriptor table, else one-hot; one constant column for a parameter that holds a
        single value throughout (more columns would only shift the lengthscale priors,
        which BoTorch scales with the number of inputs)."""
        import torch

        from tansaku.proposer.descriptors import descriptor_features, one_hot_features

        features = {}
        for p in self.campaign.space:
            if not isinstance(p, CategoricalParameter):
                continue
            held = {p.fixed} if p.fixed is not None else set(p.values)
            held |= {o.parameters[p.name] for o in self.prior}
            if len(held) == 1:
                table = torch.zeros(len(p.values), 1, dtype=_dtype())
            elif p.name in self.descriptors:
                table = descriptor_features(self.descriptors[p.name], _dtype())
            else:
                table = one_hot_features(len(p.values), _dtype())
            features[self.encoding.column(p.name)] = table
        return features

    def _encode(self, points: Sequence[Mapping[str, ParameterValue]]) -> Any:
        import torch

        return torch.tensor([self.encoding.encode(p) for p in points], dtype=_dtype())


SINGLE_THREAD_BELOW = 512
"""Observations below which the model is fitted on one thread (benchmarks/RESULTS.md)."""


@contextmanager
def _threads_for(observations: int) -> Iterator[None]:
    """One torch thread for small models: their matrices are too small to share between
    threads, and when another process busies a core, two threads wait on each other
    (fits 10-25x slower on the loaded 2-core machine; benchmarks/fit_threads.py)."""
    import torch

    if observations >= SINGLE_THREAD_BELOW:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _dtype() -> Any:
    import torch

    return torch.float64


def _mix(seed: int, step: int) -> int:
    """A torch seed for step ``step`` of a campaign seeded ``seed``."""
    return (seed * 1_000_003 + step) % (2**63 - 1)


def _noise_model(said: bool | None, choice: NoiseChoice | None) -> dict[str, Any]:
    """What the ledger records of the noise model: exact or inferred, and who decided."""
    if said is not None:
        return {"exact": said, "decided_by": "campaign file"}
    assert choice is not None, "every refit of a campaign that says nothing makes a choice"
    compared = {
        "loo_exact": choice.loo_exact,
        "loo_inferred": choice.loo_inferred,
        "loo_standard_error": choice.standard_error,
    }
    return {
        "exact": choice.exact,
        "decided_by": choice.reason,
        "decided_at": choice.measurements,
    } | {name: round(value, 3) for name, value in compared.items() if value is not None}
