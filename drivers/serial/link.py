"""One serial device: open it through pyserial, send lines, read replies, keep a transcript."""

from __future__ import annotations

import contextlib
import errno
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import serial

from tansaku.drivers.base import InstrumentError
from tansaku.drivers.serial.protocol import PARITIES, ErrorHandling, LineSettings

PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError)
"""What a failing port raises: on POSIX also termios.error (e.g. EIO once a pty is gone)."""
if sys.platform != "win32":
    import termios

    PORT_ERRORS = (*PORT_ERRORS, termios.error)


class ReplyError(InstrumentError):
    """No usable reply: a timeout, garbage, an unexpected reply or a device error reply."""


class PortUnavailableError(InstrumentError):
    """The device's port cannot be opened: absent, not a serial port, in use, forbidden."""


# errno of a failed open → why, and what the person at the bench can do about it
# besides naming another port.
_OPEN_FAILURES: dict[int, tuple[str, str | None]] = {
    errno.ENOENT: ("it does not exist", "plug the instrument in and switch it on"),
    errno.ENXIO: ("no device answers on it", "plug the instrument in and switch it on"),
    errno.ENODEV: ("no device answers on it", "plug the instrument in and switch it on"),
    errno.ENOTTY: ("it is not a serial port", None),
    errno.EISDIR: ("it is a folder, not a serial port", None),
    errno.EACCES: (
        "permission is denied",
        "add your user to the group that owns it (often dialout) and log in again",
    ),
    errno.EBUSY: ("another program holds it", "close that program"),
    errno.EINVAL: (
        "it refused the line settings",
        "check the protocol's `line` (baudrate, bytesize, parity, stopbits)",
    ),
    errno.ECONNREFUSED: ("nothing listens there", "start the instrument's server"),
}
_OPEN_FAILURES[errno.EPERM] = _OPEN_FAILURES[errno.EACCES]


def _open_failure(name: str, port: str, error: BaseException) -> PortUnavailableError:
    """One sentence: which device, which port, why, and what to do."""
    # pyserial often wraps the OS error in a message; the errno is then on the error it
    # was raised from. OSError and termios.error both carry it as their first argument.
    codes = [
        candidate.args[0]
        for candidate in (error, error.__cause__, error.__context__)
        if candidate is not None and candidate.args and isinstance(candidate.args[0], int)
    ]
    reason, advice = _OPEN_FAILURES.get(
        codes[0] if codes else -1, (f"pyserial reports: {error}", None)
    )
    return PortUnavailableError(
        f"{name}: cannot open the serial port {port} because {reason}; "
        + (f"{advice}, or " if advice else "")
        + f"set driver.devices.{name}.port to the instrument's port "
        + f"(or give it for one run: --port {name}=PORT)"
    )


