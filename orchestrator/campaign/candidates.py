"""Candidate pools: a CSV of the experiments a campaign may choose from.

The PHYSBO / NIMS-OS way of screening materials: instead of searching a continuous space,
the proposer picks rows of a table (compositions that can be made, molecules in stock)
that have not been measured yet. Read with the csv module: validating a campaign never
imports pandas or torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import Field

from tansaku.campaign.files import CampaignFile, CampaignFileError, Location, listed
from tansaku.campaign.parameters import (
    CategoricalParameter,
    DiscreteParameter,
    IntegerParameter,
    Mixture,
    Parameter,
)
from tansaku.values import ParameterValue

MIXTURE_TOLERANCE = 1e-3
"""How far, relative to the total, a pool row's mixture may miss it: compositions written
to three significant digits (0.333 + 0.333 + 0.333) still count."""


class CandidatesSpec(CampaignFile):
    """``candidates: {path: pool.csv, columns: {parameter: column}}``."""

    path: Path = Field(description="CSV file of candidate rows, relative to the campaign file.")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Campaign parameter → CSV column, where names differ."
    )


def read_candidates(
    spec: CandidatesSpec,
    space: Sequence[Parameter],
    base_dir: Path,
    mixtures: Sequence[Mixture] = (),
) -> list[dict[str, ParameterValue]]:
    """The distinct candidate rows, as parameter mappings in file order.

    Raises :class:`CampaignFileError` naming missing columns or the first bad rows: a
    cell outside its parameter, or a row whose mixture components miss the mixture's
    total by more than ``MIXTURE_TOLERANCE`` of it.
    """
    path = spec.resolved(base_dir)
    rows = spec.rows(base_dir)
    if len(rows) < 2:
        raise CampaignFileError([(("path",), f"{path.name} has no candidate rows")])
    header = [name.strip() for name in rows[0]]
    positions = column_positions(spec.columns, [p.name for p in space], header, path.name)
    candidates: dict[tuple, dict[str, ParameterValue]] = {}
    problems: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        point: dict[str, ParameterValue] = {}
        for parameter in space:
            position = positions[parameter.name]
            cell = row[position].strip() if position < len(row) else ""
            value, problem = parse_cell(parameter, cell)
            if problem:
                problems.append(f"line {line}: {parameter.name} {problem}")
                break
            point[parameter.name] = value
        else:
            problems += [f"line {line}: {p}" for p in _mixture_problems(point, mixtures)]
            candidates.setdefault(tuple(point.values()), point)
    if problems:
        raise CampaignFileError([(("path",), f"{path.name}: {listed(problems, '; ')}")])
    return list(candidates.values())


def _mixture_problems(
    point: Mapping[str, ParameterValue], mixtures: Sequence[Mixture]
) -> list[str]:
    """How the row's components miss each mixture's total (none when they add up)."""
    problems = []
    for mixture in mixtures:
        total = sum(float(point[name]) for name in mixture.components)
        if abs(total - mixture.total) > MIXTURE_TOLERANCE * mixture.total:
            problems.append(
                f"{' + '.join(mixture.components)} = {total:g}, not the mixture's total "
                f"{mixture.total:g}"
            )
    return problems


def column_positions(
    columns: Mapping[str, str], names: Sequence[str], header: list[str], file_name: str
) -> dict[str, int]:
    """Position in ``header`` of each name's column (``columns`` maps names that differ).

    Raises :class:`CampaignFileError` for a mapping of an unknown name or a missing column.
    """
    problems: list[tuple[Location, str]] = [
        (("columns", name), f"{name!r} is not one of: {', '.join(names)}")
        for name in columns
        if name not in names
    ]
    positions: dict[str, int] = {}
    missing = []
    for name in names:
        column = columns.get(name, name)
        if column in header:
            positions[name] = header.index(column)
        else:
            missing.append(f"{name!r} (column {column!r})")
    if missing:
        problems.append(
            (
                ("columns",),
                f"{file_name} lacks columns for {', '.join(missing)}; its columns: "
                f"{', '.join(header)}. Map names to columns under 'columns:'",
            )
        )
    if problems:
        raise CampaignFileError(problems)
    return positions


def parse_cell(parameter: Parameter, cell: str) -> tuple[ParameterValue, str | None]:
    """``(value, None)``, or ``(cell, what is wrong)`` for a cell outside the parameter."""
    if isinstance(parameter, CategoricalParameter):
        labels = [str(v) for v in parameter.values]
        if cell not in labels:
            return cell, f"{cell!r} is not one of: {', '.join(labels)}"
        return parameter.values[labels.index(cell)], None
    try:
        number = float(cell)
    except ValueError:
        return cell, f"{cell!r} is not a number"
    if not math.isfinite(number):
        return cell, f"{cell!r} is not a finite number"
    if isinstance(parameter, DiscreteParameter):
        if number not in parameter.allowed:
            return cell, f"{cell} is not one of the allowed values"
        return number, None
    low, high = parameter.bounds
    if not low <= number <= high:
        return cell, f"{cell} is outside the bounds [{low}, {high}]"
    if isinstance(parameter, IntegerParameter):
        if not number.is_integer():
            return cell, f"{cell} is not a whole number"
        return int(number), None
    return number, None
