"""``tansaku suggest``, ``tell``, ``add``, ``approve`` and ``reject``: a campaign by hand.

Each command is one short visit to the ledger (ask for experiments, tell a result,
decide on a proposal), so nothing has to keep running between them: a campaign can go on
over days, from any shell, or beside a ``tansaku run`` that waits for results. Imported
by :mod:`tansaku.cli.app`, on whose ``app`` the commands are registered.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tansaku.cli.app import CampaignFile, RunDir, _campaign_refused, _error, app, err, out
from tansaku.errors import TansakuError

if TYPE_CHECKING:  # imported where used, to keep `tansaku --help` fast
    from tansaku.campaign import Campaign
    from tansaku.ledger import ExperimentRecord
    from tansaku.report import CampaignSummary

ExperimentId = Annotated[
    int,
    typer.Argument(
        metavar="ID",
        help="The experiment's number, as `tansaku status` shows it.",
        show_default=False,
    ),
]
Failed = Annotated[
    str | None,
    typer.Option("--failed", metavar="REASON", help="It failed, for this reason (no values)."),
]


class SuggestFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@contextmanager
def _answering() -> Iterator[None]:
    """Turn what tansaku refuses into its one sentence and exit code, never a traceback."""
    from tansaku.campaign import CampaignError

    try:
        yield
    except CampaignError as error:
        raise _campaign_refused(error.problems[0].file, error) from None
    except TansakuError as error:
        raise _error(str(error), error.exit_code) from None


@app.command()
def suggest(
    campaign: CampaignFile,
    run_dir: Annotated[
        Path | None,
        typer.Option(help="The campaign's run directory (default: its run_dir, or runs/<name>)."),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(
            "-n", "--count", help="How many experiments (default: the driver's slots).", min=1
        ),
    ] = None,
    format: Annotated[
        SuggestFormat,
        typer.Option("--format", "-f", help="table for people; json or csv for programs."),
    ] = SuggestFormat.table,
) -> None:
    """Propose the next experiments and record them as waiting for your results."""
    from tansaku.cli.views import answer_hints, waiting_table
    from tansaku.people.campaign import open_campaign

    with _answering(), open_campaign(campaign, run_dir) as opened:
        loaded = opened.loaded
        asked = opened.ask(count or loaded.campaign.driver.slots)
        ids = {s.id for s in asked.experiments}
        records = [r for r in opened.experiments() if r.id in ids]
        where = opened.run_dir
    names = [p.name for p in loaded.campaign.space]
    if format is SuggestFormat.json:
        rows = [{"id": r.id, "method": r.method, "parameters": r.parameters} for r in records]
        typer.echo(json.dumps(rows))
    elif format is SuggestFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["id", *names])
        writer.writerows([r.id, *(r.parameters.get(n) for n in names)] for r in records)
    elif records:
        title = f"{len(records)} to run, recorded as waiting for their results ({where})"
        out.print(waiting_table(loaded.campaign.space, records, title))
        for hint in answer_hints(where, records, _measured(loaded.campaign)):
            out.print(hint, soft_wrap=True)
    if not records:
        # Machine formats keep stdout for data: the reason is for the person, on stderr.
        shown_to = out if format is SuggestFormat.table else err
        shown_to.print(f"nothing new to run: {asked.stop_reason}", soft_wrap=True)


@app.command()
def tell(
    run_dir: RunDir,
    experiment: ExperimentId,
    values: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NAME=VALUE...",
            help="Every measured quantity, e.g. conductance_ms=812.",
            show_default=False,
        ),
    ] = None,
    failed: Failed = None,
    actual: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=VALUE",
            help="A parameter value really used, where it differs from the proposal "
            "(repeatable): the model learns the point you made.",
        ),
    ] = None,
) -> None:
    """Record the result of an experiment that waits for one."""
    from tansaku.people.answers import parse_assignments, point_text
    from tansaku.people.campaign import open_run

    with _answering():
        given = parse_assignments(values or [])
        made_at = parse_assignments(actual or [])
        with open_run(run_dir) as opened:
            record = opened.tell(
                experiment, given, failed=failed, actual=made_at or None, via="tell"
            )
            campaign = opened.loaded.campaign
    text = f"#{record.id} recorded: {_result_text(campaign, record)}"
    changed = {k: v for k, v in record.point.items() if record.parameters.get(k) != v}
    if changed:
        proposed = {k: record.parameters.get(k) for k in changed}
        text += (
            f"; made at {point_text(campaign.space, changed)} "
            f"(proposed {point_text(campaign.space, proposed)})"
        )
    out.print(text, soft_wrap=True)


@app.command()
def add(
    run_dir: RunDir,
    given: Annotated[
        list[str],
        typer.Argument(
            metavar="NAME=VALUE...",
            help="Every parameter and every measured quantity, e.g. anneal_temp_c=150 "
            "stir_rpm=600 conductance_ms=790 (fixed parameters may be left out).",
            show_default=False,
        ),
    ],
    failed: Failed = None,
) -> None:
    """Record an experiment you made on your own; it counts against the budget."""
    from tansaku.people.answers import parse_assignments, point_text
    from tansaku.people.campaign import open_run

    with _answering():
        words = parse_assignments(given)
        with open_run(run_dir) as opened:
            record = opened.add(words, failed=failed)
            campaign = opened.loaded.campaign
    out.print(
        f"#{record.id} added: {point_text(campaign.space, record.parameters)} → "
        f"{_result_text(campaign, record)}",
        soft_wrap=True,
    )


@app.command()
def approve(run_dir: RunDir, experiment: ExperimentId) -> None:
    """Let a proposal go to the instrument (campaigns with `driver.approve: true`)."""
    from tansaku.people.campaign import open_run

    with _answering(), open_run(run_dir) as opened:
        record = opened.approve(experiment)
    out.print(f"#{record.id} approved: `tansaku run` sends it to the instrument")


@app.command()
def reject(
    run_dir: RunDir,
    experiment: ExperimentId,
    reason: Annotated[
        str, typer.Option(help="Why it must not run, for the ledger.", show_default=False)
    ],
) -> None:
    """Refuse a proposal: it never runs, and the proposer steers away from it."""
    from tansaku.people.campaign import open_run

    with _answering(), open_run(run_dir) as opened:
        record = opened.reject(experiment, reason)
    out.print(f"#{record.id} rejected: {record.decision_reason}", soft_wrap=True)


def waiting_for_people(summary: CampaignSummary) -> list[ExperimentRecord]:
    """Experiments a person must answer: results to tell, proposals to approve."""
    from tansaku.people.campaign import waits_for_person

    if summary.record.mode == "dry-run":
        return []  # its simulator measures, and it reaches no instrument to approve for
    driver = summary.record.snapshot["driver"]
    manual, approve = driver["type"] == "manual", bool(driver.get("approve"))
    return [e for e in summary.experiments if waits_for_person(e, manual=manual, approve=approve)]


def _measured(campaign: Campaign) -> list[str]:
    return [q.name for q in [*campaign.objectives, *campaign.outcomes]]


def _result_text(campaign: Campaign, record: ExperimentRecord) -> str:
    """``conductance_ms = 812 mS``, or ``failed: film cracked``."""
    if record.failure is not None:
        return f"failed: {record.failure}"
    units = {q.name: q.unit for q in [*campaign.objectives, *campaign.outcomes]}
    values = record.values or {}
    return ", ".join(_assignment(name, values[name], units.get(name)) for name in values)


def _assignment(name: str, value: object, unit: str | None) -> str:
    # As given, to six digits: what the ledger holds, not the table's rounding.
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{name} = {shown}{f' {unit}' if unit else ''}"
