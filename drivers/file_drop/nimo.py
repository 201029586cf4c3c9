"""NIMS-OS / NIMO mode: one round of ``slots`` experiments at a time, answered by position.

The protocol's files carry no ids: the request is ``<campaign>-<first>-<last>.csv`` plus
``inputend.txt``, the answer a header-less ``results.csv`` plus ``outputend.txt``. So an
answer is tied to its round by when it appears, and this module is strict about when:

- the inbox is cleared (quarantined) before a round is written, so whatever is found
  there afterwards arrived after the request;
- an answer whose files are older than the round's request file was there before it:
  this protects a round resumed after a restart, which nobody watched meanwhile;
- with the handshake, an answer found while ``inputend.txt`` is still in place came
  before the robot took the round, so it answers an earlier one;
- whatever is left in the inbox when a round expires or fails is quarantined then.

An answer tied to the round but unusable (malformed, a link, a marker without results)
fails the round at once: the robot has answered and will not answer that round again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tansaku.drivers.base import Completion, Experiment, Measurement
from tansaku.drivers.file_drop import folders
from tansaku.drivers.file_drop.exchange import Exchange, unless_unreachable
from tansaku.drivers.file_drop.formats import (
    MalformedFile,
    decode_nimo_results,
    encode_nimo_request,
)
from tansaku.units import format_duration

logger = logging.getLogger("tansaku.file_drop")

INPUT_END = "inputend.txt"
OUTPUT_END = "outputend.txt"
RESULTS = "results.csv"


@dataclass
class _Round:
    experiments: list[Experiment]
    """In id order: row n of the answer belongs to the n-th."""
    submitted_at: datetime
    written_ns: int | None
    """The request file's time stamp; looked up on the first scan after a resume."""
    acknowledged: bool = False
    quarantined: list[Path] = field(default_factory=list)
    """Answers quarantined while the robot had not acknowledged the round."""

    @property
    def ids(self) -> list[int]:
        return [e.id for e in self.experiments]

    @property
    def label(self) -> str:
        """``4-6`` for experiments 4 to 6, ``4`` for a round of one."""
        first, last = self.ids[0], self.ids[-1]
        return f"{first}" if first == last else f"{first}-{last}"


