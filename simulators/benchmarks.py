"""Synthetic test functions with known optima, evaluated through BoTorch's implementations."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BenchmarkFunction:
    """What a campaign needs to know about a benchmark before evaluating it."""

    botorch_class: str
    """Class name in :mod:`botorch.test_functions.synthetic` (or ``.multi_objective``)."""
    dim: int | None
    """Number of inputs; ``None`` when the function takes any number."""
    minimum: float
    """The global minimum: simple regret is measured against it."""
    domain: tuple[float, float] | None = None
    """The box, per input, where ``minimum`` is reached, when it is the same for every
    input (``None`` for Branin, whose two inputs have different ranges)."""
    outputs: int = 1
    """How many values one evaluation returns; more than one for multi-objective problems,
    whose ``minimum`` is meaningless (they have a Pareto front instead)."""


BENCHMARKS: Mapping[str, BenchmarkFunction] = {
    "branin": BenchmarkFunction("Branin", dim=2, minimum=0.397887357729738),
    "hartmann6": BenchmarkFunction("Hartmann", dim=6, minimum=-3.322368011415515, domain=(0, 1)),
    "ackley": BenchmarkFunction("Ackley", dim=None, minimum=0.0, domain=(-32.768, 32.768)),
    "branin_currin": BenchmarkFunction(
        "BraninCurrin", dim=2, minimum=math.nan, domain=(0, 1), outputs=2
    ),
}
"""Benchmark name, as written in a campaign, to its description. All are minimised."""


class BenchmarkSimulator:
    """Evaluates a benchmark at the parameter values, in the order the campaign lists them.

    A multi-objective benchmark returns its values by ``output_names``, in order.
    """

    def __init__(
        self, name: str, parameter_names: Sequence[str], output_names: Sequence[str] = ()
    ) -> None:
        import torch
        from botorch.test_functions import multi_objective, synthetic

        self._torch = torch
        self._names = tuple(parameter_names)
        self._spec = BENCHMARKS[name]
        self._outputs = tuple(output_names[: self._spec.outputs])
        module = multi_objective if self._spec.outputs > 1 else synthetic
        function_class = getattr(module, self._spec.botorch_class)
        # Branin and BraninCurrin have a fixed dimension; the others take the space's.
        self._function = (
            function_class(dim=len(self._names))
            if self._spec.dim is None or self._spec.botorch_class == "Hartmann"
            else function_class()
        )

    def __call__(self, parameters: Mapping[str, float | int | str]) -> float | dict[str, float]:
        x = self._torch.tensor(
            [[float(parameters[name]) for name in self._names]], dtype=self._torch.float64
        )
        values = self._function.evaluate_true(x).reshape(-1).tolist()
        if self._spec.outputs == 1:
            return float(values[0])
        return dict(zip(self._outputs, values, strict=True))
