"""The terminal prompt of ``tansaku run`` for a campaign worked by hand.

While the campaign waits for people, a background thread shows the experiments waiting
for a result (again whenever that set changes, whoever changed it) and reads what the
person types in the same terminal::

    7 conductance_ms=812 haze=3      the result of #7
    7 conductance_ms=812 temp_c=143  ... made at 143 (a parameter), not as proposed
    conductance_ms=812               the same, when only one experiment waits
    7 fail: film cracked             #7 failed, and why
    approve 7 / reject 7 too hot     a proposal waiting for approval (driver.approve)

Each answer goes through :meth:`~tansaku.people.campaign.OpenCampaign.tell` (or
``approve``/``reject``) with its checks, into the ledger the campaign flow watches; a line
that cannot be taken writes nothing and prints the reason. No Prefect, no torch.

Threading: the thread waits in ``select()`` on the input's file descriptor for at most
:data:`POLL_S`, then reads the ledger's version, so :meth:`TerminalPrompt.stop` returns
within one such wait (plus any answer being written). POSIX only: ``select()`` on stdin.
"""

from __future__ import annotations

import codecs
import os
import re
import select
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.text import Text

from tansaku.errors import TansakuError
from tansaku.ledger import ExperimentRecord
from tansaku.people.answers import AnswerError, parse_assignments, point_text
from tansaku.people.campaign import OpenCampaign, open_run

POLL_S = 0.3
"""How long the thread waits for input before it looks at the ledger again."""

RESULT_HINT = "enter: [ID] name=value ... | [ID] fail: reason"
APPROVAL_HINT = "enter: approve ID | reject ID reason"
TELL_HINT = "tansaku tell {} ID name=value ..."

WaitingView = Callable[[Sequence[ExperimentRecord], str], RenderableType]
"""Shows the waiting experiments (running: a result; proposed: approval) under a title,
e.g. ``lambda records, title: waiting_table(loaded.campaign.space, records, title)``."""

