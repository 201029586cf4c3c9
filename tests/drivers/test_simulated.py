"""The simulated driver: virtual clock, reproducible noise, failures and instrument faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tansaku.drivers import CampaignContext, Experiment, InstrumentError, load_driver
from tansaku.drivers.base import AsyncDriver
from tansaku.drivers.registry import UnknownDriverError, driver_types
from tansaku.drivers.simulated import SimulatedDriver, SimulatedDriverConfig

START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def make_driver(
    clock_start: datetime | None = None,
    seed: int = 0,
    **simulator: object,
) -> SimulatedDriver:
    config = SimulatedDriverConfig.model_validate(
        {
            "type": "simulated",
            "simulator": {
                "type": "benchmark",
                "function": "branin",
                "duration": "2h",
                "start": START,
                **simulator,
            },
        }
    )
    context = CampaignContext(
        name="c",
        parameters={"x1": "continuous", "x2": "continuous"},
        objectives=("y",),
        base_dir=Path("."),
        seed=seed,
        clock_start=clock_start,
    )
    driver = SimulatedDriver(config, context)
    driver.connect()
    return driver


def experiment(i: int) -> Experiment:
    return Experiment("c", i, {"x1": 3.14159, "x2": 2.275})


def test_it_is_registered_as_an_entry_point() -> None:
    assert "simulated" in driver_types()
    assert load_driver("simulated") is SimulatedDriver
    with pytest.raises(UnknownDriverError, match=r"installed drivers: .*simulated"):
        load_driver("nope")


def test_each_experiment_advances_the_virtual_clock_by_its_duration() -> None:
    driver = make_driver()
    first = driver.run(experiment(1))
    second = driver.run(experiment(2))
    assert (first.started_at, first.finished_at) == (START, START + timedelta(hours=2))
    assert second.finished_at == START + timedelta(hours=4) == driver.now()
    assert first.values["y"] == pytest.approx(0.397887, abs=1e-5)


def test_a_resumed_clock_continues_where_the_ledger_stopped() -> None:
    resumed = START + timedelta(days=3)
    assert make_driver(clock_start=resumed).run(experiment(9)).started_at == resumed


def test_noise_is_reproducible_per_experiment() -> None:
    one = [make_driver(noise_sd=0.5).run(experiment(i)).values["y"] for i in (1, 2)]
    again = [make_driver(noise_sd=0.5).run(experiment(i)).values["y"] for i in (1, 2)]
    assert one == again and one[0] != one[1]
    assert make_driver(noise_sd=0.5, seed=1).run(experiment(1)).values["y"] != one[0]


def test_failures_and_faults_happen_at_their_rates() -> None:
    failing = make_driver(failure_rate=0.5)
    outcomes = [failing.run(experiment(i)) for i in range(200)]
    failed = [m for m in outcomes if m.failure]
    assert 70 < len(failed) < 130 and all(not m.values for m in failed)
    faulty = make_driver(fault_rate=0.5)
    faults = 0
    for i in range(200):
        try:
            faulty.run(experiment(i))
        except InstrumentError:
            faults += 1
    assert 70 < faults < 130


def test_a_function_simulator_is_imported_by_name() -> None:
    from tansaku.drivers.simulated import FunctionSpec
    from tansaku.simulators.film import conductance_siemens

    context = CampaignContext(
        name="f",
        parameters={"anneal_temp_c": "continuous", "stir_rpm": "integer"},
        objectives=("g",),
        base_dir=Path("."),
    )
    spec = FunctionSpec(type="function", function="tansaku.simulators.film:film_conductance_ms")
    assert spec.problems(context) == []
    driver = SimulatedDriver.for_dry_run(spec, context)
    driver.connect()
    reading = driver.run(Experiment("f", 1, {"anneal_temp_c": 165.0, "stir_rpm": 600}))
    assert reading.values["g"] == pytest.approx(1e3 * conductance_siemens(165.0, 600))
    missing = FunctionSpec(type="function", function="tansaku.simulators.film:no_such_model")
    assert "cannot import tansaku.simulators.film:no_such_model" in missing.problems(context)[0][1]


def test_parallel_slots_overlap_in_virtual_time() -> None:
    config = SimulatedDriverConfig.model_validate(
        {
            "type": "simulated",
            "slots": 2,
            "simulator": {"type": "benchmark", "function": "branin", "duration": "2h"},
        }
    )
    context = CampaignContext(
        name="c",
        parameters={"x1": "continuous", "x2": "continuous"},
        objectives=("y",),
        base_dir=Path("."),
        clock_start=START,
    )
    lab = SimulatedDriver.for_config(config, context)
    assert isinstance(lab, AsyncDriver)
    lab.connect()
    lab.submit([experiment(1), experiment(2)])
    assert lab.free_slots() == 0
    with pytest.raises(ValueError, match="free slots"):
        lab.submit([experiment(3)])
    done = lab.collect()
    assert [c.experiment_id for c in done] == [1, 2]
    assert {c.measurement.started_at for c in done} == {START}
    assert lab.now() == START + timedelta(hours=2), "two experiments took two hours, not four"
    lab.submit([experiment(3)])
    (third,) = lab.collect()
    assert third.measurement.started_at == START + timedelta(hours=2)
    assert third.measurement.values == done[0].measurement.values, "same point, same reading"
