"""Framing, safety limits and transcripts through pyserial's ``loop://`` transport.

``loop://`` echoes every line, so a query's reply is the query itself: enough to test
how lines are framed, parsed and logged (the dialogue is tested against the virtual
instruments).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tansaku.drivers.base import CampaignContext, Experiment, InstrumentError
from tansaku.drivers.serial.driver import SerialDriver, SerialDriverConfig

SOLVENT = {"send": "SOLVENT {solvent}", "map": {"water": "H2O"}, "expect": "^SOLVENT H2O$"}


def make_driver(
    run_dir: Path,
    valid: tuple[float, float] = (0, 10),
    wait: dict | None = None,
    solvent: dict = SOLVENT,
) -> SerialDriver:
    config = SerialDriverConfig.model_validate(
        {
            "type": "serial",
            "devices": {
                "echo": {
                    "port": "loop://",
                    "protocol": {
                        "line": {
                            "timeout": "0.2s",
                            "write_terminator": "\n",
                            "read_terminator": "\n",
                        },
                        "setup": [{"send": "HELLO", "expect": "^HELLO$"}],
                        "parameters": {
                            # An echo acknowledges each command: `expect` consumes it.
                            "temp": {
                                "send": "SET {temp:.1f}",
                                "limits": [20, 300],
                                "expect": "^SET ",
                            },
                            "solvent": solvent,
                        },
                        "objectives": {
                            "y": {
                                "query": "4.25",
                                "pattern": "^(?P<value>[0-9.]+)$",
                                "scale": 2.0,
                                "valid": list(valid),
                            }
                        },
                        "safe_state": [{"send": "OFF"}],
                        "wait": wait or {},
                    },
                }
            },
        }
    )
    context = CampaignContext(
        name="loop",
        parameters={"temp": "continuous", "solvent": "categorical"},
        objectives=("y",),
        base_dir=run_dir,
        run_dir=run_dir,
    )
    driver = SerialDriver(config, context)
    driver.connect()
    return driver


def sent_lines(transcript: Path) -> list[str]:
    return [
        line.split(" > ", 1)[1] for line in transcript.read_text().splitlines() if " > " in line
    ]


def test_a_measurement_is_sent_read_scaled_and_transcribed(tmp_path: Path) -> None:
    driver = make_driver(tmp_path)
    measurement = driver.run(Experiment("loop", 1, {"temp": 120.0, "solvent": "water"}))
    driver.close()
    assert measurement.failure is None
    assert measurement.values == {"y": 8.5} and measurement.raw == {"y": "4.25"}
    transcript = tmp_path / "transcripts" / "loop-0001.log"
    assert sent_lines(transcript) == ["SET 120.0", "SOLVENT H2O", "4.25"]
    assert "echo < 4.25" in transcript.read_text() and "echo < SET 120.0" in transcript.read_text()
    assert sent_lines(tmp_path / "transcripts" / "session.log") == ["HELLO", "OFF"]


def test_values_outside_the_hard_limits_or_the_map_are_never_sent(tmp_path: Path) -> None:
    driver = make_driver(tmp_path)
    too_hot = driver.run(Experiment("loop", 2, {"temp": 350.0, "solvent": "water"}))
    unmapped = driver.run(Experiment("loop", 3, {"temp": 100.0, "solvent": "acetone"}))
    driver.close()
    assert too_hot.failure == (
        "echo: temp=350.0 is outside the hard limits [20, 300]; nothing was sent"
    )
    assert "solvent='acetone' has no entry in the protocol's map" in (unmapped.failure or "")
    for label in ("loop-0002", "loop-0003"):
        transcript = tmp_path / "transcripts" / f"{label}.log"
        assert sent_lines(transcript) == []
        assert "refused before sending anything" in transcript.read_text()


def test_a_reading_outside_its_valid_range_fails_the_experiment(tmp_path: Path) -> None:
    driver = make_driver(tmp_path, valid=(0, 5))
    measurement = driver.run(Experiment("loop", 4, {"temp": 50.0, "solvent": "water"}))
    driver.close()
    assert measurement.failure == "y=8.5 is outside its valid range [0, 5]"
    assert measurement.values == {"y": 8.5}  # the reading is kept


def test_a_poll_waits_for_a_condition_and_gives_up_with_a_reason(tmp_path: Path) -> None:
    # The echo answers READY to READY (the condition holds) and NOT to NOT (it never does).
    poll = {"query": "READY", "until": "^READY$", "every": "0.01s", "time_limit": "0.2s"}
    driver = make_driver(tmp_path, wait={"poll": poll})
    assert driver.run(Experiment("loop", 5, {"temp": 50.0, "solvent": "water"})).failure is None
    driver.close()
    stuck = make_driver(tmp_path, wait={"poll": {**poll, "query": "NOT"}})
    with pytest.raises(InstrumentError, match=r"NOT answered 'NOT'; it did not match '\^READY\$'"):
        stuck.run(Experiment("loop", 6, {"temp": 50.0, "solvent": "water"}))
    stuck.close()
    assert sent_lines(tmp_path / "transcripts" / "session.log")[-1] == "OFF"


def test_the_hard_limits_apply_to_the_mapped_word_that_would_be_sent(tmp_path: Path) -> None:
    # A categorical mapped to a setpoint: the map's word is the value under the limits.
    solvent = {
        "send": "SOLVENT {solvent}",
        "map": {"water": "250", "ethanol": "HOT", "ice": "5"},
        "limits": [0, 200],
        "expect": "^SOLVENT ",
    }
    driver = make_driver(tmp_path, solvent=solvent)
    too_hot = driver.run(Experiment("loop", 7, {"temp": 100.0, "solvent": "water"}))
    a_word = driver.run(Experiment("loop", 8, {"temp": 100.0, "solvent": "ethanol"}))
    within = driver.run(Experiment("loop", 9, {"temp": 100.0, "solvent": "ice"}))
    driver.close()
    assert too_hot.failure == (
        "echo: solvent='water' (sent as '250') is outside the hard limits [0, 200]; "
        "nothing was sent"
    )
    assert a_word.failure == (
        "echo: solvent='ethanol' (sent as 'HOT') is not a number within the hard limits "
        "[0, 200]; nothing was sent"
    )
    for label in ("loop-0007", "loop-0008"):
        assert sent_lines(tmp_path / "transcripts" / f"{label}.log") == []
    assert within.failure is None
    assert sent_lines(tmp_path / "transcripts" / "loop-0009.log")[:2] == ["SET 100.0", "SOLVENT 5"]


def test_a_poll_band_around_a_number_given_as_a_yaml_number(tmp_path: Path) -> None:
    # The echo answers 25.5 to 25.5: within 1 of the target 25.
    poll = {
        "query": "25.5",
        "pattern": "^(?P<value>[0-9.]+)$",
        "target": 25,
        "within": 1,
        "every": "0.01s",
        "time_limit": "0.5s",
    }
    driver = make_driver(tmp_path, wait={"poll": poll})
    measurement = driver.run(Experiment("loop", 10, {"temp": 50.0, "solvent": "water"}))
    driver.close()
    assert measurement.failure is None
    assert "25.5" in sent_lines(tmp_path / "transcripts" / "loop-0010.log")
