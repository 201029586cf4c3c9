"""The ``file_drop`` driver: requests out through one folder, results back through another.

For robots and vendor programs that cannot be called but read and write files. Up to
``slots`` experiments are in flight at once; each result is matched to its experiment by
the id inside it (never by arrival order), and anything that cannot be matched safely
is quarantined with a reason. All state the driver needs after a restart is in the
folders and the ledger, so results that arrive while tansaku is down are picked up.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from drivers.base import (
    CampaignContext,
    Completion,
    DriverConfig,
    Experiment,
    InstrumentError,
    Measurement,
)
from drivers.file_drop import folders
from drivers.file_drop.config import FileDropConfig
from drivers.file_drop.formats import (
    MalformedFile,
    decode_nimo_results,
    decode_result,
    encode_nimo_request,
    encode_request,
    request_name,
)
from drivers.file_drop.watcher import FolderWatcher
from drivers.units import format_duration

logger = logging.getLogger("tansaku.file_drop")

IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", "~")
"""Names robots commonly give files they are still writing; never read, never quarantined."""
NIMO_INPUT_END = "inputend.txt"
NIMO_OUTPUT_END = "outputend.txt"
NIMO_RESULTS = "results.csv"


@dataclass(frozen=True)
class _Pending:
    experiment: Experiment
    submitted_at: datetime
    deadline: datetime


class FileDropDriver:
    """Keeps up to ``slots`` experiments with a lab robot through drop folders."""

    config_model: ClassVar[type[DriverConfig]] = FileDropConfig

    def __init__(self, config: DriverConfig, context: CampaignContext) -> None:
        if not isinstance(config, FileDropConfig):
            raise TypeError(f"FileDropDriver needs a FileDropConfig, got {type(config)}")
        self._config = config
        self._campaign = context.name
        self._parameters = list(context.parameters)
        self._objectives = list(context.objectives)
        paths = config.folders(context.base_dir)
        self._outbox, self._inbox = paths["outbox"], paths["inbox"]
        self._archive, self._quarantine = paths["archive"], paths["quarantine"]
        self._pending: dict[int, _Pending] = {}
        self._first_seen: dict[str, tuple[tuple[int, int], float]] = {}
        self._acknowledged = False
        self._watcher = FolderWatcher([self._inbox, self._outbox], config.watch)

    # The driver protocol ---------------------------------------------------------------

    def connect(self) -> None:
        for folder in (self._outbox, self._inbox, self._archive, self._quarantine):
            folder.mkdir(parents=True, exist_ok=True)
        self._watcher.start()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def free_slots(self) -> int:
        if self._config.mode == "nimo":
            return 0 if self._pending else self._config.slots
        return self._config.slots - len(self._pending)

    def submit(self, experiments: Sequence[Experiment]) -> None:
        if len(experiments) > self.free_slots():
            raise ValueError(f"{len(experiments)} experiments for {self.free_slots()} free slots")
        submitted = self.now()
        deadline = submitted + self._config.time_limit
        try:
            if self._config.mode == "nimo":
                self._write_round(experiments)
            else:
                for experiment in experiments:
                    self._write_request(experiment, deadline)
        except OSError as error:
            raise InstrumentError(f"cannot write to the outbox {self._outbox}: {error}") from error
        for experiment in experiments:
            self._pending[experiment.id] = _Pending(experiment, submitted, deadline)
        self._acknowledged = False

    def resume(self, experiment: Experiment, submitted_at: datetime) -> None:
        deadline = submitted_at + self._config.time_limit
        self._pending[experiment.id] = _Pending(experiment, submitted_at, deadline)

    def collect(self) -> list[Completion]:
        completions = self._scan()
        if not completions and self._pending:
            self._watcher.wait(self._wait_seconds())
            completions = self._scan()
        return completions

    def close(self) -> None:
        self._watcher.stop()

    # Files mode ------------------------------------------------------------------------

    def _write_request(self, experiment: Experiment, expires_at: datetime) -> None:
        layout = self._config.request
        content = encode_request(experiment, self._parameters, layout, expires_at)
        folders.write_atomically(self._outbox, request_name(experiment, layout), content)

    def _scan(self) -> list[Completion]:
        scan = self._scan_nimo if self._config.mode == "nimo" else self._scan_inbox
        try:
            completions = scan()
        except OSError as error:
            # A network share can drop out for a while; the experiments keep running.
            logger.warning("cannot read the drop folders (%s); trying again", error)
            completions = []
        return completions + self._expire()

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
                self._reject(path, "a symbolic link: tansaku does not follow links")
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
        except (OSError, ValueError) as error:
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
        label = pending.experiment.label
        archived = self._archive_result(path, f"{label}{self._config.result.suffix}")
        self._archive_request(request_name(pending.experiment, self._config.request))
        logger.info("result for %s: %s", label, result.values or result.failure)
        return Completion(
            result.experiment_id,
            Measurement(
                values=result.values,
                started_at=pending.submitted_at,
                finished_at=self.now(),
                failure=f"the robot reported: {result.failure}" if result.failure else None,
                raw={"result_file": str(archived), "fields": result.fields},
            ),
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

    # Time limits ------------------------------------------------------------------------

    def _expire(self) -> list[Completion]:
        now = self.now()
        expired = [p for p in self._pending.values() if p.deadline <= now]
        if not expired:
            return []
        limit = format_duration(self._config.time_limit)
        if self._config.mode == "nimo":
            round_note = self._withdraw_round()
            notes = {p.experiment.id: round_note for p in expired}
        else:
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

    def _wait_seconds(self) -> float:
        wait = self._config.poll_interval.total_seconds()
        if self._first_seen:
            wait = min(wait, self._config.result.stable_for.total_seconds() / 2 + 0.05)
        if self._config.mode == "nimo" and self._config.nimo.handshake and not self._acknowledged:
            wait = min(wait, 1.0)
        next_deadline = min(p.deadline for p in self._pending.values())
        return max(0.01, min(wait, (next_deadline - self.now()).total_seconds()))

    # NIMS-OS mode -----------------------------------------------------------------------

    def _round_name(self) -> str:
        """The request file of the round in flight, named by its first and last ids."""
        return _round_file(self._campaign, list(self._pending))

    def _write_round(self, experiments: Sequence[Experiment]) -> None:
        ordered = sorted(experiments, key=lambda e: e.id)
        content = encode_nimo_request(ordered, self._parameters)
        name = _round_file(self._campaign, [e.id for e in ordered])
        folders.write_atomically(self._outbox, name, content)
        folders.write_atomically(self._outbox, NIMO_INPUT_END, b"")

    def _scan_nimo(self) -> list[Completion]:
        if not self._pending:
            self._reject_stray_round_output()
            return []
        if self._config.nimo.handshake and not self._acknowledged:
            if not os.path.lexists(self._outbox / NIMO_INPUT_END):
                self._acknowledged = True
            else:
                return self._check_acknowledgement()
        done_marker = self._inbox / NIMO_OUTPUT_END
        if not os.path.lexists(done_marker):
            return []
        stem = self._round_name().removesuffix(".csv")
        results = self._inbox / NIMO_RESULTS
        if not os.path.lexists(results):
            self._reject(done_marker, f"{NIMO_OUTPUT_END} arrived without {NIMO_RESULTS}")
            return []
        ordered = [self._pending[i] for i in sorted(self._pending)]
        try:
            rows = decode_nimo_results(
                folders.read_regular_file(results), len(ordered), self._objectives
            )
        except (MalformedFile, ValueError, OSError) as error:
            self._reject(results, f"malformed: {error} (round {stem})")
            self._reject(done_marker, f"belongs to the {NIMO_RESULTS} quarantined beside it")
            return []
        archived = folders.move_into(results, self._archive / "results", f"{stem}-results.csv")
        folders.move_into(done_marker, self._archive / "results", f"{stem}-{NIMO_OUTPUT_END}")
        self._archive_request(self._round_name())
        if os.path.lexists(self._outbox / NIMO_INPUT_END):
            folders.move_into(
                self._outbox / NIMO_INPUT_END, self._archive / "requests", f"{stem}-inputend.txt"
            )
        self._pending.clear()
        finished = self.now()
        return [
            Completion(
                pending.experiment.id,
                Measurement(
                    values=values,
                    started_at=pending.submitted_at,
                    finished_at=finished,
                    raw={"result_file": str(archived), "row": row},
                ),
            )
            for row, (pending, values) in enumerate(zip(ordered, rows, strict=True), start=1)
        ]

    def _check_acknowledgement(self) -> list[Completion]:
        """With the handshake on: fail the round if the robot never deleted inputend.txt."""
        submitted = min(p.submitted_at for p in self._pending.values())
        window = self._config.nimo.acknowledge_within
        now = self.now()
        if now - submitted < window:
            return []
        withdrawn = self._withdraw_round()
        failure = (
            f"the robot did not acknowledge the round (it leaves {NIMO_INPUT_END} in place "
            f"for longer than {format_duration(window)}); {withdrawn}"
        )
        completions = [
            Completion(p.experiment.id, Measurement({}, p.submitted_at, now, failure))
            for p in self._pending.values()
        ]
        self._pending.clear()
        return completions

    def _withdraw_round(self) -> str:
        expired = self._archive / "expired"
        request = self._outbox / self._round_name()
        for path in (request, self._outbox / NIMO_INPUT_END):
            if os.path.lexists(path):
                folders.move_into(path, expired)
        return f"round {request.name} withdrawn to {expired}"

    def _reject_stray_round_output(self) -> None:
        for name in (NIMO_RESULTS, NIMO_OUTPUT_END):
            path = self._inbox / name
            if os.path.lexists(path):
                self._reject(path, "no round in flight: a late or unexpected result")


def _id_in_name(name: str, campaign: str) -> int | None:
    """The experiment id a file name claims, if it follows ``<campaign>-<id>``."""
    match = re.match(rf"{re.escape(campaign)}-(\d+)(?!\d)", name)
    return int(match[1]) if match else None


def _round_file(campaign: str, ids: Sequence[int]) -> str:
    """``<campaign>-0004-0006.csv`` for a round of experiments 4 to 6."""
    first, last = min(ids), max(ids)
    span = f"{first:04d}" if first == last else f"{first:04d}-{last:04d}"
    return f"{campaign}-{span}.csv"
