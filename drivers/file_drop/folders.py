"""Safe moves in the drop folders: atomic writes, archive, quarantine, no links followed.

Every path built here is a folder from the campaign plus one file name that came from a
directory listing or from tansaku itself, so nothing a robot writes can point outside the
configured folders. Files are moved, never deleted.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

MAX_RESULT_BYTES = 1 << 20
"""Result files larger than this are not read: no robot writes a megabyte per experiment."""
SYMLINK = "symbolic link, not followed"
"""Why a link in the drop folders is quarantined: tansaku never reads through one."""


class RefusedFile(ValueError):
    """A file tansaku will not read: a link, not a regular file, or too large."""


def write_atomically(folder: Path, name: str, content: bytes) -> Path:
    """Write ``folder/name`` so that a reader sees no file or the whole file, never half.

    The content goes to a dot-file in the same folder, is flushed to disk, then renamed.
    """
    target = folder / name
    temporary = folder / f".{name}.tmp-{os.getpid()}"
    with open(temporary, "wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, target)
    _sync_folder(folder)
    return target


def move_into(path: Path, folder: Path, name: str | None = None) -> Path:
    """Move ``path`` (a link stays a link) into ``folder``, renaming it if the name is taken."""
    folder.mkdir(parents=True, exist_ok=True)
    target = _free_name(folder, name or path.name)
    try:
        os.rename(path, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        shutil.move(path, target)  # archive on another file system: copy, then remove
    return target


def quarantine(path: Path, folder: Path, reason: str) -> Path:
    """Move ``path`` into ``folder`` with a ``<name>.reason`` file beside it."""
    target = move_into(path, folder)
    write_atomically(folder, f"{target.name}.reason", f"{reason}\n".encode())
    return target


def listing(folder: Path) -> Iterator[os.DirEntry[str]]:
    """Files and links in ``folder``, skipping dot-files (writers' temporary files) and folders."""
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                continue
            yield entry


def read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``; a link, a pipe or an oversized file raises :class:`RefusedFile`."""
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer.
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        # O_NOFOLLOW refuses a link with ELOOP (EMLINK on FreeBSD), which says nothing useful.
        if error.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):
            raise RefusedFile(SYMLINK) from None
        raise
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise RefusedFile("not a regular file")
        content = stream.read(MAX_RESULT_BYTES + 1)
    if len(content) > MAX_RESULT_BYTES:
        raise RefusedFile(f"larger than {MAX_RESULT_BYTES} bytes")
    return content


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, dot, suffix = name.partition(".")
    counter = 1
    while os.path.lexists(target):
        target = folder / f"{stem}~{counter}{dot}{suffix}"
        counter += 1
    return target


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        # Some network file systems refuse fsync on folders; the rename itself is done.
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(descriptor)
