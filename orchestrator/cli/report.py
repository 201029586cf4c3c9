"""``tansaku report RUN_DIR``: the campaign's figures, as one self-contained HTML page and
as PNG and SVG files (``tansaku.report.build``). Works on a finished run and on one still
running: the ledger is only read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tansaku.cli.app import RunDir, _error, _read_summary, app, out
from tansaku.errors import TansakuError


@app.command()
def report(
    run_dir: RunDir,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="The HTML page to write (default: RUN_DIR/report/report.html)."
        ),
    ] = None,
) -> None:
    """Build the campaign's report: figures with captions in one HTML page, plus PNG and SVG."""
    from tansaku.report.build import build_report

    _read_summary(run_dir)  # refuses a directory that holds no campaign, before torch loads
    try:
        files = build_report(run_dir, output)
    except TansakuError as error:
        raise _error(str(error), error.exit_code) from None
    count = len(files.figures) // 2
    out.print(f"wrote {files.page} ({count} figure{'s' * (count != 1)}, {files.notes} notes)")
    if files.figures:
        out.print(f"wrote PNG and SVG of each figure to {files.figures[0].parent}")
