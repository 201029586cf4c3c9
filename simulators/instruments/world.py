"""The shared physical state of the virtual lab: a hotplate/stirrer heating a film, and a
source meter driving a voltage through it.

Both virtual instruments read and write this one object (each from its own thread), so
what the source meter measures depends on what was set on the hotplate. The measured
conductance is the simulator objective of the values set on the devices:
:func:`tansaku.simulators.film.conductance_siemens` at the plate's current temperature and the
stirrer's current speed, times ``1 + noise_sd * N(0, 1)`` when ``noise_sd`` is set.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable

from tansaku.simulators.film import conductance_siemens

AMBIENT_C = 22.0
"""Room temperature (°C): where the plate starts and where it cools to with the heater off."""


class World:
    """Hotplate, stirrer, source meter and film, safe to use from several threads.

    The plate temperature follows a first-order lag: with the heater on it approaches
    ``max(setpoint, ambient)`` (a hotplate cannot cool below the room), with it off it
    relaxes to ambient, with time constant ``tau`` seconds. It is computed from
    ``clock()`` whenever it is read, so no thread has to integrate it.
    """

    def __init__(
        self,
        *,
        tau: float = 0.3,
        ambient_c: float = AMBIENT_C,
        noise_sd: float = 0.0,
        seed: int | str | None = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``tau``: thermal time constant (s); ``noise_sd``: relative standard deviation of
        each conductance measurement; ``seed`` makes the noise repeatable; ``clock``
        returns seconds."""
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau} s")
        if noise_sd < 0:
            raise ValueError(f"noise_sd must not be negative, got {noise_sd}")
        self.tau = tau
        self.ambient_c = ambient_c
        self.noise_sd = noise_sd
        self._clock = clock
        self._noise = random.Random(seed)
        self._lock = threading.RLock()
        self._temperature_setpoint = 0.0
        self._heating = False
        self._stirrer_setpoint = 0.0
        self._stirring = False
        self._source_voltage = 0.0
        self._output_on = False
        # The temperature curve is anchored at the last change of heater state or setpoint.
        self._anchor_temperature = ambient_c
        self._anchor_time = clock()

    # Hotplate -----------------------------------------------------------------------

    @property
    def temperature_setpoint(self) -> float:
        """Heater setpoint (°C)."""
        with self._lock:
            return self._temperature_setpoint

    @temperature_setpoint.setter
    def temperature_setpoint(self, celsius: float) -> None:
        with self._lock:
            self._reanchor()
            self._temperature_setpoint = celsius

    @property
    def heating(self) -> bool:
        """Whether the heater is on."""
        with self._lock:
            return self._heating

    @heating.setter
    def heating(self, on: bool) -> None:
        with self._lock:
            self._reanchor()
            self._heating = on

    @property
    def plate_temperature(self) -> float:
        """The plate's temperature now (°C)."""
        with self._lock:
            return self._temperature_at(self._clock())

    @property
    def stirrer_setpoint(self) -> float:
        """Stirrer speed setpoint (rpm)."""
        with self._lock:
            return self._stirrer_setpoint

    @stirrer_setpoint.setter
    def stirrer_setpoint(self, rpm: float) -> None:
        with self._lock:
            self._stirrer_setpoint = rpm

    @property
    def stirring(self) -> bool:
        """Whether the stirrer motor is on."""
        with self._lock:
            return self._stirring

    @stirring.setter
    def stirring(self, on: bool) -> None:
        with self._lock:
            self._stirring = on

    @property
    def stirrer_speed(self) -> float:
        """The stirrer's actual speed (rpm): the setpoint while on, 0 while off."""
        with self._lock:
            return self._stirrer_setpoint if self._stirring else 0.0

    def switch_off_hotplate(self) -> None:
        """Heater and stirrer off together; the setpoints are kept."""
        with self._lock:
            self.heating = False
            self.stirring = False

    # Source meter and film ----------------------------------------------------------

    @property
    def source_voltage(self) -> float:
        """Source meter voltage setting (V)."""
        with self._lock:
            return self._source_voltage

    @source_voltage.setter
    def source_voltage(self, volts: float) -> None:
        with self._lock:
            self._source_voltage = volts

    @property
    def output_on(self) -> bool:
        """Whether the source meter's output is connected to the film."""
        with self._lock:
            return self._output_on

    @output_on.setter
    def output_on(self, on: bool) -> None:
        with self._lock:
            self._output_on = on

    def reset_source_meter(self) -> None:
        """Source voltage 0 V and output off together."""
        with self._lock:
            self._source_voltage = 0.0
            self._output_on = False

    def measure_conductance(self) -> float:
        """One conductance measurement of the film (S), noisy when ``noise_sd`` is set."""
        with self._lock:
            ideal = conductance_siemens(self.plate_temperature, self.stirrer_speed)
            return ideal * (1.0 + self.noise_sd * self._noise.gauss(0.0, 1.0))

    def _temperature_at(self, now: float) -> float:
        target = self.ambient_c
        if self._heating:
            target = max(self._temperature_setpoint, self.ambient_c)
        decay = math.exp(-(now - self._anchor_time) / self.tau)
        return target + (self._anchor_temperature - target) * decay

    def _reanchor(self) -> None:
        # Called before the target changes, so the curve stays continuous.
        now = self._clock()
        self._anchor_temperature = self._temperature_at(now)
        self._anchor_time = now
