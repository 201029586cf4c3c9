"""The shared physics: plate temperature lag, stirrer, film conductance, noise."""

from __future__ import annotations

import math
import statistics

import pytest

from tansaku.simulators.film import conductance_siemens
from tansaku.simulators.instruments.world import AMBIENT_C, World


class FakeClock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plate_approaches_the_setpoint_with_time_constant_tau() -> None:
    clock = FakeClock()
    world = World(tau=0.5, clock=clock)
    world.temperature_setpoint = 120.0
    world.heating = True
    clock.now = 0.5
    expected = 120.0 - (120.0 - AMBIENT_C) * math.exp(-1.0)
    assert world.plate_temperature == pytest.approx(expected)
    clock.now = 10.0
    assert world.plate_temperature == pytest.approx(120.0)


def test_plate_cools_to_ambient_from_where_it_was_when_the_heater_went_off() -> None:
    clock = FakeClock()
    world = World(tau=1.0, clock=clock)
    world.temperature_setpoint = 200.0
    world.heating = True
    clock.now = 1.0
    reached = world.plate_temperature
    world.heating = False
    assert world.plate_temperature == pytest.approx(reached)  # continuous
    clock.now = 2.0
    assert world.plate_temperature == pytest.approx(
        AMBIENT_C + (reached - AMBIENT_C) * math.exp(-1.0)
    )


def test_a_hotplate_cannot_cool_below_the_room() -> None:
    clock = FakeClock()
    world = World(clock=clock)
    world.temperature_setpoint = 5.0
    world.heating = True
    clock.now = 100.0
    assert world.plate_temperature == pytest.approx(AMBIENT_C)


def test_the_stirrer_turns_at_its_setpoint_only_while_on() -> None:
    world = World()
    world.stirrer_setpoint = 600.0
    assert world.stirrer_speed == 0.0
    world.stirring = True
    assert world.stirrer_speed == 600.0
    world.switch_off_hotplate()
    assert world.stirrer_speed == 0.0
    assert world.stirrer_setpoint == 600.0


def test_conductance_is_the_film_model_at_the_plate_temperature_and_stirrer_speed() -> None:
    clock = FakeClock()
    world = World(clock=clock)
    world.temperature_setpoint = 165.0
    world.heating = True
    world.stirrer_setpoint = 600.0
    world.stirring = True
    clock.now = 100.0
    assert world.measure_conductance() == pytest.approx(conductance_siemens(165.0, 600.0))
    assert world.measure_conductance() > conductance_siemens(AMBIENT_C, 600.0) * 100


def test_noise_is_relative_and_repeatable_with_a_seed() -> None:
    def measurements(seed: int) -> list[float]:
        world = World(noise_sd=0.05, seed=seed)
        return [world.measure_conductance() for _ in range(400)]

    first = measurements(seed=3)
    assert first == measurements(seed=3)
    assert first != measurements(seed=4)
    ideal = conductance_siemens(AMBIENT_C, 0.0)
    relative = [value / ideal - 1.0 for value in first]
    assert statistics.stdev(relative) == pytest.approx(0.05, rel=0.2)


def test_the_source_meter_resets_to_zero_volts_output_off() -> None:
    world = World()
    world.source_voltage = 2.0
    world.output_on = True
    world.reset_source_meter()
    assert (world.source_voltage, world.output_on) == (0.0, False)


@pytest.mark.parametrize("arguments", [{"tau": 0.0}, {"noise_sd": -0.1}])
def test_nonsense_settings_are_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        World(**arguments)
