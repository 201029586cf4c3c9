"""Which parameters matter: Sobol indices of a campaign's own model, on functions whose
indices are known."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import qmc

import tansaku
from tansaku.proposer.surrogate import Surrogate
from tansaku.report.sensitivity import Sensitivity, sobol_sensitivities
from tests.conftest import write_campaign

THREE = """
    name: three
    seed: 3
    budget: {experiments: 40}
    space:
      - {name: x1, type: continuous, bounds: [0, 1]}
      - {name: x2, type: continuous, bounds: [0, 1]}
      - {name: x3, type: continuous, bounds: [0, 1]}
      - {name: held, type: continuous, bounds: [0, 1], fixed: 0.5}
    objectives:
      - {name: y, goal: maximize}
    driver: {type: manual}
"""


def fitted(folder: Path, truth: Callable[[np.ndarray], float], results: int = 32) -> Surrogate:
    """The campaign's model after ``results`` measurements of ``truth`` at Sobol points."""
    with tansaku.open(write_campaign(folder, THREE), run_dir=folder / "run") as campaign:
        for x in qmc.Sobol(d=3, scramble=True, seed=1).random(results):
            campaign.add(x1=float(x[0]), x2=float(x[1]), x3=float(x[2]), y=truth(x))
        surrogate = campaign.surrogate()
    assert surrogate is not None
    return surrogate


def strong_weak_none(x: np.ndarray) -> float:
    """Strongly on x1, weakly on x2, not at all on x3; no interaction."""
    return float(2 * math.sin(3 * x[0]) + 0.6 * x[1])


# Shares of the variance over the unit square: Var(2 sin 3x) = 4 (1/2 - sin 6 / 12 -
# ((1 - cos 3) / 3)^2), Var(0.6 x) = 0.36 / 12.
VARIANCE_X1 = 4 * (0.5 - math.sin(6) / 12 - ((1 - math.cos(3)) / 3) ** 2)
VARIANCE_X2 = 0.36 / 12
SHARE_X1 = VARIANCE_X1 / (VARIANCE_X1 + VARIANCE_X2)


@pytest.fixture(scope="module")
def additive(tmp_path_factory: pytest.TempPathFactory) -> Surrogate:
    return fitted(tmp_path_factory.mktemp("additive"), strong_weak_none)


def by_name(sensitivity: Sensitivity) -> dict[str, dict[str, object]]:
    return {
        name: {
            "first": sensitivity.first[i],
            "total": sensitivity.total[i],
            "first_interval": sensitivity.first_interval[i],
            "total_interval": sensitivity.total_interval[i],
        }
        for i, name in enumerate(sensitivity.names)
    }


def test_the_ranking_follows_how_much_each_parameter_moves_the_objective(
    additive: Surrogate,
) -> None:
    [sensitivity] = sobol_sensitivities(additive)
    assert sensitivity.quantity == "y"
    # The fixed parameter is not searched, so it has no say in the ranking.
    assert sensitivity.names == ("x1", "x2", "x3")
    indices = by_name(sensitivity)
    assert indices["x1"]["total"] == pytest.approx(SHARE_X1, abs=0.03)
    assert indices["x2"]["total"] == pytest.approx(1 - SHARE_X1, abs=0.03)
    assert indices["x3"]["total"] < 0.01
    for name, values in indices.items():
        for kind in ("first", "total"):
            assert 0.0 <= values[kind] <= 1.0, (name, kind)
        # Without interactions the two indices agree up to Monte Carlo error.
        assert values["total"] >= values["first"] - 0.03, name


def test_each_interval_holds_its_estimate_and_is_narrow_where_the_data_are_clear(
    additive: Surrogate,
) -> None:
    [sensitivity] = sobol_sensitivities(additive)
    assert sensitivity.draws == 32
    assert sensitivity.base_points * (len(sensitivity.names) + 2) <= 2048
    for name, values in by_name(sensitivity).items():
        for kind in ("first", "total"):
            low, high = values[f"{kind}_interval"]
            assert 0.0 <= low <= high <= 1.0, (name, kind)
            assert low - 0.01 <= values[kind] <= high + 0.01, (name, kind)
    low, high = by_name(sensitivity)["x1"]["total_interval"]
    assert high - low < 0.1


def test_the_same_seed_gives_the_same_ranking_for_a_reproducible_report(
    additive: Surrogate,
) -> None:
    assert sobol_sensitivities(additive, seed=4) == sobol_sensitivities(additive, seed=4)


def test_a_pool_is_sampled_through_the_values_its_rows_take(additive: Surrogate) -> None:
    # Rows with x1 only near the top of sin(3 x1), where it hardly moves y, and spread
    # over x2 and x3: over this pool x2 is what matters.
    rng = np.random.default_rng(0)
    pool = [
        {"x1": float(a), "x2": float(b), "x3": float(c), "held": 0.5}
        for a, b, c in zip(
            rng.uniform(0.45, 0.6, 20), rng.uniform(0, 1, 20), rng.uniform(0, 1, 20), strict=True
        )
    ]
    [sensitivity] = sobol_sensitivities(additive, pool)
    assert sensitivity.names == ("x2", "x1", "x3")
    indices = by_name(sensitivity)
    assert indices["x2"]["total"] > 0.9
    assert indices["x3"]["total"] < 0.01


def test_an_interaction_shows_in_the_total_index_not_the_first_order_one(
    tmp_path: Path,
) -> None:
    # (x1 - 1/2)(x2 - 1/2) has no effect of either parameter alone: all its variance is
    # the interaction, so each total index is one, each first-order index zero.
    surrogate = fitted(tmp_path, lambda x: float(4 * (x[0] - 0.5) * (x[1] - 0.5)), results=40)
    [sensitivity] = sobol_sensitivities(surrogate)
    indices = by_name(sensitivity)
    assert set(sensitivity.names[:2]) == {"x1", "x2"}
    for name in ("x1", "x2"):
        assert indices[name]["total"] == pytest.approx(1.0, abs=0.1)
        assert indices[name]["first"] < 0.1
    assert indices["x3"]["total"] < 0.05
