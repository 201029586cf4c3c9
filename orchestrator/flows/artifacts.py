"""What the Prefect UI shows of a running campaign: its latest experiments, a summary and
its progress, published as Prefect artifacts after new results and at the stop.

Artifacts are observability, like the rest of Prefect here: the ledger holds the
campaign. Publishing takes at most ``PUBLISHING_SHARE`` of the loop's time, and a
Prefect server that stops answering costs the loop one failed call, then the artifacts
wait ``QUIET_AFTER_FAILURE_S`` before trying again, so a dead server neither stops nor
stalls the campaign. Keys are stable per run directory, so the UI's Artifacts page
shows each campaign's latest version under its own three keys.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shlex
import time
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from tansaku.ledger import ExperimentRecord, Ledger
from tansaku.report.summary import CampaignSummary, summarize

logger = logging.getLogger("tansaku.flow")

LATEST_EXPERIMENTS = 10
"""Rows in the table of latest experiments: enough to see the trend, small to send."""
PARETO_LISTED = 10
"""Pareto-optimal experiments the summary lists by name; the rest are counted."""
REPORT_FILE = Path("report") / "report.html"
"""Where ``tansaku report RUN_DIR`` writes the report, relative to the run directory
(``tansaku.report.build``, not imported here: it loads matplotlib, which the loop needs not)."""
QUIET_AFTER_FAILURE_S = 300.0
"""After a failed call, how long (wall clock) the artifacts wait before trying again.

Prefect's client retries a server that stopped answering (~6-10 s measured) before it
gives up; waiting this long between tries keeps that to one stall in five minutes, and
artifacts come back that soon after the server does."""
PUBLISHING_SHARE = 0.1
"""The most of the loop's wall time that publishing may take.

Each publication waits on the Prefect server for three writes (median 65-140 ms on a
busy 2-core machine, a fifth of a dry run's experiment: benchmarks/artifact_overhead.py);
after one that took t seconds, the next result is published no sooner than 9 t later. A dry run then
publishes every few results; an instrument that takes minutes gets every result."""
KEY_SLUG_LENGTH = 40
"""The campaign name's share of an artifact key, so the key stays readable."""

KINDS = ("experiments", "summary", "progress")


def artifact_key(campaign_name: str, run_dir: Path, kind: str) -> str:
    """``<campaign slug>-<8 hex of the run directory>-<kind>``, as Prefect allows keys.

    Prefect keys hold lowercase letters, digits and dashes only: the name is folded to
    ASCII (``Perovskite_Ränge`` → ``perovskite-range``) and its other characters become
    dashes. The hash of the resolved run directory keeps two runs of one campaign (or
    two campaigns whose names fold alike) from writing over each other's artifacts.
    """
    ascii_name = unicodedata.normalize("NFKD", campaign_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower())[:KEY_SLUG_LENGTH].strip("-")
    digest = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:8]
    return f"{slug or 'campaign'}-{digest}-{kind}"


def latest_rows(summary: CampaignSummary, last: int = LATEST_EXPERIMENTS) -> list[dict[str, Any]]:
    """The ``last`` latest experiments, one flat row each, newest last.

    Columns: ``experiment``, ``status``, one per parameter (where it was really made),
    one per measured quantity, then ``failure`` (for a rejected proposal, why).
    """
    rows = []
    for e in summary.experiments[-last:]:
        row: dict[str, Any] = {"experiment": e.id, "status": e.status}
        row.update({name: _rounded(e.point.get(name)) for name in summary.parameter_names})
        row.update({name: _rounded((e.values or {}).get(name)) for name in summary.measured})
        row["failure"] = e.failure or (e.decision_reason if e.status == "rejected" else None)
        rows.append(row)
    return rows


def progress_percent(summary: CampaignSummary) -> float:
    """Experiments with a result (failed ones count, as for the budget) per budget, in %."""
    if summary.budget <= 0:
        return 100.0
    return min(100.0, 100.0 * summary.finished / summary.budget)


def summary_markdown(summary: CampaignSummary, run_dir: Path) -> str:
    """The campaign at a glance: progress, best so far, state, and where its report is.

    The report is never built here (figures would slow the loop); the text names the
    command that builds or refreshes it, and says when it was last built.
    """
    counts = summary.counts
    mode = " (dry run)" if summary.record.mode == "dry-run" else ""
    lines = [
        f"# {_escaped(summary.name)}{mode}",
        "",
        f"**Progress:** {summary.finished} of {summary.budget} experiments · "
        f"done {counts['done']} · failed {counts['failed']} · running {counts['running']} · "
        f"queued {counts['proposed']}"
        + (f" · rejected {counts['rejected']}" if counts["rejected"] else ""),
        "",
        *_best_lines(summary),
        "",
        f"**Stopped:** {summary.record.stop_reason}"
        if summary.record.stop_reason
        # A run killed or interrupted publishes nothing more: the time tells a stale page.
        else f"**State:** running (as of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        *_report_lines(run_dir),
    ]
    return "\n".join(lines) + "\n"


