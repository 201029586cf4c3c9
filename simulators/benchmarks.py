"""Synthetic test functions with known optima, evaluated through BoTorch's implementations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BenchmarkFunction:
    """What a campaign needs to know about a benchmark before evaluating it."""

    botorch_class: str
    """Class name in :mod:`botorch.test_functions.synthetic`."""
    dim: int | None
    """Number of inputs; ``None`` when the function takes any number."""
    minimum: float
    """The global minimum: simple regret is measured against it."""
    domain: tuple[float, float] | None = None
    """The box, per input, where ``minimum`` is reached, when it is the same for every
    input (``None`` for Branin, whose two inputs have different ranges)."""


BENCHMARKS: Mapping[str, BenchmarkFunction] = {
    "branin": BenchmarkFunction("Branin", dim=2, minimum=0.397887357729738),
    "hartmann6": BenchmarkFunction("Hartmann", dim=6, minimum=-3.322368011415515, domain=(0, 1)),
    "ackley": BenchmarkFunction("Ackley", dim=None, minimum=0.0, domain=(-32.768, 32.768)),
}
"""Benchmark name, as written in a campaign, to its description. All are minimised."""


class BenchmarkSimulator:
    """Evaluates a benchmark at the parameter values, in the order the campaign lists them."""

    def __init__(self, name: str, parameter_names: Sequence[str]) -> None:
        import torch
        from botorch.test_functions import synthetic

        self._torch = torch
        self._names = tuple(parameter_names)
        spec = BENCHMARKS[name]
        function_class = getattr(synthetic, spec.botorch_class)
        # Branin is two-dimensional by definition; the others take their dimension.
        self._function = (
            function_class()
            if spec.botorch_class == "Branin"
            else function_class(dim=len(self._names))
        )

    def __call__(self, parameters: Mapping[str, float | int | str]) -> float:
        x = self._torch.tensor(
            [[float(parameters[name]) for name in self._names]], dtype=self._torch.float64
        )
        return float(self._function.evaluate_true(x).item())
