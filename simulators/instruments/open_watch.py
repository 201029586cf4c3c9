"""Notice when someone opens a file, through Linux inotify.

The standard library has no inotify, so this calls glibc through :mod:`ctypes`. One
instance watches any number of files: closing an inotify descriptor waits for a kernel
grace period (about 10 ms here), adding and removing watches does not.
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import NoReturn

_IN_OPEN = 0x00000020
_EVENT = struct.Struct("iIII")
"""``struct inotify_event`` without its name: watch, mask, cookie, name length."""

_libc = ctypes.CDLL(None, use_errno=True)


class OpenWatch:
    """Tells which watched files were opened; readable (for ``select``) when some were."""

    def __init__(self) -> None:
        descriptor = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if descriptor < 0:
            _raise_errno("inotify_init1")
        self._descriptor = descriptor

    def fileno(self) -> int:
        """The inotify descriptor, for ``select``."""
        return self._descriptor

    def add(self, path: str) -> int:
        """Watch ``path`` for opens; returns the watch's number."""
        watch = _libc.inotify_add_watch(self._descriptor, os.fsencode(path), _IN_OPEN)
        if watch < 0:
            _raise_errno(f"inotify_add_watch {path}")
        return watch

    def remove(self, watch: int) -> None:
        """Stop watching; events already queued for ``watch`` may still be reported."""
        if _libc.inotify_rm_watch(self._descriptor, watch) < 0:
            _raise_errno("inotify_rm_watch")

    def opened(self) -> set[int]:
        """The watches whose file was opened since the last call."""
        watches: set[int] = set()
        while True:
            try:
                data = os.read(self._descriptor, 4096)
            except BlockingIOError:
                return watches
            offset = 0
            while offset < len(data):
                watch, mask, _, name_length = _EVENT.unpack_from(data, offset)
                if mask & _IN_OPEN:
                    watches.add(watch)
                offset += _EVENT.size + name_length

    def close(self) -> None:
        """Stop watching everything."""
        os.close(self._descriptor)


def _raise_errno(what: str) -> NoReturn:
    error = ctypes.get_errno()
    raise OSError(error, f"{what}: {os.strerror(error)}")
