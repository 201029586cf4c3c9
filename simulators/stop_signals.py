"""Run a simulator process until Ctrl-C or SIGTERM, then shut it down in the main thread.

Python's own signal handlers run in the main thread whichever thread the kernel delivers
the signal to. Blocking the signals and waiting in ``sigwait`` instead loses to threads
that exist before the mask is set (numpy's BLAS workers start at import): the kernel may
hand SIGTERM to one of them, and the process dies without shutting down.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """From ``with`` on, SIGINT and SIGTERM are noted instead of ending the process.

    Enter it before starting anything a signal should shut down cleanly, so that a
    signal that arrives early is not lost; :meth:`wait` then returns it.
    """

    def __init__(self) -> None:
        self._received: list[signal.Signals] = []
        self._arrived = threading.Event()
        self._previous: dict[signal.Signals, object] = {}

    def __enter__(self) -> StopSignals:
        self._previous = {sig: signal.signal(sig, self._note) for sig in STOP_SIGNALS}
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def wait(self) -> signal.Signals:
        """Block until SIGINT or SIGTERM has arrived; returns the first."""
        # A timed wait returns to the interpreter often, so the handler runs promptly.
        while not self._arrived.wait(0.2):
            pass
        return self._received[0]

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self._received.append(signal.Signals(signum))
        self._arrived.set()