def _best_lines(summary: CampaignSummary) -> list[str]:
    if len(summary.objectives) > 1:
        names = [o.name for o in summary.objectives]
        front = summary.pareto_front
        if not front:
            return ["**Pareto front:** no successful experiment yet"]
        units = {o.name: o.unit for o in summary.objectives}
        listed = [
            f"- #{e.id}: "
            + ", ".join(_code(f"{n}={_short((e.values or {})[n], units[n])}") for n in names)
            for e in front[:PARETO_LISTED]
        ]
        more = [f"- and {len(front) - PARETO_LISTED} more"] if len(front) > PARETO_LISTED else []
        heading = f"**Pareto front** ({', '.join(map(_escaped, names))})"
        return [f"{heading}: {len(front)} experiments", *listed, *more]
    best = summary.best
    objective = summary.objectives[0]
    heading = f"**Best so far** ({_escaped(summary.objective)}, {summary.goal}):"
    if best is None:
        return [f"{heading} no successful experiment yet"]
    point = ", ".join(_code(f"{name}={_short(value)}") for name, value in best.point.items())
    value = _short(best.objective, objective.unit)
    return [f"{heading} **{value}** at experiment #{best.id} ({point})"]


def _report_lines(run_dir: Path) -> list[str]:
    report = (run_dir / REPORT_FILE).resolve()
    command = f"`tansaku report {shlex.quote(str(run_dir.resolve()))}`"
    if not report.is_file():
        return [f"**Report:** not built yet; {command} builds it at `{report}`."]
    built = datetime.fromtimestamp(report.stat().st_mtime, UTC)
    return [
        f"**Report:** [{report}]({report.as_uri()}) (built {built:%Y-%m-%d %H:%M} UTC); "
        f"{command} refreshes it."
    ]


def _short(value: object, unit: str | None = None) -> str:
    shown = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{shown} {unit}" if unit else shown


def _escaped(text: str) -> str:
    """``text`` with Markdown's punctuation escaped, to read as written."""
    return re.sub(r"([\\`*_\[\]<>|~])", r"\\\1", text)


def _code(text: str) -> str:
    """``text`` as a Markdown code span: a SMILES string's brackets or a name's
    underscores are shown as they are, never read as links or emphasis."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _rounded(value: object) -> object:
    """A float to 4 significant digits, still a number; anything else as it is."""
    return float(f"{value:.4g}") if isinstance(value, float) else value


class CampaignArtifacts:
    """Publishes one campaign's artifacts from inside its flow run.

    The table and summary get a new version under their keys at each publication; the
    progress artifact is created once per flow run and updated after that.
    """

    def __init__(self, ledger: Ledger, campaign_name: str, run_dir: Path) -> None:
        self.ledger = ledger
        self.run_dir = run_dir
        self.keys = {kind: artifact_key(campaign_name, run_dir, kind) for kind in KINDS}
        self._progress_id: UUID | None = None
        self._published_finished: int | None = None
        self._quiet_until = 0.0
        self._next_at = 0.0

    def after_results(self, records: Sequence[ExperimentRecord]) -> None:
        """Publish if ``records`` (the ledger just read) hold a result not yet published,
        unless the last publication was too recent (``PUBLISHING_SHARE``)."""
        finished = sum(r.status in ("done", "failed") for r in records)
        if finished != self._published_finished and time.monotonic() >= self._next_at:
            self.publish()

    def publish(self) -> None:
        """Publish the ledger as it is now: table, summary and progress.

        A Prefect error is logged, never raised: the campaign goes on without its
        artifacts, and tries again after ``QUIET_AFTER_FAILURE_S``.
        """
        started = time.monotonic()
        if started < self._quiet_until:
            return
        summary = summarize(self.ledger)
        assert summary is not None, "the runner records the campaign before the flow starts"
        try:
            self._send(summary)
        except httpx.HTTPError as error:
            self._quiet_until = time.monotonic() + QUIET_AFTER_FAILURE_S
            logger.warning(
                "could not publish the campaign's Prefect artifacts (%s: %s); the ledger "
                "holds every result, the next try is in %g s",
                type(error).__name__,
                error,
                QUIET_AFTER_FAILURE_S,
            )
            return
        self._published_finished = summary.finished
        finished = time.monotonic()
        self._next_at = finished + (finished - started) * (1 / PUBLISHING_SHARE - 1)

    def _send(self, summary: CampaignSummary) -> None:
        name = summary.name
        create_table_artifact(
            latest_rows(summary),
            key=self.keys["experiments"],
            description=f"{name}: the latest {LATEST_EXPERIMENTS} experiments",
        )
        create_markdown_artifact(
            summary_markdown(summary, self.run_dir),
            key=self.keys["summary"],
            description=f"{name}: progress, best so far, state and report",
        )
        progress = progress_percent(summary)
        description = f"{name}: {summary.finished} of {summary.budget} experiments"
        if self._progress_id is None:
            self._progress_id = create_progress_artifact(
                progress, key=self.keys["progress"], description=description
            )
        else:
            update_progress_artifact(self._progress_id, progress, description=description)
