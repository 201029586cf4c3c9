"""The noise model chosen from the data: exact where the measurements are, noisy where not."""

from __future__ import annotations

import pytest
import torch

from tansaku.campaign.schema import Campaign
from tansaku.proposer import Observation, Proposer
from tansaku.proposer.model import fit_model
from tansaku.proposer.noise import (
    SWITCH_MARGIN,
    SWITCH_STANDARD_ERRORS,
    NoiseChoice,
    choose_noise,
    loo_log_likelihoods,
)

DIM = 3
BOUNDS = torch.tensor([[0.0] * DIM, [1.0] * DIM], dtype=torch.float64)


def smooth(x: torch.Tensor) -> torch.Tensor:
    """A smooth function of three inputs, not one of the benchmarks the default is judged on."""
    return (torch.sin(5 * x[:, 0]) * torch.cos(3 * x[:, 1]) + 0.5 * x[:, 2]).unsqueeze(-1)


def data(n: int, noise_sd: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random points and their values, with Gaussian noise of ``noise_sd`` times the
    function's range (about 2.5)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, DIM, generator=generator, dtype=torch.float64)
    y = smooth(x)
    return x, y + noise_sd * 2.5 * torch.randn(y.shape, generator=generator, dtype=y.dtype)


class CountingFit:
    """The campaign's fit, counting which noise models were fitted."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y, self.calls = x, y, []

    def __call__(self, exact: bool, start_from: object = None) -> object:
        self.calls.append(exact)
        return fit_model(self.x, self.y, BOUNDS, noise_free=exact, start_from=start_from)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_measurements_get_the_exact_model(seed: int) -> None:
    x, y = data(60, 0.0, seed)
    fit = CountingFit(x, y)
    model, choice = choose_noise(fit, x, y, measured=60)
    assert choice.exact and choice.reason == "leave-one-out"
    evidence = max(SWITCH_MARGIN, SWITCH_STANDARD_ERRORS * choice.standard_error)
    assert choice.loo_exact > choice.loo_inferred + evidence
    # The exact model passes through the measurements.
    with torch.no_grad():
        predicted = model.posterior(x).mean
    assert torch.allclose(predicted, y, atol=1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noisy_measurements_get_the_inferred_noise(seed: int) -> None:
    x, y = data(60, 0.05, seed)
    model, choice = choose_noise(CountingFit(x, y), x, y, measured=60)
    assert not choice.exact
    assert choice.loo_inferred > choice.loo_exact
    assert float(model.likelihood.noise.detach().mean()) > 1e-3


def test_replicates_that_disagree_keep_the_noise_inferred_without_fitting_an_exact_model() -> None:
    x, y = data(40, 0.0, 3)
    # Two points measured again, each 1 % of the range off: the measurements are not exact,
    # however well an exact model would predict the rest.
    x = torch.cat([x, x[:2]])
    y = torch.cat([y, y[:2] + 0.025])
    fit = CountingFit(x, y)
    _, choice = choose_noise(fit, x, y, measured=42)
    assert not choice.exact and choice.reason == "replicates disagree"
    assert fit.calls == [False]


def test_replicates_that_agree_do_not_count_as_noise() -> None:
    x, y = data(60, 0.0, 0)
    x, y = torch.cat([x, x[:3]]), torch.cat([y, y[:3]])
    _, choice = choose_noise(CountingFit(x, y), x, y, measured=63)
    assert choice.exact


def test_a_failure_stand_in_at_a_measured_point_is_not_a_replicate() -> None:
    x, y = data(60, 0.0, 0)
    # A failed experiment at the first point's inputs, learned as the worst result.
    x, y = torch.cat([x, x[:1]]), torch.cat([y, y.min(dim=0, keepdim=True).values])
    _, choice = choose_noise(CountingFit(x, y), x, y, measured=60)
    assert choice.reason == "leave-one-out"


def test_few_measurements_are_taken_as_noisy() -> None:
    x, y = data(4, 0.0, 0)
    fit = CountingFit(x, y)
    _, choice = choose_noise(fit, x, y, measured=4)
    assert not choice.exact and choice.reason == "few measurements" and fit.calls == [False]


@pytest.mark.parametrize("exact_before", [False, True])
def test_a_small_difference_keeps_the_previous_choice(exact_before: bool) -> None:
    # Eight points say little about either model: their leave-one-out likelihoods are close.
    x, y = data(8, 0.0, 0)
    previous = NoiseChoice(exact_before, "leave-one-out", measurements=7)
    _, choice = choose_noise(CountingFit(x, y), x, y, measured=8, previous=previous)
    assert abs(choice.loo_exact - choice.loo_inferred) < SWITCH_MARGIN
    assert choice.exact is exact_before


def test_the_comparison_is_made_again_once_the_measurements_grew_by_a_tenth() -> None:
    previous = NoiseChoice(True, "leave-one-out", measurements=55)
    x, y = data(60, 0.05, 0)
    between = CountingFit(x, y)
    _, kept = choose_noise(between, x, y, measured=60, previous=previous)
    assert kept is previous and between.calls == [True]
    x, y = data(61, 0.05, 0)
    due = CountingFit(x, y)
    _, checked = choose_noise(due, x, y, measured=61, previous=previous)
    # Noisy measurements: the comparison, due again, switches despite the hysteresis.
    assert due.calls[:2] == [True, False]
    assert checked.measurements == 61 and not checked.exact


def test_the_leave_one_out_likelihood_is_gpytorchs_without_the_priors() -> None:
    from gpytorch.mlls import LeaveOneOutPseudoLikelihood

    x, y = data(20, 0.01, 0)
    model = fit_model(x, y, BOUNDS)
    ours = float(loo_log_likelihoods(model).sum())
    model.train()
    mll = LeaveOneOutPseudoLikelihood(model.likelihood, model)
    priors = sum(
        prior.log_prob(closure(module)).sum()
        for _, module, prior, closure, _ in model.named_priors()
    )
    with torch.no_grad():
        theirs = mll(model(*model.train_inputs), model.train_targets) * 20 - priors
    assert ours == pytest.approx(float(theirs), rel=1e-6)


def campaign(noise_free: bool | None) -> Campaign:
    objective = {"name": "y", "goal": "maximize"}
    if noise_free is not None:
        objective["noise_free"] = noise_free
    return Campaign.model_validate(
        {
            "name": "noise",
            "seed": 0,
            "budget": {"experiments": 40},
            "space": [
                {"name": f"x{i}", "type": "continuous", "bounds": [0, 1]} for i in range(DIM)
            ],
            "objectives": [objective],
            "driver": {"type": "simulated"},
        }
    )


def observations(n: int, noise_sd: float) -> list[Observation]:
    x, y = data(n, noise_sd, 0)
    return [
        Observation({f"x{i}": float(v) for i, v in enumerate(row)}, float(value))
        for row, value in zip(x, y[:, 0], strict=True)
    ]


@pytest.mark.parametrize(
    ("noise_free", "exact", "decided_by"),
    [(None, True, "leave-one-out"), (False, False, "campaign file"), (True, True, "campaign file")],
)
def test_a_proposal_records_the_noise_model_and_who_chose_it(
    noise_free: bool | None, exact: bool, decided_by: str
) -> None:
    (proposal,) = Proposer(campaign(noise_free)).suggest(
        1, observations(40, 0.0), proposed_so_far=40
    )
    recorded = proposal.details["noise_model"]
    assert (recorded["exact"], recorded["decided_by"]) == (exact, decided_by)
    assert ("loo_exact" in recorded) is (noise_free is None)


def test_a_campaign_that_says_nothing_leaves_the_noise_to_the_data() -> None:
    assert campaign(None).noise_free is None
    assert campaign(False).noise_free is False
    assert campaign(True).noise_free is True
