"""``model: {prior_mean: ...}``: the model knows the trend before the data, learns how far
to trust it, and proposals follow it over a space and over a pool."""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping

import numpy as np
import pytest
import torch

from tansaku.campaign.model_settings import PriorMeanError
from tansaku.campaign.schema import Campaign
from tansaku.proposer import Observation, Proposer
from tansaku.proposer.encoding import SpaceEncoding
from tansaku.proposer.model import describe
from tansaku.proposer.prior_mean import PriorOnModelScale

MODULE = "tansaku_test_priors"


def peak(point: Mapping[str, float | int | str]) -> float:
    """A yield that peaks at x = 7 (10 there), nearly 0 below x = 3."""
    return 10.0 * math.exp(-((float(point["x"]) - 7.0) ** 2) / 2.0)


def valley(point: Mapping[str, float | int | str]) -> float:
    """A cost lowest at x = 7: minus :func:`peak`."""
    return -peak(point)


def unrelated(point: Mapping[str, float | int | str]) -> float:
    """A wiggle that says nothing about :func:`smooth`."""
    return math.sin(11.0 * float(point["x"]) + 1.0)


def smooth(point: Mapping[str, float | int | str]) -> float:
    return math.sin(float(point["x"]) / 2.0)


def broken(point: Mapping[str, float | int | str]) -> float:
    if float(point["x"]) > 9.5:
        raise ValueError("outside the fitted range")
    return 0.0


@pytest.fixture(autouse=True)
def priors_module() -> Iterator[None]:
    """The functions above as a user's module, importable by name."""
    module = types.ModuleType(MODULE)
    for function in (peak, valley, unrelated, smooth, broken):
        setattr(module, function.__name__, function)
    sys.modules[MODULE] = module
    yield
    del sys.modules[MODULE]


def campaign(prior: str | None, goal: str = "maximize", pool: bool = False) -> Campaign:
    spec: dict = {
        "name": "prior-mean",
        "seed": 1,
        "budget": {"experiments": 12},
        "space": [{"name": "x", "type": "continuous", "bounds": [0, 10]}],
        "objectives": [{"name": "y", "goal": goal}],
        "proposer": {"initial": {"n": 2}, "num_restarts": 4, "raw_samples": 64},
        "driver": {"type": "manual"},
    }
    if prior is not None:
        spec["model"] = {"prior_mean": f"{MODULE}:{prior}"}
    if pool:
        spec["candidates"] = {"path": "pool.csv"}  # the rows are handed to the proposer
    return Campaign.model_validate(spec)


def observed(
    truth: Callable[[Mapping[str, float]], float], xs: Iterable[float]
) -> list[Observation]:
    return [Observation({"x": float(x)}, truth({"x": float(x)})) for x in xs]


GRID = [{"x": float(x)} for x in np.linspace(0, 10, 101)]


def test_with_two_results_the_model_predicts_the_priors_trend_far_from_them() -> None:
    results = observed(peak, [1.0, 9.0])  # 0.0 and 1.35: nothing says there is a peak
    with_prior = Proposer(campaign("peak")).surrogate(results)
    without = Proposer(campaign(None)).surrogate(results)
    assert with_prior is not None and without is not None
    believed = with_prior.predict(GRID).mean[:, 0]
    assert GRID[int(np.argmax(believed))]["x"] == pytest.approx(7.0, abs=0.3)
    assert believed.max() == pytest.approx(10.0, rel=0.05)
    assert without.predict(GRID).mean[:, 0].max() < 2.0


def test_a_prior_the_data_do_not_bear_out_is_scaled_towards_zero() -> None:
    xs = np.linspace(0.3, 9.7, 12)
    right = Proposer(campaign("smooth")).surrogate(observed(smooth, xs))
    wrong = Proposer(campaign("unrelated")).surrogate(observed(smooth, xs))
    assert right is not None and wrong is not None
    assert describe(right.model)["prior_mean_scale"] == pytest.approx(1.0, abs=0.2)
    assert abs(describe(wrong.model)["prior_mean_scale"]) < 0.2
    # ...so the wrong prior's model still predicts the data's own trend between them.
    between = [{"x": x} for x in (2.0, 5.0, 8.0)]
    truth = np.array([smooth(p) for p in between])
    assert np.abs(wrong.predict(between).mean[:, 0] - truth).max() < 0.15


def test_proposals_over_a_continuous_space_go_where_the_prior_points() -> None:
    (proposal,) = Proposer(campaign("peak")).suggest(1, observed(peak, [1.0, 9.0]), [], 2)
    assert proposal.method == "gp"
    assert proposal.parameters["x"] == pytest.approx(7.0, abs=0.5)
    assert "prior_mean_scale" in proposal.details["hyperparameters"]


def test_a_minimised_objective_takes_the_prior_with_its_sign() -> None:
    results = observed(valley, [1.0, 9.0])
    (proposal,) = Proposer(campaign("valley", goal="minimize")).suggest(1, results, [], 2)
    assert proposal.parameters["x"] == pytest.approx(7.0, abs=0.5)
    surrogate = Proposer(campaign("valley", goal="minimize")).surrogate(results)
    assert surrogate is not None
    assert surrogate.predict([{"x": 7.0}]).mean[0, 0] == pytest.approx(-10.0, rel=0.05)


def test_proposals_from_a_pool_follow_the_prior_on_the_screening_scale() -> None:
    # A pool campaign screens, modelling the bilog of the results: the prior is taken
    # through the same bilog, and predictions come back in the objective's unit.
    rows = [{"x": float(x)} for x in range(11)]
    proposer = Proposer(campaign("peak", pool=True), candidates=rows)
    results = observed(peak, [1.0, 9.0])
    (proposal,) = proposer.suggest(1, results, [], 2)
    assert proposal.parameters == {"x": 7.0}
    surrogate = proposer.surrogate(results)
    assert surrogate is not None and surrogate.scale == "bilog"
    assert surrogate.predict([{"x": 7.0}]).mean[0, 0] == pytest.approx(10.0, rel=0.1)


def test_the_gradient_is_the_priors_slope_in_the_continuous_columns() -> None:
    space = campaign("peak").space
    prior = PriorOnModelScale(f"{MODULE}:peak", SpaceEncoding(space), sign=1.0, bilog=False)
    x = torch.tensor([[5.0], [10.0]], dtype=torch.float64, requires_grad=True)
    prior(x).sum().backward()
    assert x.grad is not None
    inside, at_bound = (-(v - 7.0) * peak({"x": v}) for v in (5.0, 10.0))  # d/dx
    assert float(x.grad[0, 0]) == pytest.approx(inside, rel=1e-6)
    # One-sided at the bound: first-order accurate only.
    assert float(x.grad[1, 0]) == pytest.approx(at_bound, rel=1e-2)


def test_a_prior_that_fails_where_the_optimiser_looks_says_where() -> None:
    with pytest.raises(PriorMeanError, match=r":broken raised ValueError: outside the fitted"):
        Proposer(campaign("broken")).suggest(1, observed(smooth, [1.0, 9.7]), [], 2)
