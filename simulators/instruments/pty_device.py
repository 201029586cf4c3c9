"""A line-oriented virtual instrument on pseudo-terminals, with injectable faults.

The device publishes a stable symlink (``<folder>/hotplate`` -> ``/dev/pts/N``) that a
serial driver opens exactly as it would open ``/dev/ttyUSB0``. A background thread reads
command lines (terminated by CR, LF or both), asks the subclass for the reply and writes
it back terminated by CR LF.

The link always points at a pty no client has opened yet: as soon as a client opens it,
the device creates the next one and re-points the link (atomically), while it goes on
serving the client on the pty it opened until the client closes it. A reopen through
the link therefore always finds a fresh pty, which is what keeps 7E1 clients working
(see :mod:`tansaku.simulators.instruments.pty_port`).
"""

from __future__ import annotations

import contextlib
import enum
import os
import random
import select
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from tansaku.simulators.instruments.open_watch import OpenWatch
from tansaku.simulators.instruments.pty_port import PtyPort

POLL_INTERVAL = 0.01
"""Seconds the reader waits for input before it looks after the ports' settings again."""

# Garbage never contains a line break, so a garbled reply is still exactly one line.
_NOISE_BYTES = bytes(value for value in range(256) if value not in b"\r\n")


@dataclass(frozen=True)
class Faults:
    """What goes wrong with a device, drawn per command from the device's seeded generator.

    Each command draws its three chances in a fixed order whatever the rates are, so a
    device with a given seed misbehaves identically on every run with the same commands.
    """

    drop_rate: float = 0.0
    """Probability (0 to 1) that a reply is computed but never sent."""
    garble_rate: float = 0.0
    """Probability (0 to 1) that a reply is replaced by noise bytes of about its length."""
    error_rate: float = 0.0
    """Probability (0 to 1) that the device rejects a command: it is not executed and the
    device's own error reply (see :meth:`PtyDevice.error_reply`) takes its place."""
    delay: float = 0.0
    """Seconds the device waits before each reply."""
    vanish_after: int | None = None
    """Answer this many commands after (re)appearing, then disconnect when the next one
    arrives (that command is lost, as if it reached an unplugged port); the count starts
    again when the device is back. ``None``: never."""
    vanish_downtime: float = 1.0
    """Seconds an automatic disconnection (``vanish_after``) lasts."""

    def __post_init__(self) -> None:
        for name in ("drop_rate", "garble_rate", "error_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        if self.delay < 0:
            raise ValueError(f"delay must not be negative, got {self.delay} s")
        if self.vanish_after is not None and self.vanish_after < 1:
            raise ValueError(f"vanish_after must be at least 1, got {self.vanish_after}")
        if self.vanish_downtime < 0:
            raise ValueError(f"vanish_downtime must not be negative, got {self.vanish_downtime}")


class Direction(enum.Enum):
    """Which way a line crossed the wire, seen from the device."""

    RECEIVED = "received"
    SENT = "sent"


@dataclass(frozen=True)
class HistoryEntry:
    """One line that crossed the wire."""

    direction: Direction
    text: str
    """The line without its terminator; a garbled reply as its bytes decoded as Latin-1."""
    at: float
    """``time.monotonic()`` seconds when it crossed."""


class PtyDevice(ABC):
    """A virtual serial instrument: subclasses say what a line means, this class does the rest.

    Use it as a context manager, or call :meth:`start` and :meth:`close`. Subclasses
    implement :meth:`handle` and :meth:`error_reply`; both run on the device's reader
    thread only.
    """

    def __init__(
        self,
        link_path: str | os.PathLike[str],
        *,
        faults: Faults | None = None,
        seed: int | str | None = 0,
        keep_history: bool = True,
    ) -> None:
        """``link_path``: the symlink clients open; ``seed`` makes faults repeatable;
        ``keep_history``: keep every line in :attr:`history` (unbounded memory)."""
        self.link_path = Path(link_path)
        self._faults = faults or Faults()
        self._random = random.Random(seed)
        self._keep_history = keep_history
        self._history: list[HistoryEntry] = []
        # Guards faults, history, presence and the pending disconnection; waited on by
        # vanish() and wait_present().
        self._state = threading.Condition()
        self._present = False
        self._pty_path: str | None = None
        self._pending_downtime: float | None = None
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        # The ports belong to the reader thread once it runs. The spare is the one the
        # link points at, not yet opened by a client; the others are clients' sessions.
        self._ports: list[PtyPort] = []
        self._spare: PtyPort | None = None
        self._opens: OpenWatch | None = None
        self._spare_watch = 0
        self._wake_read: int | None = None
        self._wake_write: int | None = None
        self._commands_since_appearance = 0

    # Behaviour of a concrete instrument ----------------------------------------------

    @abstractmethod
    def handle(self, line: str) -> str | None:
        """Execute one command line (terminator and surrounding blanks removed); return
        the reply line without its terminator, or ``None`` to send nothing."""

    @abstractmethod
    def error_reply(self, line: str) -> str | None:
        """The device rejects ``line`` instead of executing it (the ``error_rate`` fault):
        return what it sends instead, or ``None`` to send nothing."""

    # Life cycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Create the pty, publish the link and start answering. Returns ``self``."""
        if self._thread is not None or self._closing.is_set():
            raise RuntimeError(f"{self.link_path} was already started")
        if self.link_path.exists() and not self.link_path.is_symlink():
            raise FileExistsError(f"{self.link_path} exists and is not a symlink")
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._opens = OpenWatch()
        self._thread = threading.Thread(
            target=self._serve, name=f"pty-device {self.link_path.name}", daemon=True
        )
        try:
            self._appear()
        except BaseException:
            self._disappear()
            self._release_controls()
            raise
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop answering, close the ptys and remove the link. Safe to call twice."""
        self._closing.set()
        if self._thread is None:
            return
        self._wake()
        self._thread.join()
        self._release_controls()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Run-time controls -----------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The faults now in force; assign a new :class:`Faults` to change them at run time."""
        with self._state:
            return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        with self._state:
            self._faults = faults

    @property
    def pty_path(self) -> str | None:
        """The ``/dev/pts/N`` the link points at now (the next client's); ``None`` while
        the device has vanished."""
        with self._state:
            return self._pty_path

    @property
    def history(self) -> list[HistoryEntry]:
        """A copy of every line received and sent so far (if ``keep_history``)."""
        with self._state:
            return list(self._history)

    @property
    def received(self) -> list[str]:
        """The command lines received so far (if ``keep_history``)."""
        return [entry.text for entry in self.history if entry.direction is Direction.RECEIVED]

    def vanish(self, downtime: float) -> None:
        """Disconnect like an unplugged USB adapter, for ``downtime`` seconds.

        Every pty is closed (a client's reads and writes fail, its ``/dev/pts/N`` is
        gone) and the link removed; after ``downtime`` a new pty is created and the same
        link points to it, so a client that reopens the link reconnects. Returns once the
        device is gone; does nothing if it is already gone.
        """
        if downtime < 0:
            raise ValueError(f"downtime must not be negative, got {downtime} s")
        if self._thread is None:
            raise RuntimeError(f"{self.link_path} is not running")
        with self._state:
            if not self._present:
                return
            self._pending_downtime = downtime
        self._wake()
        if threading.current_thread() is not self._thread:
            with self._state:
                self._state.wait_for(lambda: not self._present)

    def wait_received(self, condition: Callable[[list[str]], bool], timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until ``condition(received)`` holds, e.g. until a
        command without a reply has arrived (needs ``keep_history``)."""
        with self._state:
            return self._state.wait_for(
                lambda: condition(
                    [e.text for e in self._history if e.direction is Direction.RECEIVED]
                ),
                timeout,
            )

    def wait_present(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the device to be (back) on its link."""
        with self._state:
            return self._state.wait_for(lambda: self._present, timeout)

    # The reader thread -----------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._closing.is_set():
                downtime = self._take_pending_downtime()
                if downtime is not None:
                    self._disappear()
                    if self._closing.wait(downtime):
                        return
                    self._appear()
                    continue
                self._serve_once()
        finally:
            # Also when a handler raised: a crashed device looks unplugged, not hung.
            self._disappear()

    def _serve_once(self) -> None:
        watched = [self._wake_read, self._opens, *self._ports]
        readable, _, _ = select.select(watched, [], [], POLL_INTERVAL)
        if self._wake_read in readable:
            self._drain_wake_pipe()
        if self._opens in readable and self._spare_watch in self._opens.opened():
            self._replace_spare()
        for port in [port for port in self._ports if port in readable]:
            self._serve_port(port)
            if self._closing.is_set() or self._vanish_pending:
                return
        for port in self._ports:
            port.clear_clocal_once_settled()

    def _replace_spare(self) -> None:
        # A client opened the spare: it becomes that client's session, and the link moves
        # to a fresh port for whoever opens it next.
        opened, opened_watch = self._spare, self._spare_watch
        self._add_spare()
        self._opens.remove(opened_watch)
        opened.hand_over()

    def _add_spare(self) -> None:
        self._spare = PtyPort()
        self._ports.append(self._spare)
        self._spare_watch = self._opens.add(self._spare.path)
        # Under the lock, so pty_path never disagrees with the link for a reader.
        with self._state:
            self._publish_link(self._spare.path)
            self._pty_path = self._spare.path

    def _serve_port(self, port: PtyPort) -> None:
        lines = port.read_lines()
        if lines is None:
            # The client closed its session.
            self._ports.remove(port)
            port.close()
            return
        for line in lines:
            self._process(line, port)
            if self._closing.is_set() or self._vanish_pending:
                # Whatever followed is lost with the port.
                return

    def _process(self, line: str, port: PtyPort) -> None:
        faults = self.faults
        vanish_after = faults.vanish_after
        if vanish_after is not None and self._commands_since_appearance >= vanish_after:
            with self._state:
                self._pending_downtime = faults.vanish_downtime
            return
        self._record(Direction.RECEIVED, line)
        error_chance, drop_chance, garble_chance = (self._random.random() for _ in range(3))
        rejected = error_chance < faults.error_rate
        reply = self.error_reply(line) if rejected else self.handle(line)
        if reply is not None:
            self._send_reply(
                port,
                reply,
                delay=faults.delay,
                drop=drop_chance < faults.drop_rate,
                garble=garble_chance < faults.garble_rate,
            )
        self._commands_since_appearance += 1

    def _send_reply(
        self, port: PtyPort, reply: str, *, delay: float, drop: bool, garble: bool
    ) -> None:
        if delay > 0 and self._closing.wait(delay):
            return
        if drop:
            return
        valid = reply.encode("ascii")
        payload = self._garbage_like(valid) if garble else valid
        port.write_line(payload)
        self._record(Direction.SENT, payload.decode("latin-1"))

    def _garbage_like(self, valid: bytes) -> bytes:
        length = self._random.randint(max(1, len(valid) - 2), len(valid) + 2)
        garbage = valid
        while garbage == valid:
            garbage = bytes(self._random.choices(_NOISE_BYTES, k=length))
        return garbage

    # Appearing and disappearing ----------------------------------------------------------

    def _appear(self) -> None:
        self._commands_since_appearance = 0
        self._add_spare()
        with self._state:
            self._present = True
            self._state.notify_all()

    def _disappear(self) -> None:
        # All under the lock: whoever sees the device present finds its link, and whoever
        # sees it gone finds every pty closed.
        with self._state:
            if self._pty_path is not None:
                self._remove_link(self._pty_path)
                self._opens.remove(self._spare_watch)
            for port in self._ports:
                port.close()
            self._ports = []
            self._spare = None
            self._pty_path = None
            self._present = False
            self._state.notify_all()

    def _publish_link(self, pty_path: str) -> None:
        # A link under a temporary name, renamed over the old one: a client opening the
        # link never finds it missing or half-written.
        temporary = self.link_path.with_name(f".{self.link_path.name}.{uuid.uuid4().hex}")
        os.symlink(pty_path, temporary)
        os.replace(temporary, self.link_path)

    def _remove_link(self, pty_path: str) -> None:
        # Only our own link: someone may have re-pointed it meanwhile.
        with contextlib.suppress(FileNotFoundError):
            if os.readlink(self.link_path) == pty_path:
                self.link_path.unlink()

    # Small helpers -------------------------------------------------------------------------

    @property
    def _vanish_pending(self) -> bool:
        with self._state:
            return self._pending_downtime is not None

    def _take_pending_downtime(self) -> float | None:
        with self._state:
            downtime, self._pending_downtime = self._pending_downtime, None
            return downtime

    def _record(self, direction: Direction, text: str) -> None:
        if self._keep_history:
            with self._state:
                self._history.append(HistoryEntry(direction, text, time.monotonic()))
                self._state.notify_all()

    def _release_controls(self) -> None:
        os.close(self._wake_read)
        os.close(self._wake_write)
        self._wake_read = self._wake_write = None
        self._opens.close()
        self._opens = None
        self._thread = None

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"\0")

    def _drain_wake_pipe(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_read, 512):
                pass
