"""pyserial clients for the virtual instruments, opened the way a driver opens a real port."""

from __future__ import annotations

import os

import serial

NAMUR_LINE = {
    "baudrate": 9600,
    "bytesize": serial.SEVENBITS,
    "parity": serial.PARITY_EVEN,
    "stopbits": serial.STOPBITS_ONE,
}
"""IKA NAMUR framing: 9600 7E1."""

SCPI_LINE = {
    "baudrate": 9600,
    "bytesize": serial.EIGHTBITS,
    "parity": serial.PARITY_NONE,
    "stopbits": serial.STOPBITS_ONE,
}
"""Keithley 2400 RS-232 default framing: 9600 8N1."""

READ_TIMEOUT = 0.3
"""Seconds a client waits for a reply: replies take milliseconds, silence costs this."""


def open_port(
    path: str | os.PathLike[str], line: dict[str, object], timeout: float = READ_TIMEOUT
) -> serial.SerialBase:
    """Open ``path`` as the serial driver does: ``serial_for_url`` with every setting."""
    return serial.serial_for_url(os.fspath(path), timeout=timeout, write_timeout=1.0, **line)


def send(client: serial.SerialBase, command: str, terminator: str = "\r\n") -> None:
    """Write one command line."""
    client.write(f"{command}{terminator}".encode("ascii"))


def read_reply(client: serial.SerialBase) -> str | None:
    """The next reply line without CR LF (noise decoded as Latin-1); ``None`` on timeout."""
    raw = client.readline()
    if not raw.endswith(b"\r\n"):
        return None
    return raw[:-2].decode("latin-1")


def ask(client: serial.SerialBase, command: str, terminator: str = "\r\n") -> str | None:
    """Send a query and read its reply; ``None`` when none came within the timeout."""
    send(client, command, terminator)
    return read_reply(client)
