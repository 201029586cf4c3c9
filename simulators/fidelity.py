"""Two sources of one objective: Branin, and a cheap, biased version of it.

The example of ``campaigns/branin-two-fidelity.yaml`` and the problem of
``benchmarks/multi_fidelity_benchmark.py``: BoTorch's ``AugmentedBranin``
(``botorch.test_functions.multi_fidelity``), which at fidelity ``s`` = 1 is the Branin
function (three minima of 0.397887) and below it bends the valley: the x1² coefficient is
off by 0.1 (1 - s). The cheap source is that function at ``s`` = :data:`CHEAP_FIDELITY`,
whose minima lie near, but not on, Branin's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

CHEAP_FIDELITY = 0.5
"""The fidelity of the cheap simulation on AugmentedBranin's scale (1: the true Branin)."""

BRANIN_MINIMUM = 0.397887357729738


def augmented_branin(x1: float, x2: float, s: float) -> float:
    """BoTorch's ``AugmentedBranin`` at ``(x1, x2)`` and fidelity ``s`` in [0, 1]."""
    t1 = x2 - (5.1 / (4 * math.pi**2) - 0.1 * (1 - s)) * x1**2 + 5 / math.pi * x1 - 6
    return t1**2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def branin(parameters: Mapping[str, float | int | str]) -> float:
    """The true Branin function of ``x1`` in [-5, 10] and ``x2`` in [0, 15]."""
    return augmented_branin(float(parameters["x1"]), float(parameters["x2"]), 1.0)


def cheap_branin(parameters: Mapping[str, float | int | str]) -> float:
    """The cheap simulation of :func:`branin`: biased, at fidelity ``CHEAP_FIDELITY``."""
    return augmented_branin(float(parameters["x1"]), float(parameters["x2"]), CHEAP_FIDELITY)
