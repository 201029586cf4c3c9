"""Descriptor tables: numbers that say how a categorical parameter's values resemble each other.

A solvent is more than a name: its polarity and boiling point tell the model that DMAc
and DMF should behave alike. A categorical parameter may name a CSV with one row per value
(keyed by a column holding the value) and numeric descriptor columns; the model then works
with those numbers instead of treating every value as unrelated to the others. Read with
the csv module: validating a campaign never imports pandas or torch.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

if TYPE_CHECKING:
    from orchestrator.campaign.schema import CategoricalParameter

MAX_LISTED = 5


class DescriptorsError(ValueError):
    """A descriptor table that cannot be used; ``problems`` are ``(location, message)`` pairs."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


class DescriptorsSpec(BaseModel):
    """``descriptors: {path: solvents.csv, key: solvent, columns: [polarity, bp_c]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(description="CSV file with one row per value, relative to the campaign.")
    key: str | None = Field(
        None, description="The column holding the parameter's values; default the first column."
    )
    columns: list[str] | None = Field(
        None,
        min_length=1,
        description=(
            "Descriptor columns to use; default every column that is numeric for all of "
            "this parameter's values and not the same for all of them."
        ),
    )
    components: PositiveInt | None = Field(
        None,
        description=(
            "Principal components of the table the model uses (default 3): each one is "
            "another input the model must learn a lengthscale for."
        ),
    )

    def resolved(self, base_dir: Path) -> Path:
        return self.path if self.path.is_absolute() else base_dir / self.path

    def digest(self, base_dir: Path) -> str:
        """SHA-256 of the table: a resumed campaign must model with the same numbers."""
        return hashlib.sha256(self.resolved(base_dir).read_bytes()).hexdigest()


@dataclass(frozen=True)
class DescriptorTable:
    """The descriptors of one categorical parameter, in the order of its values.

    ``rows[i]`` describes ``parameter.values[i]``; ``columns`` names each number.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[float, ...], ...]
    components: int | None


def read_descriptors(parameter: CategoricalParameter, base_dir: Path) -> DescriptorTable:
    """The descriptor rows of ``parameter``'s values, from its table.

    Raises :class:`DescriptorsError` naming a missing key column, values without a row,
    duplicate rows, or descriptor columns that are not numbers.
    """
    spec = parameter.descriptors
    assert spec is not None
    path = spec.resolved(base_dir)
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            header, *body = list(csv.reader(stream))
    except (OSError, UnicodeDecodeError) as error:
        raise DescriptorsError([(("path",), f"cannot read {path}: {error}")]) from None
    except ValueError:
        raise DescriptorsError([(("path",), f"{path.name} is empty")]) from None
    header = [name.strip() for name in header]
    key = spec.key or header[0]
    if key not in header:
        raise DescriptorsError(
            [(("key",), f"{path.name} has no column {key!r}; its columns begin {_first(header)}")]
        )
    by_value: dict[str, list[str]] = {}
    repeated: set[str] = set()
    position = header.index(key)
    for row in body:
        if position < len(row) and row[position].strip():
            label = row[position].strip()
            if label in by_value:
                repeated.add(label)
            by_value[label] = [cell.strip() for cell in row]
    labels = [str(value) for value in parameter.values]
    problems: list[tuple[tuple[str | int, ...], str]] = []
    missing = [label for label in labels if label not in by_value]
    if missing:
        problems.append(
            (("path",), f"{path.name} has no row for {_listed(missing)} (in column {key!r})")
        )
    duplicated = [label for label in labels if label in repeated]
    if duplicated:
        problems.append((("path",), f"{path.name} has several rows for {_listed(duplicated)}"))
    if problems:
        raise DescriptorsError(problems)
    wanted = [by_value[label] for label in labels]
    columns = _chosen_columns(spec, header, key, wanted, path.name)
    rows = tuple(tuple(float(row[header.index(column)]) for column in columns) for row in wanted)
    return DescriptorTable(tuple(columns), rows, spec.components)


def _chosen_columns(
    spec: DescriptorsSpec, header: list[str], key: str, rows: list[list[str]], file_name: str
) -> list[str]:
    """The named columns (each must hold a number for every value), or every usable one."""

    def numbers(column: str) -> list[float] | None:
        position = header.index(column)
        values = [_number(row[position] if position < len(row) else "") for row in rows]
        parsed = [value for value in values if value is not None]
        return parsed if len(parsed) == len(values) else None

    if spec.columns is not None:
        unknown = [column for column in spec.columns if column not in header]
        if unknown:
            raise DescriptorsError(
                [(("columns",), f"{file_name} has no column {_listed(unknown)}")]
            )
        not_numeric = [column for column in spec.columns if numbers(column) is None]
        if not_numeric:
            raise DescriptorsError(
                [
                    (
                        ("columns",),
                        f"{_listed(not_numeric)} in {file_name} must hold a finite number "
                        "for every value of the parameter",
                    )
                ]
            )
        return list(spec.columns)
    usable = []
    for column in header:
        values = numbers(column) if column != key else None
        if values is not None and max(values) > min(values):
            usable.append(column)
    if not usable:
        raise DescriptorsError(
            [
                (
                    ("path",),
                    f"{file_name} has no numeric column that differs between the "
                    "parameter's values, so it cannot tell them apart",
                )
            ]
        )
    return usable


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _listed(items: list[str]) -> str:
    shown = ", ".join(repr(item) for item in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f" (and {more} more)" if more > 0 else "")


def _first(header: list[str]) -> str:
    return ", ".join(header[:MAX_LISTED]) + (", ..." if len(header) > MAX_LISTED else "")
