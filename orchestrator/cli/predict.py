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

    if bool(point) == (points_csv is not None):
        raise _refuse("give one point as NAME=VALUE words, or --csv FILE, not both")
    with _answering():
        rows = [parse_assignments(point)] if point else _read_points(points_csv)
        with open_run(run_dir) as opened:
            try:
                frame = opened.predict(rows)
            except PointError as error:
                if points_csv is None:
                    raise _refuse(error.problem) from None
                # Row n of the file is on line n + 1, below the header.
                raise _refuse(f"{points_csv}, line {error.number + 1}: {error.problem}") from None
    if format is PredictFormat.json:
        typer.echo(frame.to_json(orient="records"))
    elif format is PredictFormat.csv:
        frame.to_csv(sys.stdout, index=False)
    else:
        out.print(_table(frame))
    unsure = frame.loc[frame["extrapolating"]]
    if not unsure.empty:
        _warn(unsure)


def _read_points(path: Path | None) -> list[dict[str, str]]:
    """The rows of a points file, every cell as text (checked like typed values)."""
    import pandas as pd

    assert path is not None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:
        raise _refuse(f"cannot read the points in {path} ({error})") from None
    if frame.empty:
        raise _refuse(f"{path} holds no points: write a header of parameter names, then rows")
    return frame.to_dict("records")


def _table(frame: pd.DataFrame) -> Table:
    parameters = list(frame.columns[1 : frame.columns.get_loc("quantity")])
    table = Table(title="the model's prediction (mean ± sd)", title_justify="left")
    for name in ["point", *parameters, "quantity", "mean", "sd", ""]:
        table.add_column(name, justify="right" if name in ("mean", "sd") else "left")
    for row in frame.to_dict("records"):
        unit = f" {row['unit']}" if row["unit"] else ""
        table.add_row(
            str(row["point"]),
            *(_cell(row[name]) for name in parameters),
            row["quantity"],
            f"{row['mean']:.4g}{unit}",
            f"{row['sd']:.2g}{unit}",
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
