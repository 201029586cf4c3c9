"""One orchestrator per run directory: an OS file lock, released even by ``kill -9``."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from tansaku.errors import RunDirectoryError

LOCK_FILE = ".lock"
OWNER_FILE = ".lock.owner"


class RunDirectoryBusyError(RunDirectoryError):
    """Another live process runs the campaign in this directory."""


class RunDirectoryUnwritableError(RunDirectoryError):
    """The run directory cannot be created or written (read-only, full, no permission)."""


class RunDirectoryLock:
    """Holds ``run_dir`` for this process; a second holder is refused at once.

    Creates ``run_dir`` if needed. Raises :class:`RunDirectoryBusyError` while another
    process holds it and :class:`RunDirectoryUnwritableError` where nothing can be
    written there, before anything else is.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._lock = FileLock(run_dir / LOCK_FILE, timeout=0)

    def __enter__(self) -> RunDirectoryLock:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:
            raise RunDirectoryBusyError(
                f"{self.run_dir} is in use by another tansaku run ({self._owner()}). "
                "Wait for it to finish or stop it, then run again; "
                "`tansaku status` shows its progress meanwhile."
            ) from None
        except OSError as error:
            raise self._unwritable(error) from None
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            (self.run_dir / OWNER_FILE).write_text(json.dumps(owner))
        except OSError as error:
            self._lock.release()
            raise self._unwritable(error) from None
        return self

    def _unwritable(self, error: OSError) -> RunDirectoryUnwritableError:
        return RunDirectoryUnwritableError(
            f"cannot write in the run directory {self.run_dir} ({error.strerror or error}); "
            "make it writable or free some space, or choose another --run-dir. "
            "Nothing was run."
        )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        (self.run_dir / OWNER_FILE).unlink(missing_ok=True)
        self._lock.release()

    def _owner(self) -> str:
        try:
            owner = json.loads((self.run_dir / OWNER_FILE).read_text())
        except (OSError, ValueError):
            return "owner unknown"
        return f"pid {owner['pid']} on {owner['host']}, since {owner['since']}"


def is_held(run_dir: Path) -> bool:
    """Whether a live process runs the campaign of ``run_dir`` right now: one holding the
    directory on this machine, or, for a shared ledger, holding its campaign anywhere."""
    probe = FileLock(run_dir / LOCK_FILE, timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    except OSError:
        # Nothing can be written there (read-only, full): no run can be working in it.
        pass
    else:
        probe.release()
    from tansaku.ledger.ledger import Ledger
    from tansaku.ledger.location import read_pointer

    if read_pointer(run_dir) is None:
        return False
    ledger = Ledger.open(run_dir, create=False)
    try:
        return bool(ledger.is_running())
    finally:
        ledger.close()
