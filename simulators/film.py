"""A polymer film whose conductance depends on how it was annealed and stirred.

The model behind the virtual lab (``tansaku.simulators.instruments``) and the dry run of
``campaigns/film-anneal-serial.yaml``: a smooth optimum near 165 °C and 600 rpm; and a
slightly wrong estimate of it, the prior mean of ``campaigns/film-physics-prior.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def conductance_siemens(temperature_c: float, stir_rpm: float) -> float:
    """Film conductance (S) after annealing at ``temperature_c`` while stirring at ``stir_rpm``."""
    annealed = math.exp(-(((temperature_c - 165.0) / 40.0) ** 2))
    mixed = 1.0 + 0.3 * math.exp(-(((stir_rpm - 600.0) / 300.0) ** 2))
    return 1e-3 * annealed * mixed


def film_conductance_ms(parameters: Mapping[str, float | int | str]) -> float:
    """Conductance in mS for a campaign with ``anneal_temp_c`` and ``stir_rpm`` parameters."""
    return 1e3 * conductance_siemens(
        float(parameters["anneal_temp_c"]), float(parameters["stir_rpm"])
    )


def film_prior_ms(parameters: Mapping[str, float | int | str]) -> float:
    """A textbook estimate of :func:`film_conductance_ms`, as a prior mean: the right shape
    and size, but the anneal optimum at 175 °C instead of 165 and a broader peak (60 °C
    wide instead of 40), and no effect of stirring; what a handbook's Arrhenius-style
    rule of thumb for the polymer would predict before any film is made."""
    temperature_c = float(parameters["anneal_temp_c"])
    return 1.15 * math.exp(-(((temperature_c - 175.0) / 60.0) ** 2))