class NimoRounds(Exchange):
    """The round in flight, what the inbox holds for it, and what it does not."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._round: _Round | None = None
        self._previous: str | None = None
        """What became of the last round this run saw: ``round 4-6 expired``."""
        self._warned_extra_values = False

    def free_slots(self) -> int:
        """All of them between rounds, none while a round is in flight."""
        return 0 if self._round else self._config.slots

    def submit(self, experiments: Sequence[Experiment], submitted_at: datetime) -> None:
        """Clear the inbox of answers that cannot be this round's, then write the round."""
        ordered = sorted(experiments, key=lambda e: e.id)
        upcoming = _Round(ordered, submitted_at, None)
        if self._previous:
            why = f"arrived after {self._previous} and before round {upcoming.label} was written"
        else:
            why = f"present before round {upcoming.label} was written (left over from before)"
        self._clear_inbox(why)
        if len(ordered) < self._config.slots:
            logger.info(
                "round %s is short: %d of %d slots filled, because the campaign had no more "
                "to send (the end of its budget or candidate pool)",
                upcoming.label,
                len(ordered),
                self._config.slots,
            )
        name = self._request_name(upcoming)
        request = folders.write_atomically(
            self._outbox, name, encode_nimo_request(ordered, self._parameters)
        )
        upcoming.written_ns = request.lstat().st_mtime_ns
        folders.write_atomically(self._outbox, INPUT_END, b"")
        self._round = upcoming

    def resume(self, experiment: Experiment, submitted_at: datetime) -> None:
        """Wait again for a round a previous run wrote; each of its experiments comes here."""
        if self._round is None:
            self._round = _Round([experiment], submitted_at, None)
            return
        self._round.experiments = sorted([*self._round.experiments, experiment], key=lambda e: e.id)
        self._round.submitted_at = min(self._round.submitted_at, submitted_at)

    def in_flight(self) -> bool:
        """Whether a round waits for its answer."""
        return self._round is not None

    def wake_within(self) -> float | None:
        """Seconds until the round needs looking at whatever the folders say; None: no round."""
        current = self._round
        if current is None:
            return None
        now = self._clock()
        due = current.submitted_at + self._config.time_limit
        if not self._config.nimo.handshake or current.acknowledged:
            return (due - now).total_seconds()
        due = min(due, current.submitted_at + self._config.nimo.acknowledge_within)
        # The acknowledgement is a file deleted in the outbox: looked for at least every
        # second, since network shares send no events.
        return min((due - now).total_seconds(), 1.0)

    def scan(self) -> list[Completion]:
        """The round's completions once answered, failed or expired; else nothing yet."""
        return unless_unreachable(self._scan_round)

    def _scan_round(self) -> list[Completion]:
        current = self._round
        if current is None:
            self._clear_inbox(
                f"arrived after {self._previous}, with no round in flight"
                if self._previous
                else "present with no round in flight"
            )
            return []
        if current.written_ns is None:
            current.written_ns = self._written_ns(current)
        waiting_for_robot = self._config.nimo.handshake and not self._acknowledged(current)
        if waiting_for_robot:
            completions = self._check_acknowledgement(current)
        else:
            completions = self._take_answer(current)
        if completions:
            return completions
        if self._clock() >= current.submitted_at + self._config.time_limit:
            return self._expire(current)
        return []

    # The answer --------------------------------------------------------------------------

    def _take_answer(self, current: _Round) -> list[Completion]:
        results, marker = self._inbox / RESULTS, self._inbox / OUTPUT_END
        for path in (results, marker):
            if self._older_than(path, current):
                self._reject(
                    path,
                    f"present before round {current.label} was written (older than its "
                    f"request file {self._request_name(current)})",
                )
        if not os.path.lexists(marker):
            return []
        if marker.is_symlink():
            return self._fail(
                current,
                [(marker, folders.SYMLINK), (results, f"belongs to the {OUTPUT_END} beside it")],
            )
        if not os.path.lexists(results):
            return self._fail(current, [(marker, f"{OUTPUT_END} arrived without {RESULTS}")])
        try:
            rows = decode_nimo_results(
                folders.read_regular_file(results), len(current.experiments), self._objectives
            )
        except FileNotFoundError:
            return []
        except folders.RefusedFile as error:
            return self._fail(current, self._with_marker(results, str(error)))
        except MalformedFile as error:
            return self._fail(current, self._with_marker(results, f"malformed: {error}"))
        self._warn_extra_values(max(len(row.cells) for row in rows))
        stem = self._request_name(current).removesuffix(".csv")
        archived = folders.move_into(results, self._archive / "results", f"{stem}-results.csv")
        folders.move_into(marker, self._archive / "results", f"{stem}-{OUTPUT_END}")
        self._take_back_request(current, self._archive / "requests")
        self._round = None
        self._previous = f"round {current.label} was answered"
        finished = self._clock()
        logger.info("results for round %s: %s", current.label, [row.values for row in rows])
        return [
            Completion(
                experiment.id,
                Measurement(
                    values=row.values,
                    started_at=current.submitted_at,
                    finished_at=finished,
                    raw={"result_file": str(archived), "row": number, "cells": row.cells},
                ),
            )
            for number, (experiment, row) in enumerate(
                zip(current.experiments, rows, strict=True), start=1
            )
        ]

    def _with_marker(self, results: Path, reason: str) -> list[tuple[Path, str]]:
        return [
            (results, reason),
            (self._inbox / OUTPUT_END, f"belongs to the {RESULTS} quarantined beside it"),
        ]

    def _warn_extra_values(self, width: int) -> None:
        if width <= len(self._objectives) or self._warned_extra_values:
            return
        self._warned_extra_values = True
        logger.warning(
            "%s rows carry %d values but campaign %s knows %d (%s); the extra values are "
            "kept in the raw record and not used",
            RESULTS,
            width,
            self._campaign,
            len(self._objectives),
            ", ".join(self._objectives),
        )

    def _fail(self, current: _Round, rejects: list[tuple[Path, str]]) -> list[Completion]:
        """The robot answered the round unusably: quarantine the answer, fail the round."""
        targets = [self._reject(path, reason) for path, reason in rejects if os.path.lexists(path)]
        self._take_back_request(current, self._archive / "requests")
        failure = f"the robot's answer was quarantined as {targets[0]}: {rejects[0][1]}"
        return self._end(current, f"round {current.label} failed", failure)

    # The handshake -----------------------------------------------------------------------

    def _acknowledged(self, current: _Round) -> bool:
        """Whether the robot took the round; an answer found before it did is quarantined."""
        inputend = self._outbox / INPUT_END
        if current.acknowledged or not os.path.lexists(inputend):
            current.acknowledged = True
            return True
        answer = [self._inbox / RESULTS, self._inbox / OUTPUT_END]
        # Looked at again after the inbox: the robot may have taken the round meanwhile.
        if any(os.path.lexists(p) for p in answer) and os.path.lexists(inputend):
            after = f"after {self._previous} and " if self._previous else ""
            why = (
                f"arrived {after}before the robot acknowledged round {current.label} "
                f"(its {INPUT_END} was still in place)"
            )
            current.quarantined += self._clear_inbox(why)
        return False

    def _check_acknowledgement(self, current: _Round) -> list[Completion]:
        window = self._config.nimo.acknowledge_within
        if self._clock() - current.submitted_at < window:
            return []
        withdrawn = self._take_back_request(current, self._archive / "expired")
        failure = (
            f"the robot did not acknowledge the round ({INPUT_END} still in place after "
            f"{format_duration(window)}); round {self._request_name(current)} withdrawn to "
            f"{withdrawn}"
        )
        if current.quarantined:
            answers = ", ".join(str(p) for p in current.quarantined)
            failure += f"; what it wrote to the inbox meanwhile was quarantined as {answers}"
        return self._end(current, f"round {current.label} failed", failure)

    # Time limit --------------------------------------------------------------------------

    def _expire(self, current: _Round) -> list[Completion]:
        withdrawn = self._take_back_request(current, self._archive / "expired")
        leftovers = self._clear_inbox(
            f"incomplete (no {OUTPUT_END}) when round {current.label} expired"
        )
        failure = (
            f"no result within the time limit of {format_duration(self._config.time_limit)}; "
            f"round {self._request_name(current)} withdrawn to {withdrawn}"
        )
        if leftovers:
            failure += f"; the incomplete answer was quarantined as {leftovers[0]}"
        return self._end(current, f"round {current.label} expired", failure)

    # Shared ------------------------------------------------------------------------------

    def _end(self, current: _Round, what: str, failure: str) -> list[Completion]:
        self._round = None
        self._previous = what
        now = self._clock()
        return [
            Completion(e.id, Measurement({}, current.submitted_at, now, failure))
            for e in current.experiments
        ]

    def _request_name(self, current: _Round) -> str:
        return round_file(self._campaign, current.ids)

    def _take_back_request(self, current: _Round, folder: Path) -> Path:
        """Move the round's request and ``inputend.txt`` (if still there) into ``folder``."""
        name = self._request_name(current)
        stem = name.removesuffix(".csv")
        for path, target in ((self._outbox / name, name), (self._outbox / INPUT_END, None)):
            if os.path.lexists(path):
                folders.move_into(path, folder, target or f"{stem}-{INPUT_END}")
        return folder

    def _written_ns(self, current: _Round) -> int:
        """When the round's request was written, by the file system's clock if it can say."""
        try:
            return (self._outbox / self._request_name(current)).lstat().st_mtime_ns
        except FileNotFoundError:
            # The robot took the request file away: the ledger's time is the next best.
            return int(current.submitted_at.timestamp() * 1e9)

    def _older_than(self, path: Path, current: _Round) -> bool:
        """Whether ``path`` was last changed before the round's request was written.

        The change time counts as well as the modification time: a copy that keeps its
        source's time stamp (robocopy, ``cp -p``), perhaps from a machine whose clock is
        behind, gets a change time when it arrives, and no program can set that.
        """
        assert current.written_ns is not None
        try:
            status = path.lstat()
        except FileNotFoundError:
            return False
        return max(status.st_mtime_ns, status.st_ctime_ns) < current.written_ns

    def _clear_inbox(self, reason: str) -> list[Path]:
        """Quarantine ``results.csv`` and ``outputend.txt``, whichever are there."""
        return [
            self._reject(path, reason)
            for path in (self._inbox / RESULTS, self._inbox / OUTPUT_END)
            if os.path.lexists(path)
        ]

    def _reject(self, path: Path, reason: str) -> Path:
        """Quarantine ``path``; a link is never read, so that is all there is to say of it."""
        if path.is_symlink():
            reason = folders.SYMLINK
        target = folders.quarantine(path, self._quarantine, reason)
        logger.warning("quarantined %s as %s: %s", path.name, target.name, reason)
        return target


def round_file(campaign: str, ids: Sequence[int]) -> str:
    """``<campaign>-0004-0006.csv`` for a round of experiments 4 to 6."""
    first, last = min(ids), max(ids)
    span = f"{first:04d}" if first == last else f"{first:04d}-{last:04d}"
    return f"{campaign}-{span}.csv"
