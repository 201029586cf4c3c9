"""The report as one self-contained HTML page: figures inlined as base64 PNG, the style in
the page, no script and no address outside it, so it opens offline, from an e-mail or a
USB stick, as it was written."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from tansaku.report.figure import ReportFigure, ReportNote
from tansaku.report.summary import CampaignSummary

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; }
.built { color: #666; margin-top: 0; }
table.summary { border-collapse: collapse; margin: 1rem 0 2rem; }
table.summary th { text-align: left; padding: 0.2rem 1.2rem 0.2rem 0; color: #555;
                   font-weight: 600; vertical-align: top; }
table.summary td { padding: 0.2rem 0; }
section { margin: 2.2rem 0; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, p.note { color: #333; max-width: 48rem; }
"""


def render_html(
    summary: CampaignSummary,
    items: Sequence[ReportFigure | ReportNote],
    images: Mapping[str, bytes],
    *,
    running: bool,
    built_at: datetime,
) -> str:
    """The report page.

    Args:
        summary: the campaign, for the title and the summary table.
        items: figures and notes, in page order.
        images: each figure's PNG bytes, by figure name.
        running: a run holds the campaign now.
        built_at: when the report was built (shown; local wall-clock time).
    """
    sections = []
    for item in items:
        if isinstance(item, ReportFigure):
            data = base64.b64encode(images[item.name]).decode("ascii")
            sections.append(
                f'<section id="{escape(item.name)}">\n<h2>{escape(item.title)}</h2>\n'
                f'<figure><img src="data:image/png;base64,{data}" alt="{escape(item.title)}">\n'
                f"<figcaption>{escape(item.caption)}</figcaption></figure>\n</section>"
            )
        else:
            sections.append(
                f"<section>\n<h2>{escape(item.title)}</h2>\n"
                f'<p class="note">{escape(item.text)}</p>\n</section>'
            )
    rows = "\n".join(
        f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>"
        for label, value in summary_rows(summary, running)
    )
    title = f"{summary.name}: campaign report"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(summary.name)}</h1>\n"
        f'<p class="built">Campaign report built {escape(built_at.strftime("%Y-%m-%d %H:%M"))}'
        " by tansaku report.</p>\n"
        f'<table class="summary">\n{rows}\n</table>\n'
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def summary_rows(summary: CampaignSummary, running: bool) -> list[tuple[str, str]]:
    """``(label, value)`` rows of the page's summary table, as plain text."""
    description = summary.record.snapshot.get("description")
    rows = [("campaign", summary.name)]
    if description:
        rows.append(("description", str(description)))
    dry_run = summary.record.mode == "dry-run"
    rows += [
        ("mode", "dry run (simulated, virtual time)" if dry_run else "live"),
        ("budget", f"{summary.budget} experiments"),
        ("experiments", _experiments(summary)),
        ("best", _best(summary)),
    ]
    if acquisitions := summary.acquisitions:
        total = len(summary.experiments)
        rows.append(
            (
                "acquisition",
                ", ".join(f"{name} ({n} of {total} proposals)" for name, n in acquisitions.items()),
            )
        )
    reason = summary.record.stop_reason
    rows.append(("stopped", reason if reason else "still running" if running else "not yet"))
    return rows


def _experiments(summary: CampaignSummary) -> str:
    """Progress in one line: finished of the budget, and what waits for a result."""
    counts = summary.counts
    text = (
        f"{summary.finished}/{summary.budget} finished · done {counts['done']} · "
        f"failed {counts['failed']}"
    )
    waiting = counts["proposed"] + counts["running"]
    return text + (f" · waiting for results {waiting}" if waiting else "")


def _best(summary: CampaignSummary) -> str:
    best = summary.best
    if best is None:
        return "none yet"
    objective = summary.objectives[0]
    unit = f" {objective.unit}" if objective.unit else ""
    point = ", ".join(
        f"{name}={value:.6g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in best.point.items()
    )
    return f"{objective.name} {best.objective:.6g}{unit} (experiment #{best.id}: {point})"
