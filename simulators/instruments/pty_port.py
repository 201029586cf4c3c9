"""One pseudo-terminal serving as a virtual instrument's serial port: lines in, lines out.

The device holds the master side; a client opens the slave (``/dev/pts/N``) with pyserial
as it would open ``/dev/ttyUSB0``.

7E1 clients on a pty
--------------------
Linux ptys are always 8N1: the kernel silently turns a requested CS7|PARENB into CS8,
no parity. glibc's ``tcsetattr`` (Debian's 2.36 here) reads the settings back and, when
*nothing* changed and the parity or size it asked for is missing, fails with
``EINVAL``. So a 7E1 client's first configuration of a fresh pty works (it changes the
speed, raw mode, CLOCAL...) but any later one - pyserial applying a new ``timeout``, or
a reopen - changes nothing else and fails. Two things keep 7E1 clients working:

- Each client session gets a fresh pty (:class:`~.pty_device.PtyDevice`
  points its link at a new, never-opened port as soon as a client opens the current
  one), so a reopen always configures a pty nobody configured before.
- Within a session the port keeps one harmless flag, CLOCAL, cleared: pyserial sets
  CLOCAL on every configuration, so each of its ``tcsetattr`` calls changes something.
  (CLOCAL means "ignore the modem's carrier line", which a pty does not have.) The
  port must not clear it between glibc's own set and read-back, so it clears it only
  when the client cannot be configuring: just before each reply (the client is waiting
  to read) and on a quiet line once the client's settings have stood for
  ``SETTLE_TIME``.

What still fails on a pty: configuring an open port twice within about ``SETTLE_TIME``
plus the device's poll interval with no reply in between, and reopening within
microseconds of the first open, before the device has noticed it. On a real serial
adapter 7E1 just works.
"""

from __future__ import annotations

import errno
import os
import re
import termios
import time
import tty

SETTLE_TIME = 0.01
"""Seconds a client's line settings stand before the port clears CLOCAL on a quiet line."""

MAX_LINE_BYTES = 4096
"""Longest unterminated input kept; beyond it the input is noise and is discarded."""

_LINE_BREAK = re.compile(rb"[\r\n]")


class PtyPort:
    """A pty whose slave a client opens as a serial port; lines are CR and/or LF terminated.

    Until a client has opened it (then :meth:`hand_over`), the port holds its slave open
    too, so the master reads nothing rather than EIO. Afterwards only the client holds
    it, and the client's close ends the session.
    """

    def __init__(self) -> None:
        master, slave = os.openpty()
        # Raw, or the slave's line discipline would echo our replies back to us and turn
        # CR into LF before a client has configured it.
        tty.setraw(master)
        os.set_blocking(master, False)
        self.path = os.ttyname(slave)
        """The slave's ``/dev/pts/N``."""
        self._master = master
        self._slave: int | None = slave
        self._input = b""
        self._clocal_seen_since: float | None = None

    def fileno(self) -> int:
        """The master, for ``select``: readable when the client sent bytes or hung up."""
        return self._master

    def hand_over(self) -> None:
        """A client has opened the slave: stop holding it, so its close ends the session."""
        self._close_slave()

    def read_lines(self) -> list[str] | None:
        """The complete, non-blank lines received since the last call, without terminators
        or surrounding blanks; ``None`` once the client has closed the port."""
        try:
            chunk = os.read(self._master, 4096)
        except BlockingIOError:
            return []
        except OSError as error:
            # A master reads EIO once no one holds the slave open.
            if error.errno == errno.EIO:
                return None
            raise
        if not chunk:
            return None
        *lines, self._input = _LINE_BREAK.split(self._input + chunk)
        if len(self._input) > MAX_LINE_BYTES:
            self._input = b""
        decoded = (raw.decode("ascii", errors="replace").strip() for raw in lines)
        return [line for line in decoded if line]

    def write_line(self, payload: bytes) -> None:
        """Send ``payload`` followed by CR LF. Bytes nobody can receive are lost."""
        # The client is waiting for this reply, not configuring its port.
        self._clear_clocal()
        data = memoryview(payload + b"\r\n")
        while data:
            try:
                written = os.write(self._master, data)
            except BlockingIOError:
                # Nobody drains the line: like a UART with no listener, the rest is lost.
                return
            except OSError as error:
                # The client hung up; read_lines reports it to the device.
                if error.errno == errno.EIO:
                    return
                raise
            data = data[written:]

    def clear_clocal_once_settled(self) -> None:
        """Clear CLOCAL if the client's last configuration is ``SETTLE_TIME`` old, so it is
        never cleared between glibc's set and read-back of that configuration."""
        if not termios.tcgetattr(self._master)[2] & termios.CLOCAL:
            self._clocal_seen_since = None
            return
        now = time.monotonic()
        if self._clocal_seen_since is None:
            self._clocal_seen_since = now
        elif now - self._clocal_seen_since >= SETTLE_TIME:
            self._clear_clocal()

    def close(self) -> None:
        """Close the pty: a client still holding the slave gets I/O errors."""
        self._close_slave()
        os.close(self._master)

    def _close_slave(self) -> None:
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    def _clear_clocal(self) -> None:
        # Termios requests on the master act on the slave.
        attributes = termios.tcgetattr(self._master)
        self._clocal_seen_since = None
        if attributes[2] & termios.CLOCAL:
            attributes[2] &= ~termios.CLOCAL
            termios.tcsetattr(self._master, termios.TCSANOW, attributes)
