"""Each fault knob, seen from a serial client."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import serial

from tansaku.simulators.instruments import Direction, Faults, VirtualLab
from tests.simulators.instruments.serial_clients import (
    NAMUR_LINE,
    READ_TIMEOUT,
    ask,
    open_port,
    send,
)


def test_a_dropped_reply_never_comes_but_the_command_was_executed(
    lab: VirtualLab, hotplate: serial.SerialBase
) -> None:
    send(hotplate, "OUT_SP_1 75")
    lab.hotplate.faults = Faults(drop_rate=1.0)
    started = time.monotonic()
    assert ask(hotplate, "IN_SP_1") is None
    assert time.monotonic() - started >= READ_TIMEOUT * 0.9
    lab.hotplate.faults = Faults()
    assert ask(hotplate, "IN_SP_1") == "75.0 1"
    assert lab.hotplate.received == ["OUT_SP_1 75", "IN_SP_1", "IN_SP_1"]


def test_a_garbled_reply_is_one_line_of_noise_about_as_long(
    lab: VirtualLab, hotplate: serial.SerialBase
) -> None:
    lab.hotplate.faults = Faults(garble_rate=1.0)
    replies = [ask(hotplate, "IN_NAME") for _ in range(5)]
    for reply in replies:
        assert reply is not None
        assert reply != "RCT digital"
        assert abs(len(reply) - len("RCT digital")) <= 2
    assert len(set(replies)) == 5
    lab.hotplate.faults = Faults()
    assert ask(hotplate, "IN_NAME") == "RCT digital"


def test_a_delayed_reply_arrives_no_sooner_than_the_delay(
    lab: VirtualLab, hotplate: serial.SerialBase
) -> None:
    lab.hotplate.faults = Faults(delay=0.15)
    started = time.monotonic()
    assert ask(hotplate, "IN_NAME") == "RCT digital"
    assert time.monotonic() - started >= 0.15


def test_faults_set_at_construction_apply_from_the_first_command(tmp_path: Path) -> None:
    with VirtualLab(tmp_path, faults=Faults(error_rate=1.0)) as lab:
        client = open_port(lab.hotplate.link_path, NAMUR_LINE)
        try:
            assert ask(client, "IN_NAME") == "E 1"
        finally:
            client.close()


def test_faults_are_repeatable_with_the_same_seed(tmp_path: Path) -> None:
    def replies_sent(seed: int) -> list[str]:
        faults = Faults(drop_rate=0.3, garble_rate=0.3, error_rate=0.2)
        with VirtualLab(tmp_path / str(seed), seed=seed, faults=faults) as lab:
            client = open_port(lab.hotplate.link_path, NAMUR_LINE)
            for _ in range(30):
                send(client, "IN_NAME")
            deadline = time.monotonic() + 2.0
            while len(lab.hotplate.received) < 30 and time.monotonic() < deadline:
                time.sleep(0.01)
            client.close()
        # Closed: the device finished the command it was on, so the history is complete.
        return [entry.text for entry in lab.hotplate.history if entry.direction is Direction.SENT]

    first = replies_sent(seed=7)
    assert first == replies_sent(seed=7)
    assert first != replies_sent(seed=8)


def test_a_vanished_device_fails_client_io_and_comes_back_on_the_same_link(
    lab: VirtualLab, hotplate: serial.SerialBase
) -> None:
    assert ask(hotplate, "IN_NAME") == "RCT digital"
    session_pty = os.path.realpath(f"/proc/self/fd/{hotplate.fd}")
    started = time.monotonic()
    lab.hotplate.vanish(0.3)

    with pytest.raises(serial.SerialException):
        ask(hotplate, "IN_NAME")
    assert not os.path.lexists(lab.hotplate.link_path)
    assert lab.hotplate.pty_path is None
    with pytest.raises(serial.SerialException):
        open_port(session_pty, NAMUR_LINE)
    with pytest.raises(serial.SerialException):
        open_port(lab.hotplate.link_path, NAMUR_LINE)
    hotplate.close()

    assert lab.hotplate.wait_present(timeout=2.0)
    assert time.monotonic() - started >= 0.3
    client = open_port(lab.hotplate.link_path, NAMUR_LINE)
    try:
        assert ask(client, "IN_NAME") == "RCT digital"
    finally:
        client.close()


def test_vanish_after_disconnects_after_that_many_commands(lab: VirtualLab) -> None:
    lab.hotplate.faults = Faults(vanish_after=3, vanish_downtime=0.2)
    client = open_port(lab.hotplate.link_path, NAMUR_LINE)
    assert ask(client, "IN_NAME") == "RCT digital"
    send(client, "OUT_SP_1 60")
    assert ask(client, "IN_SP_1") == "60.0 1"
    with pytest.raises(serial.SerialException):
        ask(client, "START_1")  # the fourth command meets an unplugged port
    client.close()

    assert lab.hotplate.wait_present(timeout=2.0)
    client = open_port(lab.hotplate.link_path, NAMUR_LINE)
    try:
        assert ask(client, "IN_SP_1") == "60.0 1"  # the world went on without it
    finally:
        client.close()
    assert lab.hotplate.received == ["IN_NAME", "OUT_SP_1 60", "IN_SP_1", "IN_SP_1"]
    assert not lab.world.heating


def test_vanishing_twice_or_negatively_is_handled(lab: VirtualLab) -> None:
    with pytest.raises(ValueError):
        lab.smu.vanish(-1.0)
    lab.smu.vanish(5.0)
    lab.smu.vanish(0.0)  # already gone: nothing happens
    assert lab.smu.pty_path is None
    lab.close()  # does not wait out the downtime


@pytest.mark.parametrize(
    "settings",
    [
        {"drop_rate": 1.5},
        {"garble_rate": -0.1},
        {"error_rate": 2.0},
        {"delay": -1.0},
        {"vanish_after": 0},
        {"vanish_downtime": -1.0},
    ],
)
def test_nonsense_faults_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Faults(**settings)