class Transcript:
    """Every line sent and received, with timestamps, in a text file (appended)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def write(self, device: str, direction: str, text: str) -> None:
        """``direction``: ``>`` sent, ``<`` received, ``!`` an event (timeout, error)."""
        if self._file is not None:
            moment = datetime.now(UTC).isoformat(timespec="milliseconds")
            self._file.write(f"{moment} {device} {direction} {text}\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class DeviceLink:
    """A device on a serial line, opened with ``serial.serial_for_url``.

    Timeouts are pyserial's own (read and write), so a silent device never blocks a thread
    forever; every failure raises :class:`InstrumentError` naming the device.
    """

    def __init__(self, name: str, port: str, line: LineSettings, errors: ErrorHandling) -> None:
        self.name = name
        self.port = port
        self._line = line
        self._errors = errors
        self._serial: serial.SerialBase | None = None

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        line = self._line
        try:
            self._serial = serial.serial_for_url(
                self.port,
                baudrate=line.baudrate,
                bytesize=line.bytesize,
                parity=PARITIES[line.parity],
                stopbits=line.stopbits,
                xonxoff=line.xonxoff,
                rtscts=line.rtscts,
                timeout=line.timeout.total_seconds(),
                write_timeout=line.write_timeout.total_seconds(),
            )
        except (*PORT_ERRORS, ValueError) as error:
            raise _open_failure(self.name, self.port, error) from error

    def close(self) -> None:
        if self._serial is not None:
            port, self._serial = self._serial, None
            # A port that vanished cannot be closed cleanly; letting go of it is enough.
            with contextlib.suppress(*PORT_ERRORS):
                port.close()

    def discard_input(self) -> None:
        """Drop unread bytes, e.g. the reply to a query that was interrupted."""
        port = self._require_open()
        try:
            port.reset_input_buffer()
        except PORT_ERRORS as error:
            raise InstrumentError(f"{self.name}: the port failed: {error}") from error

    def send(self, command: str, transcript: Transcript) -> None:
        """Write one line."""
        port = self._require_open()
        transcript.write(self.name, ">", command)
        try:
            port.write((command + self._line.write_terminator).encode(self._line.encoding))
            port.flush()
        except PORT_ERRORS as error:
            transcript.write(self.name, "!", f"write failed: {error}")
            raise InstrumentError(f"{self.name}: writing {command!r} failed: {error}") from error

    def query(self, command: str, transcript: Transcript, expect: str | None = None) -> str:
        """Write one line and read its reply, which must match ``expect`` if given.

        A timeout, a garbled or unexpected reply, or a device error reply is asked again,
        up to ``line.query_retries`` times; then it raises :class:`InstrumentError`. A
        failing port raises at once.
        """
        for attempt in range(self._line.query_retries + 1):
            try:
                return self._query_once(command, transcript, expect)
            except ReplyError as error:
                if attempt == self._line.query_retries:
                    raise
                transcript.write(self.name, "!", f"{error}; asking again")
                self.discard_input()
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _query_once(self, command: str, transcript: Transcript, expect: str | None) -> str:
        self.send(command, transcript)
        reply = self._read_line(command, transcript)
        pattern = self._errors.reply_pattern
        if pattern is not None and re.search(pattern, reply):
            detail = self._error_queue(transcript)
            raise ReplyError(
                f"{self.name}: device error reply {reply!r} to {command!r}"
                + (f"; error queue: {detail}" if detail else "")
            )
        if expect is not None and not re.search(expect, reply):
            raise ReplyError(
                f"{self.name}: reply {reply!r} to {command!r} does not match {expect!r}"
            )
        return reply

    def _read_line(self, command: str, transcript: Transcript) -> str:
        port = self._require_open()
        terminator = self._line.read_terminator.encode(self._line.encoding)
        try:
            raw = port.read_until(terminator)
        except PORT_ERRORS as error:
            transcript.write(self.name, "!", f"read failed: {error}")
            raise InstrumentError(
                f"{self.name}: reading the reply to {command!r} failed: {error}"
            ) from error
        if not raw.endswith(terminator):
            transcript.write(self.name, "!", f"timeout; partial reply {raw!r}")
            raise ReplyError(
                f"{self.name}: no complete reply to {command!r} within "
                f"{self._line.timeout.total_seconds():g} s (got {raw!r})"
            )
        try:
            reply = raw[: -len(terminator)].decode(self._line.encoding).strip()
        except UnicodeDecodeError:
            transcript.write(self.name, "!", f"undecodable reply {raw!r}")
            raise ReplyError(f"{self.name}: garbled reply {raw!r} to {command!r}") from None
        transcript.write(self.name, "<", reply)
        return reply

    def _error_queue(self, transcript: Transcript) -> str | None:
        query = self._errors.query
        if query is None:
            return None
        self.send(query, transcript)
        return self._read_line(query, transcript)

    def check_error_queue(self, transcript: Transcript) -> None:
        """Raise if the device's error queue holds an error (when a query is configured)."""
        if self._errors.query is None or self._errors.no_error is None:
            return
        reply = self.query(self._errors.query, transcript)
        if not re.search(self._errors.no_error, reply):
            raise InstrumentError(f"{self.name}: device reports an error: {reply!r}")

    def _require_open(self) -> serial.SerialBase:
        if self._serial is None:
            raise InstrumentError(f"{self.name}: the port {self.port} is not open")
        return self._serial