_DECISION = re.compile(r"(approve|reject)\s+#?(\d+)\s*(.*)", re.IGNORECASE | re.DOTALL)
_ID = re.compile(r"#?(\d+)(?:\s+(.*))?", re.DOTALL)
# `fail: reason`, `failed: reason` or `fail reason`; `fail=3` is a quantity named fail.
_FAILURE = re.compile(r"fail(?:ed)?(?:\s*:|\s|$)\s*(.*)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ResultLine:
    """A result as typed: values (text, checked later) or a failure, for an id or the one."""

    experiment_id: int | None
    """``None``: the person left the id out, meaning the only experiment waiting."""
    values: dict[str, str]
    failed: str | None = None


@dataclass(frozen=True)
class DecisionLine:
    """``approve ID`` or ``reject ID reason``."""

    experiment_id: int
    approved: bool
    reason: str


def parse_line(line: str) -> ResultLine | DecisionLine | None:
    """What a typed line asks for; ``None`` for an empty line.

    Raises :class:`~tansaku.people.answers.AnswerError` for a line of neither form.
    """
    line = line.strip()
    if not line:
        return None
    decision = _DECISION.fullmatch(line)
    if decision:
        verb, number, reason = decision.groups()
        approved, reason = verb.lower() == "approve", reason.strip()
        if approved and reason:
            raise AnswerError(f"approve takes the id alone, e.g. approve {number}")
        if not approved and not reason:
            raise AnswerError(f"say why the proposal is rejected, e.g. reject {number} too hot")
        return DecisionLine(int(number), approved, reason)
    experiment_id = None
    given = _ID.fullmatch(line)
    if given:
        experiment_id, line = int(given.group(1)), (given.group(2) or "").strip()
        if not line:
            raise AnswerError(
                f"#{experiment_id}: give its result, e.g. {experiment_id} name=value "
                f"or {experiment_id} fail: reason"
            )
    failure = _FAILURE.fullmatch(line)
    if failure:
        reason = failure.group(1).strip()
        if not reason:
            raise AnswerError("say why the experiment failed, e.g. fail: film cracked")
        return ResultLine(experiment_id, {}, reason)
    # `haze = 3` is meant as `haze=3`: join the spaces around `=` before splitting.
    words = re.sub(r"\s*=\s*", "=", line).split()
    return ResultLine(experiment_id, parse_assignments(words))


class TerminalPrompt:
    """Shows what waits for people and takes their answers, in a daemon thread.

    >>> with TerminalPrompt(run_dir, console):
    ...     run_the_campaign()          # the flow waits on the ledger meanwhile

    The thread opens the run directory itself (its own SQLite connection). It never
    closes ``input_stream``; end of input (Ctrl-D) ends the reading only, and the
    waiting experiments are still shown, with ``tansaku tell`` as the way to answer.
    """

    def __init__(
        self,
        run_dir: Path,
        console: Console,
        input_stream: IO[Any] | None = None,
        view: WaitingView | None = None,
    ) -> None:
        """``input_stream``: a file with a descriptor (default ``sys.stdin``); ``view``:
        how to show the waiting experiments (default: one plain line each)."""
        self.run_dir = Path(run_dir)
        self.console = console
        self.view = view
        # Looked up now rather than as a default argument, so a replaced sys.stdin counts.
        # Held, not only its descriptor: a stream collected would close the descriptor,
        # and the number would come back for the next file opened (the ledger's own).
        self.input_stream = sys.stdin if input_stream is None else input_stream
        self._fd = self.input_stream.fileno()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._open_error: TansakuError | None = None

    def __enter__(self) -> TerminalPrompt:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the thread; returns once it has shown what waits now.

        Raises what :func:`~tansaku.people.campaign.open_run` raises for a run directory
        that holds no campaign (the thread has ended then).
        """
        if self._thread is not None:
            return
        self._stopping.clear()
        self._ready.clear()
        self._open_error = None
        self._thread = threading.Thread(target=self._run, name="tansaku-prompt", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._open_error is not None:
            self._thread.join()
            self._thread = None
            raise self._open_error

    def stop(self) -> None:
        """Stop the thread: within :data:`POLL_S`, or once the answer being written is in."""
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join()
        self._thread = None

    # The thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            with open_run(self.run_dir) as campaign:
                session = _Session(campaign, self.console, self.view, self._fd, self._stopping)
                session.loop(self._ready)
        except TansakuError as error:
            if not self._ready.is_set():
                self._open_error = error  # start() raises it
            else:
                # The ledger became unreadable mid-run: say so, as the flow will.
                self.console.print(Text(f"the prompt stopped: {error}", style="red"))
        finally:
            # start() waits for this: it must not hang on a thread that ended early.
            self._ready.set()


class _Session:
    """The thread's state: its ledger connection, what it last showed, the unread input."""

    def __init__(
        self,
        campaign: OpenCampaign,
        console: Console,
        view: WaitingView | None,
        fd: int,
        stopping: threading.Event,
    ) -> None:
        self.campaign = campaign
        self.console = console
        self.view = view
        self.fd = fd
        self.stopping = stopping
        self.reading = True
        self.pending = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.version: int | None = None
        self.listed: tuple[tuple[int, str], ...] = ()
        """What was last shown as waiting (id, status): shown again only when it changes."""
        declared = campaign.loaded.campaign
        self.units = {p.name: getattr(p, "unit", None) for p in declared.space}
        self.measured = [*declared.objectives, *declared.outcomes]
        self.approve = declared.driver.approve

    def loop(self, ready: threading.Event) -> None:
        """Show what waits, set ``ready``, then read and watch until stopped."""
        self._show_changes()
        ready.set()
        while not self.stopping.is_set():
            if self.reading and not _in_background(self.fd):
                readable, _, _ = select.select([self.fd], [], [], POLL_S)
                if readable:
                    self._read()
            else:
                self.stopping.wait(POLL_S)
            self._show_changes()

    # Input -----------------------------------------------------------------------------

    def _read(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            # A hung-up terminal (EIO) or an unreadable stand-in for one (nohup): as at EOF.
            data = b""
        if data:
            self.pending += self.decoder.decode(data)
            *lines, self.pending = self.pending.split("\n")
            for line in lines:
                self._answer(line)
            return
        # End of input: a line left without its newline (Ctrl-D typed mid-line) counts.
        rest = self.pending + self.decoder.decode(b"", final=True)
        self.pending = ""
        if rest.strip():
            self._answer(rest)
        self.reading = False
        self._say(
            f"input closed; enter results from a shell: {TELL_HINT.format(self.campaign.run_dir)}",
            "yellow",
        )

    def _answer(self, line: str) -> None:
        try:
            parsed = parse_line(line)
            if parsed is None:
                # Enter on its own shows again what waits, lost under the run's log lines.
                self._show(force=True)
            elif isinstance(parsed, DecisionLine):
                self._decide(parsed)
            else:
                self._tell(parsed)
        except TansakuError as error:
            # AnswerError, ExperimentStateError, a ledger that cannot be written: the
            # sentence is the whole message, and the prompt takes the next line.
            self._say(str(error), "red")

    def _tell(self, line: ResultLine) -> None:
        experiment_id = line.experiment_id
        if experiment_id is None:
            experiment_id = self._the_one_running()
        parameters = {k: v for k, v in line.values.items() if k in self.units}
        values = {k: v for k, v in line.values.items() if k not in self.units}
        self.campaign.tell(
            experiment_id, values, failed=line.failed, actual=parameters or None, via="prompt"
        )
        failed = f" (failed: {line.failed})" if line.failed else ""
        self._say(f"✓ #{experiment_id} recorded{failed}", "green")

    def _the_one_running(self) -> int:
        running = [r.id for r in self.campaign.waiting() if r.status == "running"]
        if len(running) == 1:
            return running[0]
        if not running:
            raise AnswerError("no experiment waits for a result now")
        ids = ", ".join(f"#{i}" for i in running)
        raise AnswerError(
            f"{len(running)} experiments wait for a result ({ids}): start the line with "
            f"the id, e.g. {running[0]} name=value"
        )

    def _decide(self, line: DecisionLine) -> None:
        if line.approved:
            self.campaign.approve(line.experiment_id)
            self._say(f"✓ #{line.experiment_id} approved", "green")
        else:
            self.campaign.reject(line.experiment_id, line.reason)
            self._say(f"✓ #{line.experiment_id} rejected", "green")

    # Output ----------------------------------------------------------------------------

    def _show_changes(self) -> None:
        version = self.campaign.ledger.version()
        if version != self.version:
            self.version = version
            self._show(force=False)

    def _show(self, *, force: bool) -> None:
        """Print what waits for people, if it changed since last shown (or ``force``)."""
        running, awaiting = [], []
        for record in self.campaign.waiting():
            if record.status == "running":
                running.append(record)
            elif self.approve and record.approved is None:
                awaiting.append(record)
        # An approved proposal waits for the flow, not for a person: it leaves the list.
        listed = tuple((r.id, r.status) for r in [*running, *awaiting])
        if listed == self.listed and not force:
            return
        self.listed = listed
        if not listed:
            if force:
                self._say("nothing waits for a person now")
            return
        records, title = [*running, *awaiting], _title(len(running), len(awaiting))
        table = self.view(records, title) if self.view else self._plain(records, title)
        # One print, so that the run's log lines cannot land between the table and hints.
        self.console.print(Group(table, self._hints(bool(running), bool(awaiting))))

    def _plain(self, records: Sequence[ExperimentRecord], title: str) -> Text:
        lines = [Text(f"{title}:", style="bold")]
        space = self.campaign.loaded.campaign.space
        for r in records:
            approval = "  (to approve)" if r.status == "proposed" else ""
            lines.append(Text(f"  #{r.id}  {point_text(space, r.parameters)}{approval}"))
        return Text("\n").join(lines)

    def _hints(self, results: bool, approvals: bool) -> Text:
        lines = []
        run_dir = self.campaign.run_dir
        if results:
            quantities = ", ".join(
                f"{q.name} ({q.unit})" if q.unit else q.name for q in self.measured
            )
            lines.append(Text(f"measure: {quantities}"))
            hint = RESULT_HINT if self.reading else f"from a shell: {TELL_HINT.format(run_dir)}"
            lines.append(Text(hint, style="cyan"))
        if approvals:
            shell = f"tansaku approve {run_dir} ID"
            hint = f"{APPROVAL_HINT}, or {shell}" if self.reading else f"from a shell: {shell}"
            lines.append(Text(hint, style="cyan"))
        return Text("\n").join(lines)

    def _say(self, sentence: str, style: str = "") -> None:
        self.console.print(Text(sentence, style=style))


def _title(results: int, approvals: int) -> str:
    """``2 experiments wait for a result``, ``1 proposal waits for approval``, or both."""
    first, n = ("experiment", results) if results else ("proposal", approvals)
    title = f"{n} {first}{'s' * (n > 1)} {'waits' if n == 1 else 'wait'} for "
    title += "a result" if results else "approval"
    if results and approvals:
        title += f", {approvals} proposal{'s' * (approvals > 1)} for approval"
    return title


def _in_background(fd: int) -> bool:
    """Whether ``fd`` is this process's terminal and another job holds it: reading it
    then would stop the whole run (SIGTTIN), so the prompt waits to be in front again."""
    try:
        return os.tcgetpgrp(fd) != os.getpgrp()
    except OSError:
        # Not the controlling terminal (a pipe, a file, another pty): reading never stops us.
        return False
