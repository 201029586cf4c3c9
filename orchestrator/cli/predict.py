"""``tansaku predict``: what the campaign's model expects at points you name, and how sure.

Imported by :mod:`tansaku.cli.app`, on whose ``app`` the command is registered.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from tansaku.campaign.fields import shown
from tansaku.cli.app import RunDir, _refuse, app, err, out
from tansaku.cli.people import _answering

if TYPE_CHECKING:
    import pandas as pd


class PredictFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
def predict(
    run_dir: RunDir,
    point: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NAME=VALUE...",
            help="One point: every parameter (fixed ones may be left out), e.g. temp=140.",
            show_default=False,
        ),
    ] = None,
    points_csv: Annotated[
        Path | None,
        typer.Option("--csv", help="Points to predict at: a CSV file, a column per parameter."),
    ] = None,
    format: Annotated[
        PredictFormat,
        typer.Option("--format", "-f", help="table for people; json or csv for programs."),
    ] = PredictFormat.table,
) -> None:
    """The model's mean and standard deviation at points, warning where it extrapolates."""
    from tansaku.people.answers import parse_assignments
    from tansaku.people.campaign import open_run
    from tansaku.people.prediction import PointError

    if point and points_csv is not None:
        raise _refuse("give one point as NAME=VALUE words or --csv FILE, not both")
    if not point and points_csv is None:
        raise _refuse("give the point as NAME=VALUE words (e.g. temp=140), or --csv FILE")
    with _answering(), open_run(run_dir) as opened:
        parameters = [p.name for p in opened.loaded.campaign.space]
        example = f"{parameters[0]}=..."
        given = parse_assignments(point, example) if point else None
        by_line = {0: given} if given is not None else _read_points(points_csv, parameters)
        try:
            frame = opened.predict(list(by_line.values()))
        except PointError as error:
            if points_csv is None:
                raise _refuse(error.problem) from None
            line = list(by_line)[error.number - 1]
            raise _refuse(f"{points_csv}, line {line}: {error.problem}") from None
    if format is PredictFormat.json:
        typer.echo(frame.to_json(orient="records"))
    elif format is PredictFormat.csv:
        frame.to_csv(sys.stdout, index=False)
    else:
        out.print(_table(frame))
    unsure = frame.loc[frame["extrapolating"]]
    if not unsure.empty:
        _warn(unsure)


def _read_points(path: Path | None, parameters: list[str]) -> dict[int, dict[str, str]]:
    """The points of a points file by line number, every cell as text (checked later like
    typed values); blank lines are skipped.

    Columns that name no parameter (an export's status and results, say) are left out,
    with a note, so that a file written by ``tansaku export`` can be fed back as it is.
    """
    from tansaku.campaign.files import CampaignFile, CampaignFileError

    assert path is not None
    try:
        rows = CampaignFile(path=path).rows(Path.cwd())
    except CampaignFileError as error:
        raise _refuse(str(error)) from None
    lines = {n: row for n, row in enumerate(rows, start=1) if any(c.strip() for c in row)}
    if not lines:
        raise _refuse(f"{path} is empty: write a header of parameter names, then one row per point")
    first, *points = lines
    header = [name.strip() for name in lines[first]]
    if len(header) == 1 and ";" in header[0]:
        raise _refuse(f"{path}, line {first}: the columns are separated by ';'; use ','")
    if not points:
        raise _refuse(f"{path} holds a header but no point: add one row per point")
    for number in points:
        if len(lines[number]) != len(header):
            raise _refuse(
                f"{path}, line {number}: {len(lines[number])} values, but the header "
                f"names {len(header)}"
            )
    ignored = [name for name in header if name not in parameters]
    if ignored:
        err.print(
            f"note: {path}: ignored the columns that name no parameter: {', '.join(ignored)}",
            soft_wrap=True,
        )
    return {
        number: {
            name: cell.strip()
            for name, cell in zip(header, lines[number], strict=True)
            if name in parameters
        }
        for number in points
    }


def _table(frame: pd.DataFrame) -> Table:
    """Points as rows; the numbers and the mark never wrap or shorten, the parameters fold."""
    parameters = list(frame.columns[1 : frame.columns.get_loc("quantity")])
    table = Table(title="the model's prediction (mean ± sd)", title_justify="left")
    table.add_column("point", no_wrap=True)
    for name in parameters:
        table.add_column(name, overflow="fold")
    table.add_column("quantity", overflow="fold")
    for name in ("mean", "sd"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True, min_width=len("extrapolation"))
    for row in frame.to_dict("records"):
        unit = f" ({row['unit']})" if row["unit"] else ""
        table.add_row(
            str(row["point"]),
            *(_cell(row[name]) for name in parameters),
            f"{row['quantity']}{unit}",
            f"{row['mean']:.4g}",
            f"{row['sd']:.2g}",
            Text("extrapolation", style="yellow") if row["extrapolating"] else "",
        )
    return table


def _warn(unsure: pd.DataFrame) -> None:
    """One warning naming each point where the model extrapolates, and why."""
    reasons = unsure.drop_duplicates("point")
    count = len(reasons)
    listed = "; ".join(f"point {r.point}: {r.reason}" for r in reasons.head(5).itertuples())
    more = f"; and {count - 5} more" if count > 5 else ""
    err.print(
        Text.assemble(
            ("warning:", "bold yellow"),
            f" extrapolation at {count} point{'s' * (count != 1)}, where the data do not "
            f"support the model and its mean may be far off ({listed}{more})",
        ),
        soft_wrap=True,
    )


def _cell(value: object) -> str:
    return shown(value) if isinstance(value, float) else str(value)
