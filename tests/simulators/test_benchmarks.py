"""Benchmark functions agree with BoTorch and reach their published minima."""

from __future__ import annotations

import math

import pytest
from botorch.test_functions import synthetic

from tansaku.simulators.benchmarks import BENCHMARKS, BenchmarkSimulator


@pytest.mark.parametrize("name", sorted(n for n, b in BENCHMARKS.items() if b.outputs == 1))
def test_the_table_matches_botorch(name: str) -> None:
    spec = BENCHMARKS[name]
    function = getattr(synthetic, spec.botorch_class)
    instance = function() if spec.dim == 2 else function(dim=spec.dim or 3)
    assert instance.dim == (spec.dim or 3)
    assert math.isclose(instance.optimal_value, spec.minimum, abs_tol=1e-5)


@pytest.mark.parametrize(
    ("name", "point"),
    [
        ("branin", {"a": math.pi, "b": 2.275}),
        (
            "hartmann6",
            dict(
                zip(
                    "abcdef", [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573], strict=True
                )
            ),
        ),
        ("ackley", {"a": 0.0, "b": 0.0, "c": 0.0}),
    ],
)
def test_each_benchmark_reaches_its_minimum(name: str, point: dict) -> None:
    simulator = BenchmarkSimulator(name, list(point))
    assert math.isclose(simulator(point), BENCHMARKS[name].minimum, abs_tol=1e-4)


def test_a_multi_objective_benchmark_returns_its_values_by_name() -> None:
    import torch
    from botorch.test_functions.multi_objective import BraninCurrin

    simulator = BenchmarkSimulator("branin_currin", ["a", "b"], ["cost", "yield_loss"])
    values = simulator({"a": 0.3, "b": 0.7})
    cost, loss = BraninCurrin().evaluate_true(torch.tensor([[0.3, 0.7]], dtype=torch.float64))[0]
    assert values == pytest.approx({"cost": float(cost), "yield_loss": float(loss)})
