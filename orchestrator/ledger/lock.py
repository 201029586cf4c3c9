"""One orchestrator per run directory: an OS file lock, released even by ``kill -9``."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

LOCK_FILE = ".lock"
OWNER_FILE = ".lock.owner"


class RunDirectoryBusyError(RuntimeError):
    """Another live process runs the campaign in this directory."""


class RunDirectoryLock:
    """Holds ``run_dir`` for this process; a second holder is refused at once."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._lock = FileLock(run_dir / LOCK_FILE, timeout=0)

    def __enter__(self) -> RunDirectoryLock:
        try:
            self._lock.acquire()
        except Timeout:
            raise RunDirectoryBusyError(
                f"{self.run_dir} is in use by another tansaku run ({self._owner()}). "
                "Wait for it to finish or stop it, then run again; "
                "`tansaku status` shows its progress meanwhile."
            ) from None
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (self.run_dir / OWNER_FILE).write_text(json.dumps(owner))
        return self

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
    """Whether a live process holds ``run_dir`` right now."""
    probe = FileLock(run_dir / LOCK_FILE, timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    probe.release()
    return False
