"""What a serial client sees of the pty behind a device's link, 7E1 framing above all."""

from __future__ import annotations

import os
import termios
import time
import tty
from collections.abc import Callable
from pathlib import Path

import pytest
import serial

from tansaku.simulators.instruments import VirtualLab
from tests.simulators.instruments.serial_clients import NAMUR_LINE, ask, open_port, send


def eventually(condition: Callable[[], bool], within: float = 1.0) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_7e1_client_can_reconfigure_close_and_reopen(lab: VirtualLab) -> None:
    for _ in range(20):
        client = open_port(lab.hotplate.link_path, NAMUR_LINE, timeout=1.0)
        assert ask(client, "IN_NAME") == "RCT digital"
        client.timeout = 0.5  # pyserial applies it with tcsetattr
        assert ask(client, "IN_SP_1") == "0.0 1"
        client.timeout = 0.4
        client.close()
        client = open_port(lab.hotplate.link_path, NAMUR_LINE, timeout=1.0)
        assert ask(client, "IN_NAME") == "RCT digital"
        client.close()


def test_a_7e1_client_can_reconfigure_after_a_command_without_reply(
    lab: VirtualLab, hotplate: serial.SerialBase
) -> None:
    send(hotplate, "START_4")
    time.sleep(0.05)  # the port clears CLOCAL once the settings have stood a while
    hotplate.timeout = 0.2
    assert ask(hotplate, "IN_NAME") == "RCT digital"


def test_a_bare_pty_really_refuses_a_7e1_reconfiguration() -> None:
    # The control experiment: without the device's care, the second tcsetattr fails.
    master, slave = os.openpty()
    tty.setraw(master)
    try:
        client = serial.serial_for_url(os.ttyname(slave), timeout=1.0, **NAMUR_LINE)
        try:
            client.timeout = 0.5
        except termios.error as error:
            assert error.args[0] == 22  # EINVAL
        else:
            pytest.skip("this C library accepts 7E1 on a pty; nothing to work around")
        finally:
            client.close()
    finally:
        os.close(slave)
        os.close(master)


def test_the_link_moves_to_a_fresh_pty_once_a_client_opened_it(lab: VirtualLab) -> None:
    first = os.readlink(lab.hotplate.link_path)
    client = open_port(lab.hotplate.link_path, NAMUR_LINE)
    assert eventually(lambda: os.readlink(lab.hotplate.link_path) != first)
    assert lab.hotplate.pty_path == os.readlink(lab.hotplate.link_path)
    assert ask(client, "IN_NAME") == "RCT digital"  # still served on the pty it opened
    client.close()
    # The finished session's pty goes away with it.
    assert eventually(lambda: not os.path.exists(first))


def test_two_clients_at_once_each_get_their_own_replies(lab: VirtualLab) -> None:
    spare = lab.hotplate.pty_path
    first = open_port(lab.hotplate.link_path, NAMUR_LINE)
    assert eventually(lambda: lab.hotplate.pty_path != spare)
    second = open_port(lab.hotplate.link_path, NAMUR_LINE)
    try:
        send(first, "OUT_SP_1 42")
        assert ask(second, "IN_SP_1") == "42.0 1"
        assert ask(first, "IN_NAME") == "RCT digital"
    finally:
        first.close()
        second.close()


def test_closing_the_device_removes_its_link(lab: VirtualLab) -> None:
    lab.close()
    assert not os.path.lexists(lab.hotplate.link_path)
    assert not os.path.lexists(lab.smu.link_path)


def test_a_regular_file_in_the_way_of_the_link_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "hotplate").write_text("not a device")
    with pytest.raises(FileExistsError), VirtualLab(tmp_path):
        pass
    assert (tmp_path / "hotplate").read_text() == "not a device"
