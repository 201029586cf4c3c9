"""The Keithley 2400-style source meter, spoken to in SCPI through its pty link at 9600 8N1."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import serial

from tansaku.simulators.film import conductance_siemens
from tansaku.simulators.instruments import Faults, VirtualLab
from tests.simulators.instruments.serial_clients import (
    NAMUR_LINE,
    SCPI_LINE,
    ask,
    open_port,
    send,
)

NUMBER = r"[+-]\d\.\d{6}E[+-]\d{2}"
READING = re.compile(rf"^({NUMBER}),({NUMBER}),\+9\.910000E\+37,({NUMBER}),({NUMBER})$")


def query(smu: serial.SerialBase, command: str) -> str | None:
    return ask(smu, command, terminator="\n")


def command(smu: serial.SerialBase, line: str) -> None:
    send(smu, line, terminator="\n")


def next_error(smu: serial.SerialBase) -> str | None:
    return query(smu, ":SYST:ERR?")


def read_current(smu: serial.SerialBase) -> float:
    reply = query(smu, ":READ?")
    assert reply is not None
    match = READING.match(reply)
    assert match, reply
    return float(match[2])


def test_it_identifies_itself(smu: serial.SerialBase) -> None:
    assert query(smu, "*IDN?") == (
        "KEITHLEY INSTRUMENTS INC.,MODEL 2400,4105329,C32 Oct 4 2010 14:20:11/A02  /S/K"
    )


def test_an_empty_error_queue_says_no_error(smu: serial.SerialBase) -> None:
    assert next_error(smu) == '0,"No error"'


def test_reading_with_the_output_off_is_a_settings_conflict(smu: serial.SerialBase) -> None:
    command(smu, ":READ?")
    # Had :READ? been answered, its reading would be read here instead.
    assert next_error(smu) == '-221,"Settings conflict"'
    assert next_error(smu) == '0,"No error"'


def test_an_unknown_header_is_an_undefined_header(smu: serial.SerialBase) -> None:
    command(smu, ":SOUR:WOBBLE 3")
    command(smu, "MEASURE?")
    assert next_error(smu) == '-113,"Undefined header"'
    assert next_error(smu) == '-113,"Undefined header"'
    assert next_error(smu) == '0,"No error"'


def test_commands_joined_by_semicolons_run_in_order_and_replies_join_too(
    smu: serial.SerialBase,
) -> None:
    reply = query(smu, ":SOUR:VOLT 1;:OUTP ON;:OUTP?;:SOUR:VOLT?;:BOGUS")
    assert reply == "1;+1.000000E+00"
    assert next_error(smu) == '-113,"Undefined header"'


def test_a_reading_is_voltage_current_overflow_timestamp_status(
    lab: VirtualLab, smu: serial.SerialBase
) -> None:
    for line in ("*RST", ":SOUR:FUNC VOLT", ':SENS:FUNC "CURR"', ":SOUR:VOLT:LEV 1.5", ":OUTP ON"):
        command(smu, line)
    first = READING.match(query(smu, ":READ?") or "")
    time.sleep(0.05)
    second = READING.match(query(smu, ":READ?") or "")
    assert first and second
    assert float(first[1]) == 1.5
    expected = 1.5 * conductance_siemens(lab.world.plate_temperature, 0.0)
    assert float(first[2]) == pytest.approx(expected, rel=1e-5)
    assert float(second[3]) - float(first[3]) == pytest.approx(0.05, abs=0.03)
    assert next_error(smu) == '0,"No error"'


def test_the_current_follows_the_hotplate_and_peaks_near_165_degrees(tmp_path: Path) -> None:
    with VirtualLab(tmp_path, tau=0.05) as lab:
        hotplate = open_port(lab.hotplate.link_path, NAMUR_LINE)
        smu = open_port(lab.smu.link_path, SCPI_LINE)
        try:
            for line in ("*RST", ":SOUR:FUNC VOLT", ":SOUR:VOLT 1", ":OUTP ON"):
                command(smu, line)
            cold = read_current(smu)
            send(hotplate, "OUT_SP_1 165")
            send(hotplate, "START_1")
            time.sleep(0.5)  # ten time constants
            at_optimum = read_current(smu)
            send(hotplate, "OUT_SP_1 250")
            time.sleep(0.5)
            too_hot = read_current(smu)
        finally:
            hotplate.close()
            smu.close()
    assert at_optimum == pytest.approx(conductance_siemens(165.0, 0.0), rel=1e-3)
    assert at_optimum > 100 * cold
    assert at_optimum > 10 * too_hot


def test_headers_are_case_insensitive_in_short_or_long_form(smu: serial.SerialBase) -> None:
    command(smu, ":source:voltage:level 2")
    assert query(smu, ":SOUR:VOLT?") == "+2.000000E+00"
    command(smu, "SOUR:VOLT -0.25")
    assert query(smu, ":Source:Voltage?") == "-2.500000E-01"
    command(smu, ":OUTPUT ON")
    assert query(smu, ":outp?") == "1"
    command(smu, ":OUTP:STAT 0")
    assert query(smu, ":OUTP?") == "0"
    assert query(smu, ":SYST:ERR:NEXT?") == '0,"No error"'


def test_reset_turns_the_output_off_at_zero_volts_and_clears_errors(
    lab: VirtualLab, smu: serial.SerialBase
) -> None:
    command(smu, ":SOUR:VOLT 3")
    command(smu, ":OUTP 1")
    command(smu, ":BOGUS")
    command(smu, "*RST")
    assert next_error(smu) == '0,"No error"'
    assert (lab.world.source_voltage, lab.world.output_on) == (0.0, False)


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (":SOUR:VOLT", '-109,"Missing parameter"'),
        ("*RST now", '-108,"Parameter not allowed"'),
        (":READ? 3", '-108,"Parameter not allowed"'),
        (":SOUR:VOLT high", '-104,"Data type error"'),
        (":SOUR:VOLT 500", '-222,"Data out of range"'),
        (":SOUR:FUNC CURR", '-224,"Illegal parameter value"'),
        (':SENS:FUNC "TEMP"', '-224,"Illegal parameter value"'),
        (":OUTP MAYBE", '-224,"Illegal parameter value"'),
    ],
)
def test_a_bad_command_sends_nothing_and_queues_its_error(
    lab: VirtualLab, smu: serial.SerialBase, line: str, error: str
) -> None:
    command(smu, line)
    assert next_error(smu) == error
    assert (lab.world.source_voltage, lab.world.output_on) == (0.0, False)


def test_a_full_error_queue_ends_in_queue_overflow(smu: serial.SerialBase) -> None:
    for _ in range(12):
        command(smu, ":BOGUS")
    errors = [next_error(smu) for _ in range(11)]
    assert errors == ['-113,"Undefined header"'] * 9 + ['-350,"Queue overflow"', '0,"No error"']


def test_a_rejected_command_is_not_executed_and_queues_a_device_error(
    lab: VirtualLab, smu: serial.SerialBase
) -> None:
    lab.smu.faults = Faults(error_rate=1.0)
    command(smu, ":OUTP ON")
    assert query(smu, "*IDN?") is None
    lab.smu.faults = Faults()
    assert next_error(smu) == '-300,"Device-specific error"'
    assert next_error(smu) == '-300,"Device-specific error"'
    assert not lab.world.output_on
