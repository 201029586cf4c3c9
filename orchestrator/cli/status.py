"""What ``tansaku status`` shows: once, or redrawn while the campaign goes on (``--watch``).

Watching only reads: the ledger (SQLite in WAL mode, so a live run's writes never block
it, and each read sees the latest commit) and whether a process holds the run directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.live import Live

from tansaku.cli.views import answer_hints, experiments_table, summary_panel, waiting_table
from tansaku.ledger import Ledger, is_held
from tansaku.report import CampaignSummary, summarize


def status_parts(
    summary: CampaignSummary, run_dir: Path, running: bool, last: int
) -> list[RenderableType]:
    """The summary panel (with its best-so-far line), the ``last`` latest experiments, what
    waits for a person and, as plain strings, the commands that answer it."""
    from pydantic import TypeAdapter

    from tansaku.campaign import Parameter
    from tansaku.cli.people import waiting_for_people

    parts: list[RenderableType] = [
        summary_panel(summary, running=running, waiting=_waiting(run_dir) if running else None)
    ]
    if last > 0 and summary.experiments:
        parts.append(experiments_table(summary, last))
    if records := waiting_for_people(summary):
        # From the ledger's snapshot, not the campaign file: status reads the ledger alone.
        space = TypeAdapter(list[Parameter]).validate_python(summary.record.snapshot["space"])
        parts.append(waiting_table(space, records, "waiting for a person"))
        parts += answer_hints(run_dir, records, summary.measured)
    return parts


def _waiting(run_dir: Path) -> tuple[str, datetime] | None:
    """The instrument the live run in ``run_dir`` waits for, and since when.

    Read apart from the summary, which holds the campaign's experiments only."""
    ledger = Ledger.open(run_dir, create=False)
    try:
        return ledger.waiting()
    finally:
        ledger.close()


def print_status(console: Console, parts: list[RenderableType]) -> None:
    """Print :func:`status_parts`; a command stays on one line, to be copied whole."""
    for part in parts:
        console.print(part, soft_wrap=isinstance(part, str))


def watch_status(console: Console, run_dir: Path, last: int, every_s: float) -> None:
    """Show the status of the campaign in ``run_dir`` again whenever it changes, until it
    has stopped: its ledger records why, and no process holds the run directory.

    On a terminal the status is redrawn in place; elsewhere (a pipe, a file) a fresh one
    is printed after each change: a result, a decision, a proposal, a revision, the stop,
    or the run's process starting or ending. A Ctrl-C stops the watching (the
    ``KeyboardInterrupt`` reaches the caller, the display already closed).

    Args:
        console: where to show it.
        run_dir: the campaign's run directory; its ledger must hold a campaign.
        last: how many recent experiments to list.
        every_s: seconds between two readings of the ledger.
    """
    ledger = Ledger.open(run_dir, create=False)
    try:
        with _display(console, run_dir) as show:
            shown: tuple[object, ...] | None = None
            while True:
                # The lock first: a run that ends between the two readings then shows as
                # still running for one more reading, never as stopped midway.
                running = is_held(run_dir)
                version = ledger.version()
                summary = summarize(ledger)
                assert summary is not None  # the caller checked; a campaign is never removed
                stop_reason = summary.record.stop_reason
                reading = (version, stop_reason, running, ledger.waiting())
                if reading != shown:
                    show(status_parts(summary, run_dir, running, last))
                    shown = reading
                if stop_reason and not running:
                    return
                time.sleep(every_s)
    finally:
        ledger.close()


@contextmanager
def _display(
    console: Console, run_dir: Path
) -> Iterator[Callable[[list[RenderableType]], None]]:
    """How each new status is shown: redrawn in place on a terminal, printed elsewhere."""
    if not console.is_terminal:
        yield lambda parts: print_status(console, parts)
        return
    footer = f"watching {run_dir} · Ctrl-C stops"
    with Live(console=console, auto_refresh=False) as live:
        yield lambda parts: live.update(Group(*parts, footer), refresh=True)
