"""Descriptor tables: numbers that say how a categorical parameter's values resemble each other.

A solvent is more than a name: its polarity and boiling point tell the model that DMAc
and DMF should behave alike. A categorical parameter may name a CSV with one row per value
(keyed by a column holding the value) and numeric descriptor columns; the model then works
with those numbers instead of treating every value as unrelated to the others. Read with
the csv module: validating a campaign never imports pandas or torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, PositiveInt

from tansaku.campaign.elements import PROPERTIES, element_table
from tansaku.campaign.files import CampaignFile, CampaignFileError, finite_number, listed

if TYPE_CHECKING:
    from tansaku.campaign.parameters import CategoricalParameter


class DescriptorsSpec(CampaignFile):
    """``descriptors: {path: solvents.csv, key: solvent, columns: [polarity, bp_c]}``."""

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

    Raises :class:`CampaignFileError` naming a missing key column, values without a row,
    duplicate rows, or descriptor columns that are not numbers.
    """
    spec = parameter.descriptors
    assert spec is not None
    if spec == "elements":
        return element_descriptors(parameter.values)
    path = spec.resolved(base_dir)
    rows = spec.rows(base_dir)
    if not rows:
        raise CampaignFileError([(("path",), f"{path.name} is empty")])
    header, *body = rows
    header = [name.strip() for name in header]
    key = spec.key or header[0]
    if key not in header:
        raise CampaignFileError(
            [(("key",), f"{path.name} has no column {key!r}; its columns: {listed(header)}")]
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
        raise CampaignFileError(problems)
    wanted = [by_value[label] for label in labels]
    columns = _chosen_columns(spec, header, key, wanted, path.name)
    rows = tuple(tuple(float(row[header.index(column)]) for column in columns) for row in wanted)
    return DescriptorTable(tuple(columns), rows, spec.components)


def element_descriptors(values: Sequence[object]) -> DescriptorTable:
    """The element table's rows for a categorical's values (element symbols, checked when
    the campaign was validated): ``PROPERTIES`` of each, in the order of the values."""
    return DescriptorTable(PROPERTIES, element_table().rows([str(v) for v in values]), None)


def _chosen_columns(
    spec: DescriptorsSpec, header: list[str], key: str, rows: list[list[str]], file_name: str
) -> list[str]:
    """The named columns (each must hold a number for every value), or every usable one."""

    def numbers(column: str) -> list[float] | None:
        position = header.index(column)
        values = [finite_number(row[position] if position < len(row) else "") for row in rows]
        parsed = [value for value in values if value is not None]
        return parsed if len(parsed) == len(values) else None

    if spec.columns is not None:
        unknown = [column for column in spec.columns if column not in header]
        if unknown:
            raise CampaignFileError(
                [(("columns",), f"{file_name} has no column {_listed(unknown)}")]
            )
        not_numeric = [column for column in spec.columns if numbers(column) is None]
        if not_numeric:
            raise CampaignFileError(
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
        raise CampaignFileError(
            [
                (
                    ("path",),
                    f"{file_name} has no numeric column that differs between the "
                    "parameter's values, so it cannot tell them apart",
                )
            ]
        )
    return usable


def _listed(items: list[str]) -> str:
    return listed([repr(item) for item in items])
