"""The IKA NAMUR hotplate/stirrer, spoken to through its pty link at 9600 7E1."""

from __future__ import annotations

import re
import time

import pytest
import serial

from tansaku.simulators.instruments import Faults, VirtualLab
from tests.simulators.instruments.serial_clients import ask, send

TEMPERATURE = re.compile(r"^(?P<value>-?\d+\.\d) 1$")


def read_temperature(hotplate: serial.SerialBase) -> float:
    reply = ask(hotplate, "IN_PV_1")
    assert reply is not None
    match = TEMPERATURE.match(reply)
    assert match, reply
    return float(match["value"])


def test_it_names_itself(hotplate: serial.SerialBase) -> None:
    assert ask(hotplate, "IN_NAME") == "RCT digital"


def test_the_plate_heats_towards_the_setpoint_once_started(
    lab: VirtualLab, hotplate: serial.SerialBase
) -> None:
    send(hotplate, "OUT_SP_1 120")
    assert ask(hotplate, "IN_SP_1") == "120.0 1"
    start = read_temperature(hotplate)
    assert start == pytest.approx(22.0, abs=0.1)
    time.sleep(0.2)
    assert read_temperature(hotplate) == pytest.approx(start, abs=0.1)  # heater still off

    send(hotplate, "START_1")
    readings = [start]
    deadline = time.monotonic() + 3.0
    while readings[-1] < 118.0 and time.monotonic() < deadline:
        time.sleep(0.05)
        readings.append(read_temperature(hotplate))
    assert readings[-1] >= 118.0
    assert readings == sorted(readings)
    assert lab.world.heating


def test_the_stirrer_turns_at_its_setpoint_while_on(hotplate: serial.SerialBase) -> None:
    send(hotplate, "OUT_SP_4 600")
    assert ask(hotplate, "IN_SP_4") == "600.0 4"
    assert ask(hotplate, "IN_PV_4") == "0.0 4"
    send(hotplate, "START_4")
    assert ask(hotplate, "IN_PV_4") == "600.0 4"
    send(hotplate, "STOP_4")
    assert ask(hotplate, "IN_PV_4") == "0.0 4"


def test_reset_switches_heater_and_stirrer_off(
    lab: VirtualLab, hotplate: serial.SerialBase
) -> None:
    for command in ("OUT_SP_1 80", "START_1", "OUT_SP_4 300", "START_4"):
        send(hotplate, command)
    assert ask(hotplate, "IN_PV_4") == "300.0 4"
    assert lab.world.heating
    send(hotplate, "RESET")
    assert ask(hotplate, "IN_PV_4") == "0.0 4"
    assert not lab.world.heating
    assert ask(hotplate, "IN_SP_1") == "80.0 1"  # setpoints survive a reset


@pytest.mark.parametrize(
    "command",
    ["OUT_SP_1 341", "OUT_SP_1 -5", "OUT_SP_1 hot", "OUT_SP_1", "OUT_SP_1 1 2", "OUT_SP_4 1600"],
)
def test_out_of_range_or_malformed_setpoints_change_nothing_and_get_no_reply(
    lab: VirtualLab, hotplate: serial.SerialBase, command: str
) -> None:
    send(hotplate, "OUT_SP_1 100")
    send(hotplate, "OUT_SP_4 500")
    send(hotplate, command)
    # Had the command been answered, that answer would be read here instead.
    assert ask(hotplate, "IN_SP_1") == "100.0 1"
    assert ask(hotplate, "IN_SP_4") == "500.0 4"
    assert command in lab.hotplate.received


def test_340_degrees_is_the_highest_setpoint_accepted(hotplate: serial.SerialBase) -> None:
    send(hotplate, "OUT_SP_1 340")
    assert ask(hotplate, "IN_SP_1") == "340.0 1"


@pytest.mark.parametrize("command", ["BOGUS", "in_name", "IN_NAME now", "START_1 2"])
def test_unknown_commands_get_no_reply_but_are_recorded(
    lab: VirtualLab, hotplate: serial.SerialBase, command: str
) -> None:
    send(hotplate, command)
    assert ask(hotplate, "IN_NAME") == "RCT digital"
    assert lab.hotplate.received == [command, "IN_NAME"]
    assert not lab.world.heating


def test_lines_may_end_in_cr_lf_or_either_alone(hotplate: serial.SerialBase) -> None:
    hotplate.write(b"OUT_SP_1 50\rOUT_SP_4 200\n\r\nIN_SP_1\r")
    assert hotplate.readline() == b"50.0 1\r\n"
    assert ask(hotplate, "IN_SP_4", terminator="\n") == "200.0 4"


def test_a_rejected_command_is_answered_e_1_and_not_executed(
    lab: VirtualLab, hotplate: serial.SerialBase
) -> None:
    lab.hotplate.faults = Faults(error_rate=1.0)
    assert ask(hotplate, "OUT_SP_1 90") == "E 1"
    assert ask(hotplate, "IN_SP_1") == "E 1"
    lab.hotplate.faults = Faults()
    assert ask(hotplate, "IN_SP_1") == "0.0 1"


def test_a_test_can_wait_for_a_command_that_gets_no_reply(
    lab: VirtualLab, hotplate: serial.SerialBase
) -> None:
    send(hotplate, "START_1")
    assert lab.hotplate.wait_received(lambda received: "START_1" in received, timeout=5)
    assert lab.world.heating
    assert not lab.hotplate.wait_received(lambda received: "STOP_1" in received, timeout=0.05)
