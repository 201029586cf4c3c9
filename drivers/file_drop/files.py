"""Files mode: one request file per experiment out, one result file per experiment back.

Up to ``slots`` experiments are in flight at once; each result is matched to its
experiment by the id inside it (never by arrival order), and anything that cannot be
matched safely is quarantined with a reason. All state needed after a restart is in the
folders and the ledger, so results that arrive while tansaku is down are picked up.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tansaku.drivers.base import Completion, Experiment, Measurement
from tansaku.drivers.file_drop import folders
from tansaku.drivers.file_drop.config import FileDropConfig
from tansaku.drivers.file_drop.exchange import Exchange, unless_unreachable
from tansaku.drivers.file_drop.formats import (
    MalformedFile,
    decode_result,
    encode_request,
    request_name,
)
from tansaku.units import format_duration

logger = logging.getLogger("tansaku.file_drop")

IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", "~")
"""Names robots commonly give files they are still writing; never read, never quarantined."""


@dataclass(frozen=True)
class _Pending:
    experiment: Experiment
    submitted_at: datetime
    deadline: datetime


class FilesExchange(Exchange):
    """The experiments in flight, each waiting for the result file that names its id."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[int, _Pending] = {}
        self._first_seen: dict[str, tuple[tuple[int, int], float]] = {}
        self._known_fields = _known_result_fields(self._config, self._parameters, self._objectives)

    def free_slots(self) -> int:
        """One per experiment the robot can hold, less those in flight."""
        return self._config.slots - len(self._pending)

    def submit(self, experiments: Sequence[Experiment], submitted_at: datetime) -> None:
        """One request file each, naming its deadline; all written before any is waited for."""
        deadline = submitted_at + self._config.time_limit
        for experiment in experiments:
            self._write_request(experiment, deadline)
        for experiment in experiments:
            self._pending[experiment.id] = _Pending(experiment, submitted_at, deadline)

    def resume(self, experiment: Experiment, submitted_at: datetime) -> None:
        """Wait again for ``experiment``; its request is still in the outbox or taken."""
        deadline = submitted_at + self._config.time_limit
        self._pending[experiment.id] = _Pending(experiment, submitted_at, deadline)

    def in_flight(self) -> bool:
        """Whether any experiment waits for its result file."""
        return bool(self._pending)

    def scan(self) -> list[Completion]:
        """Results matched in the inbox, then the experiments past their time limit."""
        return unless_unreachable(self._scan_inbox) + self._expire()

    def wake_within(self) -> float | None:
        """Seconds until the next deadline, sooner while a result file is still growing."""
        if not self._pending:
            return None
        next_deadline = min(p.deadline for p in self._pending.values())
        due = (next_deadline - self._clock()).total_seconds()
        if self._first_seen:
            # A file still being written is looked at again before it can count as stable.
            due = min(due, self._config.result.stable_for.total_seconds() / 2 + 0.05)
        return due

    # Requests ----------------------------------------------------------------------------

    def _write_request(self, experiment: Experiment, expires_at: datetime) -> None:
        layout = self._config.request
        content = encode_request(experiment, self._parameters, layout, expires_at)
        folders.write_atomically(self._outbox, request_name(experiment, layout), content)

    # Results -----------------------------------------------------------------------------

    def _scan_inbox(self) -> list[Completion]:
        layout = self._config.result
        completions = []
        seen: dict[str, tuple[tuple[int, int], float]] = {}
        for entry in folders.listing(self._inbox):
            path = self._inbox / entry.name
            if entry.name.endswith(IN_PROGRESS_SUFFIXES):
                continue
            if layout.complete == "sentinel" and entry.name.endswith(layout.sentinel_suffix):
                continue
            if entry.is_symlink():
                self._reject(path, folders.SYMLINK)
                continue
            if not entry.name.endswith(layout.suffix):
                self._reject(path, f"not a {layout.suffix} result file")
                continue
            if self._is_complete(entry, seen) and (completion := self._take(path)):
                completions.append(completion)
        self._first_seen = seen
        return completions

    def _is_complete(self, entry: os.DirEntry[str], seen: dict) -> bool:
        layout = self._config.result
        if layout.complete == "atomic":
            return True
        if layout.complete == "sentinel":
            return os.path.lexists(self._inbox / f"{entry.name}{layout.sentinel_suffix}")
        stat = entry.stat(follow_symlinks=False)
        shape = (stat.st_size, stat.st_mtime_ns)
        previous_shape, since = self._first_seen.get(entry.name, (None, time.monotonic()))
        if previous_shape != shape:
            since = time.monotonic()
        seen[entry.name] = (shape, since)
        return time.monotonic() - since >= layout.stable_for.total_seconds()

    def _take(self, path: Path) -> Completion | None:
        """Match one complete result file to its experiment, or quarantine it."""
        try:
            content = folders.read_regular_file(path)
        except FileNotFoundError:
            return None
        except folders.RefusedFile as error:
            self._reject(path, str(error))
            return None
        except OSError as error:
            self._reject(path, f"unreadable: {error}")
            return None
        try:
            result = decode_result(content, self._config.result, self._objectives)
        except MalformedFile as error:
            self._reject(path, f"malformed: {error}")
            return None
        named = _id_in_name(path.name, self._campaign)
        if named is not None and named != result.experiment_id:
            self._reject(
                path,
                f"the file name says experiment {named} but the content says "
                f"{result.experiment_id}; matched to neither",
            )
            return None
        if result.campaign is not None and result.campaign != self._campaign:
            self._reject(path, f"for campaign {result.campaign!r}, not {self._campaign!r}")
            return None
        pending = self._pending.pop(result.experiment_id, None)
        if pending is None:
            self._reject(path, self._why_unexpected(result.experiment_id))
            return None
        self._warn_unknown_fields(result.fields)
        label = pending.experiment.label
        archived = self._archive_result(path, f"{label}{self._config.result.suffix}")
        self._archive_request(request_name(pending.experiment, self._config.request))
        logger.info("result for %s: %s", label, result.values or result.failure)
        return Completion(
            result.experiment_id,
            Measurement(
                values=result.values,
                started_at=pending.submitted_at,
                finished_at=self._clock(),
                failure=f"the robot reported: {result.failure}" if result.failure else None,
                raw={"result_file": str(archived), "fields": result.fields},
            ),
        )

    def _warn_unknown_fields(self, fields: dict[str, str]) -> None:
        """Say once per field that the robot reports something the campaign does not use."""
        unknown = sorted(set(fields) - self._known_fields)
        if not unknown:
            return
        self._known_fields |= set(unknown)
        logger.warning(
            "result files carry %s, which campaign %s does not know (it measures %s); "
            "kept in the raw record and not used",
            ", ".join(repr(name) for name in unknown),
            self._campaign,
            ", ".join(self._objectives),
        )

    def _why_unexpected(self, experiment_id: int) -> str:
        label = f"{self._campaign}-{experiment_id:04d}"
        if os.path.lexists(self._archive / "results" / f"{label}{self._config.result.suffix}"):
            return f"duplicate: experiment {experiment_id} already has a result"
        if any((self._archive / "expired").glob(f"{label}.*")):
            return (
                f"late: experiment {experiment_id} passed its time limit and was recorded as failed"
            )
        return f"unknown experiment id {experiment_id}: tansaku is not waiting for it"

    def _archive_result(self, path: Path, name: str) -> Path:
        archived = folders.move_into(path, self._archive / "results", name)
        sentinel = path.with_name(path.name + self._config.result.sentinel_suffix)
        if self._config.result.complete == "sentinel" and os.path.lexists(sentinel):
            folders.move_into(sentinel, self._archive / "results", archived.name + sentinel.suffix)
        return archived

    def _archive_request(self, name: str) -> None:
        request = self._outbox / name
        if os.path.lexists(request):
            folders.move_into(request, self._archive / "requests")

    def _reject(self, path: Path, reason: str) -> None:
        target = folders.quarantine(path, self._quarantine, reason)
        logger.warning("quarantined %s as %s: %s", path.name, target.name, reason)
        sentinel = path.with_name(path.name + self._config.result.sentinel_suffix)
        if self._config.result.complete == "sentinel" and os.path.lexists(sentinel):
            folders.move_into(sentinel, self._quarantine)

    # Time limits -------------------------------------------------------------------------

    def _expire(self) -> list[Completion]:
        now = self._clock()
        expired = [p for p in self._pending.values() if p.deadline <= now]
        if not expired:
            return []
        limit = format_duration(self._config.time_limit)
        notes = {p.experiment.id: self._withdraw(p.experiment) for p in expired}
        for pending in expired:
            del self._pending[pending.experiment.id]
        return [
            Completion(
                pending.experiment.id,
                Measurement(
                    values={},
                    started_at=pending.submitted_at,
                    finished_at=now,
                    failure=(
                        f"no result within the time limit of {limit}; "
                        f"{notes[pending.experiment.id]}"
                    ),
                ),
            )
            for pending in expired
        ]

    def _withdraw(self, experiment: Experiment) -> str:
        """Take an expired request back so the robot does not run it by mistake later."""
        expired = self._archive / "expired"
        request = self._outbox / request_name(experiment, self._config.request)
        if os.path.lexists(request):
            target = folders.move_into(request, expired)
            return f"request withdrawn to {target}"
        expired.mkdir(parents=True, exist_ok=True)
        folders.write_atomically(
            expired, f"{experiment.label}.expired", b"the robot had taken the request\n"
        )
        return "the robot had already taken the request; a late result will be quarantined"


def _id_in_name(name: str, campaign: str) -> int | None:
    """The experiment id a file name claims, if it follows ``<campaign>-<id>``."""
    match = re.match(rf"{re.escape(campaign)}-(\d+)(?!\d)", name)
    return int(match[1]) if match else None


def _known_result_fields(
    config: FileDropConfig, parameters: Sequence[str], objectives: Sequence[str]
) -> set[str]:
    """Result fields that need no warning: the layout's own, objectives, echoed parameters."""
    result, request = config.result, config.request
    known = {result.id_field, result.campaign_field, result.failure_field}
    known |= {result.field_of(o) for o in objectives}
    known |= {request.field_of(p) for p in parameters} | set(parameters)
    known |= {request.expires_field}
    return {name for name in known if name}
