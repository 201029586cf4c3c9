"""Request files read and result files written, in the layouts a ``file_drop`` campaign declares.

Written from the layouts alone, with the :mod:`json` and :mod:`csv` modules, and on purpose
not with tansaku's own reading and writing code: the robot plays foreign software, so a
mistake on tansaku's side must show up as a disagreement with this module rather than
cancel out against itself.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tansaku.drivers.file_drop.config import FileDropConfig, ResultLayout

ParameterValue = float | int | str

NIMO_HEADER = "input file for machine"
"""First line of every NIMS-OS request file."""
INPUT_END = "inputend.txt"
"""Created in the outbox once a NIMS-OS request is complete."""
OUTPUT_END = "outputend.txt"
"""Created in the inbox once ``results.csv`` is complete."""
NIMO_RESULTS = "results.csv"
"""The NIMS-OS result file: one header-less line per request row."""


class RequestError(ValueError):
    """A request file the robot cannot make sense of."""


@dataclass(frozen=True)
class Request:
    """One experiment asked for in a files-mode request."""

    campaign: str
    id: int
    parameters: Mapping[str, ParameterValue]
    expires_at: datetime | None

    @property
    def label(self) -> str:
        return label(self.campaign, self.id)

    def expired(self, now: datetime | None = None) -> bool:
        """Whether tansaku has stopped waiting for this experiment."""
        if self.expires_at is None:
            return False
        return (now or datetime.now(UTC)) >= self.expires_at


@dataclass(frozen=True)
class NimoRequest:
    """One NIMS-OS round: rows of parameter values, in campaign parameter order."""

    rows: tuple[Mapping[str, ParameterValue], ...]
    first_id: int | None
    """The first experiment id, read from the file name; ``None`` if it does not say."""


def label(campaign: str, experiment_id: int) -> str:
    """``"<campaign>-0007"``: an experiment's name in file names and messages."""
    return f"{campaign}-{experiment_id:04d}"


def parse_value(raw: object, kind: str, name: str) -> ParameterValue:
    """``raw`` (a JSON value or a CSV cell) as a value of a parameter of ``kind``."""
    if kind == "categorical":
        if not isinstance(raw, str):
            raise RequestError(f"{name}: expected a label, got {raw!r}")
        return raw
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise RequestError(f"{name}: expected a number, got {raw!r}")
    try:
        number = float(raw)
    except ValueError:
        raise RequestError(f"{name}: expected a number, got {raw!r}") from None
    if kind != "integer":
        return number
    if not number.is_integer():
        raise RequestError(f"{name}: expected a whole number, got {raw!r}")
    return int(number)


def read_request(path: Path, config: FileDropConfig, parameters: Mapping[str, str]) -> Request:
    """The request in ``path``; ``parameters`` maps each parameter name to its kind.

    Raises :class:`RequestError` when the file does not follow the layout, and lets
    :class:`FileNotFoundError` through when tansaku archived it meanwhile.
    """
    layout = config.request
    record = _read_record(path.read_bytes(), layout.format)
    try:
        campaign = record[layout.campaign_field]
        raw_id = record[layout.id_field]
        values = {
            name: parse_value(record[layout.field_of(name)], kind, name)
            for name, kind in parameters.items()
        }
    except KeyError as error:
        raise RequestError(f"no field {error.args[0]!r}") from None
    if not isinstance(campaign, str):
        raise RequestError(f"{layout.campaign_field}: expected a name, got {campaign!r}")
    expires = record.get(layout.expires_field) if layout.expires_field else None
    return Request(campaign, _parse_id(raw_id), values, _parse_time(expires))


def _read_record(data: bytes, format: str) -> dict[str, object]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(f"not UTF-8: {error}") from None
    if format == "json":
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise RequestError(f"not JSON: {error}") from None
        if not isinstance(record, dict):
            raise RequestError("expected one JSON object")
        return record
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if len(rows) != 2:
        raise RequestError(f"expected a header and one row, got {len(rows)} rows")
    header, row = rows
    if len(header) != len(row):
        raise RequestError(f"{len(header)} columns in the header but {len(row)} in the row")
    return dict(zip(header, row, strict=True))


def _parse_id(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    raise RequestError(f"expected a whole-number id, got {raw!r}")


def _parse_time(raw: object) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise RequestError(f"expected an ISO 8601 time, got {raw!r}")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise RequestError(f"expected an ISO 8601 time, got {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def result_name(campaign: str, experiment_id: int, layout: ResultLayout, tag: str = "") -> str:
    """``<campaign>-<id:04d><tag>.<format>``: where a result goes in the inbox."""
    return f"{label(campaign, experiment_id)}{tag}{layout.suffix}"


def encode_result(
    layout: ResultLayout,
    campaign: str,
    experiment_id: int,
    values: Mapping[str, float],
    failure: str | None = None,
) -> bytes:
    """A result file's bytes: ``values`` maps objective names to readings.

    A ``failure`` goes in the layout's failure field; with no failure field it is
    left out, and the result simply lacks its values.
    """
    record: dict[str, object] = {}
    if layout.campaign_field:
        record[layout.campaign_field] = campaign
    record[layout.id_field] = experiment_id
    for objective, value in values.items():
        record[layout.field_of(objective)] = value
    if failure is not None and layout.failure_field:
        record[layout.failure_field] = failure
    if layout.format == "json":
        return (json.dumps(record, indent=2) + "\n").encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(record)
    writer.writerow(record.values())
    return buffer.getvalue().encode()


def read_nimo_request(path: Path, campaign: str, parameters: Mapping[str, str]) -> NimoRequest:
    """A NIMS-OS request: the header line, then one line of values per experiment."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(f"not UTF-8: {error}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].strip() != NIMO_HEADER:
        raise RequestError(f"the first line is not {NIMO_HEADER!r}")
    rows = []
    for number, cells in enumerate(csv.reader(lines[1:]), start=2):
        if len(cells) != len(parameters):
            raise RequestError(
                f"line {number}: {len(cells)} values for {len(parameters)} parameters"
            )
        rows.append(
            {
                name: parse_value(cell.strip(), kind, name)
                for (name, kind), cell in zip(parameters.items(), cells, strict=True)
            }
        )
    if not rows:
        raise RequestError("no experiments in the file")
    named = re.fullmatch(rf"{re.escape(campaign)}-(\d+)(?:-\d+)?\.csv", path.name)
    return NimoRequest(tuple(rows), int(named.group(1)) if named else None)


def encode_nimo_results(rows: Sequence[Sequence[float]]) -> bytes:
    """``results.csv``: no header, one line of objective values per request row."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [repr(float(value)) for value in row] for row in rows
    )
    return buffer.getvalue().encode()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a dot-file beside it, fsync, then rename."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_partial(path: Path, data: bytes, pause: float, stop: threading.Event) -> bool:
    """Write ``path`` in place, in two halves ``pause`` seconds apart, as careless robots do.

    Returns ``False``, leaving the first half only, when ``stop`` is set during the pause.
    """
    half = len(data) // 2
    with open(path, "wb") as file:
        file.write(data[:half])
        file.flush()
        os.fsync(file.fileno())
        if stop.wait(pause):
            return False
        file.write(data[half:])
        file.flush()
        os.fsync(file.fileno())
    return True


def touch(path: Path) -> None:
    """Create the empty file ``path`` (a sentinel or an end marker)."""
    with open(path, "wb") as file:
        os.fsync(file.fileno())
