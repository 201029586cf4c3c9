"""Request and result files: what tansaku writes for the robot and what it accepts back.

One experiment per file in ``files`` mode (a JSON object, or a CSV header plus one row);
the NIMS-OS round files in ``nimo`` mode. Reading is strict: anything that does not
match the layout raises :class:`MalformedFile` with a reason fit for a ``.reason`` file.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tansaku.drivers.base import Experiment
from tansaku.drivers.file_drop.config import RequestLayout, ResultLayout
from tansaku.values import ParameterValue

NIMO_REQUEST_HEADER = "input file for machine"


class MalformedFile(ValueError):
    """A result file that cannot be read as the layout says."""


@dataclass(frozen=True)
class ResultFile:
    """What one result file says."""

    experiment_id: int
    campaign: str | None
    values: dict[str, float]
    failure: str | None
    fields: dict[str, str]
    """Every field as written, for the ledger's raw record."""


def request_name(experiment: Experiment, layout: RequestLayout) -> str:
    """``<campaign>-<id>.json``: the id is in the file name as well as in the content."""
    return f"{experiment.label}.{layout.format}"


def encode_request(
    experiment: Experiment,
    parameters: Sequence[str],
    layout: RequestLayout,
    expires_at: datetime | None,
) -> bytes:
    """The request file for one experiment, fields in campaign order."""
    row: dict[str, ParameterValue] = {
        layout.campaign_field: experiment.campaign,
        layout.id_field: experiment.id,
    }
    for name in parameters:
        row[layout.field_of(name)] = experiment.parameters[name]
    if layout.expires_field and expires_at is not None:
        row[layout.expires_field] = expires_at.isoformat()
    if layout.format == "json":
        return (json.dumps(row, indent=2) + "\n").encode()
    return _csv_bytes([list(row), list(row.values())])


def decode_result(content: bytes, layout: ResultLayout, objectives: Sequence[str]) -> ResultFile:
    """Read one result file; raises :class:`MalformedFile` saying what is wrong."""
    text = _text(content)
    fields = _json_fields(text) if layout.format == "json" else _csv_fields(text)
    experiment_id = _experiment_id(fields.get(layout.id_field), layout.id_field)
    campaign = None
    if layout.campaign_field:
        campaign = fields.get(layout.campaign_field)
        if not campaign:
            raise MalformedFile(f"no {layout.campaign_field!r} field naming the campaign")
    failure = (fields.get(layout.failure_field) or None) if layout.failure_field else None
    values: dict[str, float] = {}
    for objective in objectives:
        field = layout.field_of(objective)
        if fields.get(field, "") == "":
            if failure is None:
                raise MalformedFile(f"no value for objective {objective!r} (field {field!r})")
            continue
        values[objective] = _number(fields[field], field)
    return ResultFile(experiment_id, campaign, values, failure, fields)


def encode_nimo_request(experiments: Sequence[Experiment], parameters: Sequence[str]) -> bytes:
    """NIMS-OS's machine file: a title line, then one row of values per experiment."""
    rows = [[e.parameters[name] for name in parameters] for e in experiments]
    return f"{NIMO_REQUEST_HEADER}\n".encode() + _csv_bytes(rows)


@dataclass(frozen=True)
class NimoRow:
    """One row of NIMS-OS's ``results.csv``."""

    values: dict[str, float]
    cells: list[str]
    """The row as written, extra values included, for the ledger's raw record."""


def decode_nimo_results(content: bytes, rows: int, objectives: Sequence[str]) -> list[NimoRow]:
    """NIMS-OS's ``results.csv``: no header, one row per request row, objectives in order."""
    try:
        lines = [
            [cell.strip() for cell in row]
            for row in csv.reader(io.StringIO(_text(content)))
            if any(cell.strip() for cell in row)
        ]
    except csv.Error as error:
        raise MalformedFile(f"not valid CSV: {error}") from None
    if len(lines) != rows:
        raise MalformedFile(f"{len(lines)} result rows for a round of {rows} experiments")
    decoded = []
    for number, line in enumerate(lines, start=1):
        if len(line) < len(objectives):
            raise MalformedFile(
                f"row {number} has {len(line)} values; {len(objectives)} objectives expected"
            )
        values = {
            objective: _number(cell, f"row {number}")
            for objective, cell in zip(objectives, line, strict=False)
        }
        decoded.append(NimoRow(values, line))
    return decoded


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MalformedFile(f"not UTF-8 text ({error.reason} at byte {error.start})") from None


def _json_fields(text: str) -> dict[str, str]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedFile(f"not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedFile(f"expected one JSON object, found {type(document).__name__}")
    return {str(key): "" if value is None else _as_text(value) for key, value in document.items()}


def _as_text(value: object) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str | int | float | bool):
        return str(value)
    raise MalformedFile(f"nested value {json.dumps(value)[:40]} where a number or text belongs")


def _csv_fields(text: str) -> dict[str, str]:
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as error:
        raise MalformedFile(f"not valid CSV: {error}") from None
    if len(rows) != 2:
        raise MalformedFile(f"expected a header and one row, found {len(rows)} lines")
    header, values = rows
    if len(header) != len(values):
        raise MalformedFile(f"{len(header)} column names but {len(values)} values")
    return {name.strip(): value.strip() for name, value in zip(header, values, strict=True)}


def _experiment_id(value: str | None, field: str) -> int:
    if value is None:
        raise MalformedFile(f"no {field!r} field")
    if not value.isascii() or not value.isdigit():
        raise MalformedFile(f"{field!r} is {value[:40]!r}, not a whole number")
    return int(value)


def _number(value: str, where: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise MalformedFile(f"{where}: {value[:40]!r} is not a number") from None


def _csv_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()
