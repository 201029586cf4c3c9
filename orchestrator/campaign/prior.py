"""Prior data: measurements made before this campaign, which the model learns from.

A lab rarely starts from nothing: last month's runs, a colleague's spreadsheet. A campaign
may name a CSV of such measurements (every parameter and every measured quantity per row);
they seed the model and shorten the initial design, but they are not this campaign's
experiments: they do not count against the budget, and the ledger and the report keep
them apart. Read with the csv module: validating a campaign never imports pandas or torch.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from drivers.base import ParameterValue
from orchestrator.campaign.candidates import CandidatesError, column_positions, parse_cell

if TYPE_CHECKING:
    from orchestrator.campaign.schema import Campaign

MAX_LISTED_PROBLEMS = 5


class PriorDataError(ValueError):
    """A prior-data file that cannot be used; ``problems`` are ``(location, message)`` pairs."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


class PriorDataSpec(BaseModel):
    """``prior_data: {path: earlier.csv, columns: {name: column}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(description="CSV of earlier measurements, relative to the campaign file.")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Parameter or measured quantity → CSV column, where names differ.",
    )

    def resolved(self, base_dir: Path) -> Path:
        return self.path if self.path.is_absolute() else base_dir / self.path

    def digest(self, base_dir: Path) -> str:
        """SHA-256 of the file: a resumed campaign must learn from the same measurements."""
        return hashlib.sha256(self.resolved(base_dir).read_bytes()).hexdigest()


@dataclass(frozen=True)
class PriorMeasurement:
    """One earlier measurement: where it came from, its parameters and its readings."""

    line: int
    parameters: dict[str, ParameterValue]
    values: dict[str, float]


def read_prior(campaign: Campaign, base_dir: Path) -> list[PriorMeasurement]:
    """The rows of the campaign's prior-data file, in file order.

    Every row needs each parameter (inside the campaign's space) and each objective and
    outcome as a finite number. Raises :class:`PriorDataError` naming missing columns or
    the first bad lines.
    """
    spec = campaign.prior_data
    assert spec is not None
    path = spec.resolved(base_dir)
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            rows = list(csv.reader(stream))
    except (OSError, UnicodeDecodeError) as error:
        raise PriorDataError([(("path",), f"cannot read {path}: {error}")]) from None
    if len(rows) < 2:
        raise PriorDataError([(("path",), f"{path.name} has no measurements")])
    measured = list(campaign.measured)
    names = [p.name for p in campaign.space] + measured
    try:
        positions = column_positions(
            spec.columns, names, [name.strip() for name in rows[0]], path.name
        )
    except CandidatesError as error:
        raise PriorDataError(error.problems) from None
    prior: list[PriorMeasurement] = []
    problems: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: _cell(row, positions[name]) for name in names}
        parameters: dict[str, ParameterValue] = {}
        for parameter in campaign.space:
            value, problem = parse_cell(parameter, cells[parameter.name])
            if problem:
                problems.append(f"line {line}: {parameter.name} {problem}")
            parameters[parameter.name] = value
        values: dict[str, float] = {}
        for name in measured:
            number = _number(cells[name])
            if number is None:
                problems.append(f"line {line}: {name} {cells[name]!r} is not a finite number")
            else:
                values[name] = number
        prior.append(PriorMeasurement(line, parameters, values))
    if problems:
        more = len(problems) - MAX_LISTED_PROBLEMS
        listed = "; ".join(problems[:MAX_LISTED_PROBLEMS]) + (
            f" (and {more} more)" if more > 0 else ""
        )
        raise PriorDataError([(("path",), f"{path.name}: {listed}")])
    return prior


def _cell(row: list[str], position: int) -> str:
    return row[position].strip() if position < len(row) else ""


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
