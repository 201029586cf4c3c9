"""One figure of a report: what it shows, and the matplotlib figure that shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class ReportFigure:
    """A figure with the words a reader needs beside it.

    ``name`` becomes the file name (``RUN_DIR/report/<name>.png`` and ``.svg``), so it is
    lowercase letters, digits and dashes; ``caption`` says how to read the figure (what a
    band or a colour means), in one or two sentences.
    """

    name: str
    title: str
    caption: str
    figure: Figure


@dataclass(frozen=True)
class ReportNote:
    """A section of the report that has words but no figure: why it has none yet, or a
    fact with no picture (why the campaign stopped)."""

    title: str
    text: str
