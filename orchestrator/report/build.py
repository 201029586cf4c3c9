"""``tansaku report``: build a campaign's report from its ledger, on demand.

Reads the ledger and never writes it, so a report can be built while ``tansaku run``
works on the campaign. Every figure is written twice into ``RUN_DIR/report/`` (PNG for
slides, SVG for papers) and inlined in one self-contained HTML page. Each file is written
under a temporary name and renamed once all are written, so a failure (a full disk, a
read-only folder) leaves no half-written file and the previous report, if any, whole.
"""

from __future__ import annotations

import io
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tansaku.campaign import LoadedCampaign
from tansaku.errors import InputError
from tansaku.ledger import is_held
from tansaku.report.data_figures import data_figures
from tansaku.report.figure import ReportFigure, ReportNote
from tansaku.report.html import render_html
from tansaku.report.summary import CampaignSummary, summarize

if TYPE_CHECKING:
    from tansaku.proposer.surrogate import Surrogate

REPORT_FOLDER = "report"
REPORT_PAGE = "report.html"
PAGE_SUFFIXES = (".html", ".htm")
FIGURE_SUFFIXES = (".png", ".svg")
DPI = 120
# Without them, matplotlib writes its version, its web address and the time into every
# file: the report would name an address it does not need, and differ on every build.
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


class ReportWriteError(InputError):
    """The report cannot be written where it was asked to go."""


@dataclass(frozen=True)
class ReportFiles:
    """What a report build wrote."""

    page: Path
    """The self-contained HTML page."""
    figures: list[Path]
    """Each figure's PNG and SVG, in ``RUN_DIR/report/``."""
    notes: int
    """Sections with words only (nothing measured yet, no failures, why it stopped)."""


def build_report(run_dir: Path, output: Path | None = None) -> ReportFiles:
    """Build the report of the campaign in ``run_dir``.

    Args:
        run_dir: a campaign's run directory, finished or still running.
        output: where the HTML page goes; default ``RUN_DIR/report/report.html``.

    Raises:
        RunDirectoryError: ``run_dir`` holds no campaign (nothing is written).
        ReportWriteError: the report folder or ``output`` cannot be written.
    """
    from tansaku.people.campaign import open_run

    if output is not None and output.suffix.lower() not in PAGE_SUFFIXES:
        # Never anything else: `-o RUN_DIR/ledger.sqlite` would replace the campaign.
        raise ReportWriteError(
            f"{output}: the report is an HTML page; name a file ending in .html"
        )
    with open_run(run_dir) as opened:
        running = is_held(run_dir)
        summary = summarize(opened.ledger)
        assert summary is not None, "open_run finds the campaign recorded"
        with warnings.catch_warnings():
            # A fit's numerical warnings say nothing a report reader can act on.
            warnings.simplefilter("ignore")
            surrogate = opened.surrogate() if summary.counts["done"] else None
        items = figures_of(summary, opened.loaded, surrogate, running=running)
    folder = run_dir / REPORT_FOLDER
    page = output if output is not None else folder / REPORT_PAGE
    return write_report(summary, items, folder, page, running=running)


def figures_of(
    summary: CampaignSummary,
    loaded: LoadedCampaign,
    surrogate: Surrogate | None,
    *,
    running: bool,
) -> list[ReportFigure | ReportNote]:
    """Every figure and note of the report, in page order: the data, then the model."""
    from tansaku.report.model_figures import model_figures

    items = data_figures(summary, running=running, pool_scores=pool_scores(summary, loaded))
    return items + model_figures(summary, surrogate)


def pool_scores(summary: CampaignSummary, loaded: LoadedCampaign) -> list[float] | None:
    """The first objective's score of every candidate row, where every row's value is
    known: a simulated run answering from a table of the very rows of the pool."""
    campaign = loaded.campaign
    if campaign.candidates is None:
        return None
    from tansaku.drivers.simulated import DatasetSpec, SimulatedDriverConfig, build_simulator

    if summary.record.mode == "dry-run" and campaign.dry_run is not None:
        simulator = campaign.dry_run.simulator
    elif isinstance(campaign.driver, SimulatedDriverConfig):
        simulator = campaign.driver.simulator
    else:
        return None
    if not isinstance(simulator, DatasetSpec):
        return None
    table = simulator.resolved_path(loaded.base_dir).resolve()
    if table != campaign.candidates.resolved(loaded.base_dir).resolve():
        return None
    lookup = build_simulator(simulator, loaded.context())
    objective = summary.objectives[0]
    scores = [objective.score(float(lookup(row))) for row in loaded.candidates() or []]
    return scores if all(math.isfinite(score) for score in scores) else None


def write_report(
    summary: CampaignSummary,
    items: Sequence[ReportFigure | ReportNote],
    folder: Path,
    page: Path,
    *,
    running: bool,
) -> ReportFiles:
    """Write each figure as PNG and SVG into ``folder`` and the page to ``page``."""
    rendered: dict[Path, bytes] = {}
    images: dict[str, bytes] = {}
    for item in items:
        if isinstance(item, ReportFigure):
            png = _render(item, "png")
            images[item.name] = png
            rendered[folder / f"{item.name}.png"] = png
            # Drawing the PNG laid the figure out; the SVG keeps that layout instead of
            # computing it again, which took about half of each render.
            item.figure.set_layout_engine("none")
            rendered[folder / f"{item.name}.svg"] = _render(item, "svg")
    html = render_html(summary, items, images, running=running, built_at=datetime.now())
    rendered[page] = html.encode("utf-8")
    _close(items)
    partials = {path: path.with_name(f".{path.name}.partial") for path in rendered}
    made = [d for d in dict.fromkeys([folder, page.parent]) if not d.exists()]
    target = folder
    try:
        for target in made:
            target.mkdir(parents=True, exist_ok=True)
        for target, data in rendered.items():
            partials[target].write_bytes(data)
        for target, partial in partials.items():
            partial.replace(target)
    except OSError as error:
        for partial in partials.values():
            _discard(partial)
        for directory in made:
            _remove_if_empty(directory)
        raise ReportWriteError(
            f"cannot write {target} ({error.strerror or error}); nothing was written"
        ) from None
    figures = [path for path in rendered if path != page]
    _remove_stale_figures(folder, kept=figures)
    return ReportFiles(page, figures, sum(isinstance(i, ReportNote) for i in items))


def _remove_stale_figures(folder: Path, kept: Sequence[Path]) -> None:
    """Remove figures an earlier build wrote that this one did not (after a revision
    renamed an objective, say), so the folder holds one report, not two mixed."""
    for path in folder.iterdir():
        if path.suffix in FIGURE_SUFFIXES and path not in kept:
            _discard(path)


def _close(items: Sequence[ReportFigure | ReportNote]) -> None:
    """Free the figures once rendered; one made through pyplot stays in its registry,
    holding its memory, until pyplot closes it."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    for item in items:
        if isinstance(item, ReportFigure):
            if pyplot is not None:
                pyplot.close(item.figure)
            item.figure.clear()


def _discard(partial: Path) -> None:
    try:
        partial.unlink(missing_ok=True)
    except OSError:
        return  # never written: its folder is what failed


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        return  # not empty, or not there: left as it is


def _render(item: ReportFigure, format: str) -> bytes:
    buffer = io.BytesIO()
    metadata = PNG_METADATA if format == "png" else SVG_METADATA
    item.figure.savefig(buffer, format=format, dpi=DPI, metadata=metadata)
    return buffer.getvalue()
