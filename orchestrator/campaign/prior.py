"""Prior data: measurements made before this campaign, which the model learns from.

A lab rarely starts from nothing: last month's runs, a colleague's spreadsheet. A campaign
may name a CSV of such measurements (every parameter and every measured quantity per row);
they seed the model and shorten the initial design, but they are not this campaign's
experiments: they do not count against the budget, and the ledger and the report keep
them apart. Read with the csv module: validating a campaign never imports pandas or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from tansaku.campaign.candidates import column_positions, parse_cell
from tansaku.campaign.files import CampaignFile, CampaignFileError, finite_number, listed
from tansaku.values import ParameterValue

if TYPE_CHECKING:
    from tansaku.campaign.schema import Campaign


class PriorDataSpec(CampaignFile):
    """``prior_data: {path: earlier.csv, columns: {name: column}}``."""

    path: Path = Field(description="CSV of earlier measurements, relative to the campaign file.")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Parameter or measured quantity → CSV column, where names differ.",
    )


@dataclass(frozen=True)
class PriorMeasurement:
    """One earlier measurement: where it came from, its parameters and its readings."""

    line: int
    parameters: dict[str, ParameterValue]
    values: dict[str, float]


def read_prior(campaign: Campaign, base_dir: Path) -> list[PriorMeasurement]:
    """The rows of the campaign's prior-data file, in file order.

    Every row needs each parameter (inside the campaign's space) and each objective and
    outcome as a finite number. Raises :class:`CampaignFileError` naming missing columns
    or the first bad lines.
    """
    spec = campaign.prior_data
    assert spec is not None
    path = spec.resolved(base_dir)
    rows = spec.rows(base_dir)
    if len(rows) < 2:
        raise CampaignFileError([(("path",), f"{path.name} has no measurements")])
    measured = list(campaign.measured)
    names = [p.name for p in campaign.space] + measured
    positions = column_positions(spec.columns, names, [name.strip() for name in rows[0]], path.name)
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
            number = finite_number(cells[name])
            if number is None:
                problems.append(f"line {line}: {name} {cells[name]!r} is not a finite number")
            else:
                values[name] = number
        prior.append(PriorMeasurement(line, parameters, values))
    if problems:
        raise CampaignFileError([(("path",), f"{path.name}: {listed(problems, '; ')}")])
    return prior


def _cell(row: list[str], position: int) -> str:
    return row[position].strip() if position < len(row) else ""
