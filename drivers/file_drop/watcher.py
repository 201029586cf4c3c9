"""Waiting for the robot: file-system events on local disks, plain polling on shares.

Either way the caller rescans the folder after each wait, so a missed event costs at most
one poll interval, and a share that sends no events still works in ``polling`` mode.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer


class _Wake(FileSystemEventHandler):
    def __init__(self, changed: threading.Event) -> None:
        self._changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._changed.set()


class FolderWatcher:
    """Blocks until something changes in the watched folders or a timeout passes."""

    def __init__(self, folders: list[Path], how: Literal["events", "polling"]) -> None:
        self._folders = folders
        self._how = how
        self._changed = threading.Event()
        self._observer: Observer | None = None

    def start(self) -> None:
        if self._how != "events":
            return
        self._observer = Observer()
        for folder in self._folders:
            self._observer.schedule(_Wake(self._changed), str(folder), recursive=False)
        self._observer.daemon = True
        self._observer.start()

    def wait(self, timeout: float) -> None:
        """Return after ``timeout`` seconds, or sooner when an event arrives."""
        self._changed.wait(timeout)
        self._changed.clear()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
