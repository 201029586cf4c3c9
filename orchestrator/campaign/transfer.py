"""Transfer: measurements of *other* chemical systems that the model learns from.

A lab that screened Ni-Fe-Co-Mn-Ce-La oxides last year and now screens Ni-Fe-Co-Ta-Mn-Cu
ones has learnt something about which compositions work, but not in the new campaign's
parameters: half the elements differ. Through the element features of the campaign's
element mixture (``proposer/elements.py``) both systems live in one space (weighted means
and spreads of element properties), so the earlier measurements can inform the model. Each
source is a CSV of its compositions (one column per element, mapped by ``elements:``) and
the campaign's objective. Unlike ``prior_data`` these are not the campaign's own kind of
experiment: how the model joins them to the campaign's results (``model.transfer``) is
``proposer/transfer.py``'s, each way letting the campaign's own results weigh the source.

A source is a CSV, read with the csv module (validating a campaign never imports torch);
an earlier tansaku run's ``tansaku export --format csv`` is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from tansaku.campaign.candidates import column_positions, parse_cell
from tansaku.campaign.elements import ElementSymbol, check_element_mapping
from tansaku.campaign.files import CampaignFile, CampaignFileError, finite_number, listed
from tansaku.values import ParameterValue

if TYPE_CHECKING:
    from tansaku.campaign.schema import Campaign

MAX_SOURCE_ROWS = 300
"""Rows of one source the model learns from by default: an exact GP's fit grows with the
cube of its data, and a few hundred rows of another system carry most of what it can
teach (benchmarks/transfer_benchmark.py)."""


class TransferSource(CampaignFile):
    """``transfer_from: [{path: other.csv, elements: {column: Symbol}, columns: {...}}]``."""

    path: Path = Field(
        description=(
            "CSV of measurements of another chemical system (an earlier run's "
            "`tansaku export --format csv`), relative to the campaign."
        )
    )
    elements: dict[str, ElementSymbol] = Field(
        description="The CSV's composition columns → the element each is the amount of.",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "The objective, or a parameter outside the element mixture, → its CSV column, "
            "where names differ."
        ),
    )
    max_rows: int = Field(
        MAX_SOURCE_ROWS,
        gt=1,
        description="At most this many rows (a seeded random subset) are learnt from.",
    )

    @field_validator("elements")
    @classmethod
    def _one_column_per_element(cls, elements: dict[str, str]) -> dict[str, str]:
        if len(elements) < 2:
            raise ValueError("map at least two composition columns to their elements")
        check_element_mapping(elements, list(elements))
        return elements

    def rows(self, base_dir: Path) -> list[list[str]]:
        """The CSV's rows, header first."""
        path = self.resolved(base_dir)
        if path.is_dir():
            # The campaign room reads no ledger; an earlier run's export is such a CSV.
            raise CampaignFileError(
                [
                    (
                        ("path",),
                        f"{path} is a directory: give a CSV of measurements; for an earlier "
                        f"tansaku run, `tansaku export {path} --format csv -o earlier.csv` "
                        "writes one",
                    )
                ]
            )
        return super().rows(base_dir)


@dataclass(frozen=True)
class TransferMeasurement:
    """One measurement of another system: its composition by element (amounts as in the
    file), the campaign's other parameters and the objective's value."""

    line: int
    composition: dict[str, float]
    parameters: dict[str, ParameterValue]
    value: float


@dataclass(frozen=True)
class TransferSet:
    """One source's measurements, as read (``rows`` in file order)."""

    name: str
    rows: list[TransferMeasurement]


def read_transfer(campaign: Campaign, base_dir: Path) -> list[TransferSet]:
    """Every ``transfer_from`` source's rows.

    Each row needs every composition column (a non-negative number, not all zero), each
    campaign parameter outside the element mixture, and the objective as a finite number.
    Raises :class:`CampaignFileError` with the source's index, naming missing columns or
    the first bad lines.
    """
    sets = []
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, source in enumerate(campaign.transfer_from):
        try:
            sets.append(_read_source(campaign, source, base_dir))
        except CampaignFileError as error:
            problems += [((index, *loc), message) for loc, message in error.problems]
    if problems:
        raise CampaignFileError(problems)
    return sets


def _read_source(campaign: Campaign, source: TransferSource, base_dir: Path) -> TransferSet:
    path = source.resolved(base_dir)
    rows = source.rows(base_dir)
    if len(rows) < 3:
        raise CampaignFileError([(("path",), f"{path.name} has fewer than two measurements")])
    mixed = set(campaign.element_mixture.components) if campaign.element_mixture else set()
    others = [p for p in campaign.space if p.name not in mixed]
    objective = campaign.objective.name
    names = [p.name for p in others] + [objective]
    header = [name.strip() for name in rows[0]]
    missing = [column for column in source.elements if column not in header]
    if missing:
        raise CampaignFileError(
            [
                (
                    ("elements",),
                    f"{path.name} has no column {listed([repr(c) for c in missing])}; its "
                    f"columns: {', '.join(header)}",
                )
            ]
        )
    positions = column_positions(source.columns, names, header, path.name)
    measurements: list[TransferMeasurement] = []
    bad: list[str] = []
    # A tansaku export lists failed and unmeasured experiments too: only done ones count.
    status = header.index("status") if "status" in header else None
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if status is not None and _cell(row, status) != "done":
            continue
        composition: dict[str, float] = {}
        for column, symbol in source.elements.items():
            cell = _cell(row, header.index(column))
            amount = finite_number(cell)
            if amount is None or amount < 0:
                bad.append(f"line {line}: {column} {cell!r} is not a non-negative number")
            else:
                composition[symbol] = amount
        if len(composition) == len(source.elements) and not any(composition.values()):
            bad.append(f"line {line}: every amount is 0")
        parameters: dict[str, ParameterValue] = {}
        for parameter in others:
            value, problem = parse_cell(parameter, _cell(row, positions[parameter.name]))
            if problem:
                bad.append(f"line {line}: {parameter.name} {problem}")
            parameters[parameter.name] = value
        cell = _cell(row, positions[objective])
        value = finite_number(cell)
        if value is None:
            bad.append(f"line {line}: {objective} {cell!r} is not a finite number")
        else:
            measurements.append(TransferMeasurement(line, composition, parameters, value))
    if bad:
        raise CampaignFileError([(("path",), f"{path.name}: {listed(bad, '; ')}")])
    return TransferSet(path.name, measurements)


def _cell(row: list[str], position: int) -> str:
    return row[position].strip() if position < len(row) else ""
