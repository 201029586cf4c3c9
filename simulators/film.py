"""A polymer film whose conductance depends on how it was annealed and stirred.

The model behind the virtual lab (``tansaku.simulators.instruments``) and the dry run of
``campaigns/film-anneal-serial.yaml``: a smooth optimum near 165 °C and 600 rpm.
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
