"""``tansaku``: validate, run, inspect and export campaigns.

Exit codes: 0 done; 1 the run failed; 2 refused before anything ran (invalid campaign,
busy or mismatched run directory); 130 interrupted (run again to resume).
"""

from __future__ import annotations

import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from tansaku.errors import FAILED, REFUSED, TansakuError

if TYPE_CHECKING:  # imported where used, to keep `tansaku --help` and `validate` fast
    from tansaku.campaign import CampaignError, LoadedCampaign
    from tansaku.report import CampaignSummary

app = typer.Typer(
    help="Closed-loop experiment campaigns: a BoTorch proposer and your instrument, in a loop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
server_app = typer.Typer(
    help="The background Prefect server tansaku runs start and reuse.", no_args_is_help=True
)
app.add_typer(server_app, name="server")

# Campaign files, data files and instruments supply much of what is printed: none of it
# is read as markup or emoji codes (`[/]` in a unit, `:x:` in a CSV cell, `file:100:3`).
out = Console(highlight=False, markup=False, emoji=False)
err = Console(stderr=True, highlight=False, markup=False, emoji=False)

INTERRUPTED = 130

CampaignFile = Annotated[Path, typer.Argument(help="Campaign YAML file.", show_default=False)]
RunDir = Annotated[Path, typer.Argument(help="A campaign's run directory.", show_default=False)]


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def _error(message: str, code: int) -> typer.Exit:
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    return typer.Exit(code)


def _refuse(message: str) -> typer.Exit:
    return _error(message, REFUSED)


def _load(path: Path) -> LoadedCampaign:
    from tansaku.campaign import CampaignError, load_campaign

    try:
        return load_campaign(path)
    except CampaignError as error:
        raise _campaign_refused(path, error) from None


def _campaign_refused(path: Path, error: CampaignError) -> typer.Exit:
    """Print every problem of the campaign file at ``path``; the exit that refuses it."""
    for problem in error.problems:
        err.print(str(problem), style="red", soft_wrap=True)
    count = len(error.problems)
    return _refuse(f"{path} has {count} problem{'s' * (count != 1)}; nothing was run")


@app.command()
def validate(campaign: CampaignFile) -> None:
    """Check a campaign file and summarise it; exit 2 listing every problem otherwise."""
    from tansaku.cli.views import campaign_table

    loaded = _load(campaign)
    out.print(campaign_table(loaded))
    out.print(Text.assemble(("✓", "green"), f" {campaign} is a valid campaign"))


@app.command()
def run(
    campaign: CampaignFile,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Measure with the campaign's declared simulator, in virtual time."
        ),
    ] = False,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the ledger and logs go (default: the campaign's run_dir, or runs/<name>)."
        ),
    ] = None,
    port: Annotated[
        list[str] | None,
        typer.Option(
            envvar="TANSAKU_PORT",
            metavar="DEVICE=PORT",
            help="Plug a device in elsewhere than the campaign file says, for this run "
            "(repeatable; TANSAKU_PORT takes several, separated by spaces).",
        ),
    ] = None,
    ledger: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Keep the ledger in a shared PostgreSQL database, "
            "postgresql://user@host:5432/db (default: the campaign's `ledger`, then "
            "TANSAKU_LEDGER for a new run directory, else SQLite in the run directory).",
        ),
    ] = None,
) -> None:
    """Run a campaign, or resume it from its run directory, until its budget is spent."""
    from tansaku.flows.runner import check_dry_run, with_ports

    loaded = _load(campaign)
    ports = _parse_ports(port or [])
    try:
        check_dry_run(loaded, dry_run)
        loaded = with_ports(loaded, ports)
    except TansakuError as error:
        raise _error(str(error), error.exit_code) from None
    if run_dir is None:
        declared = loaded.campaign.run_dir
        run_dir = loaded.base_dir / declared if declared else Path("runs") / loaded.campaign.name
    _run(loaded, run_dir, dry_run, overridden_ports=set(ports), ledger_url=ledger)


def _parse_ports(given: list[str]) -> dict[str, str]:
    ports: dict[str, str] = {}
    for text in given:
        device, equals, port = text.partition("=")
        if not (device and equals and port):
            raise _refuse(f"--port {text!r}: write it as DEVICE=PORT, e.g. hotplate=/dev/ttyUSB3")
        if device in ports:
            raise _refuse(f"--port names {device!r} twice")
        ports[device] = port
    return ports


def _run(
    loaded: LoadedCampaign,
    run_dir: Path,
    dry_run: bool,
    overridden_ports: set[str],
    ledger_url: str | None = None,
) -> None:
    from tansaku.cli.views import ProgressDisplay, summary_panel, waiting_table
    from tansaku.flows.proposing import FOR_PERSON
    from tansaku.flows.runner import LOG_FILE, run_campaign
    from tansaku.ledger import Ledger
    from tansaku.people.prompt import TerminalPrompt

    display = ProgressDisplay(out)
    prompt: TerminalPrompt | None = None
    driver = loaded.campaign.driver
    # A person answers in this terminal: a live progress bar would overwrite the typing.
    with_people = not dry_run and (driver.type == "manual" or driver.approve)
    mode = "dry run" if dry_run else "run"
    out.print(
        Text.assemble(
            (loaded.campaign.name, "bold"), f" · {mode} in {run_dir} · log: {run_dir / LOG_FILE}"
        )
    )

    def on_ready(ledger: Ledger, prefect_ui: str | None) -> None:
        nonlocal prompt
        if prefect_ui:
            out.print(f"Prefect UI: {prefect_ui}")
        # Experiments asked for by hand wait for their person under any driver.
        by_hand = any(
            r.status == "running" and r.proposer.get(FOR_PERSON) for r in ledger.experiments()
        )
        if not (with_people or by_hand):
            display.start(run_dir)
            return
        space = loaded.campaign.space
        prompt = TerminalPrompt(
            run_dir, out, view=lambda records, title: waiting_table(space, records, title)
        )
        prompt.start()

    try:
        outcome = run_campaign(
            loaded,
            run_dir,
            dry_run,
            on_ready=on_ready,
            overridden_ports=overridden_ports,
            ledger_url=ledger_url,
        )
    except TansakuError as error:
        raise _error(str(error), error.exit_code) from None
    except KeyboardInterrupt:
        display.stop()
        err.print(
            Text.assemble(("Interrupted.", "yellow"), " Run the same command again to resume.")
        )
        raise typer.Exit(INTERRUPTED) from None
    finally:
        display.stop()
        if prompt is not None:
            prompt.stop()
    out.print(summary_panel(_read_summary(run_dir)))
    if outcome.stop_reason is None:
        out.print("The campaign had already finished; nothing was run.")


def _read_summary(run_dir: Path) -> CampaignSummary:
    """The summary of the campaign in ``run_dir``; exit 2 if there is none."""
    from tansaku.ledger import Ledger
    from tansaku.report import summarize

    try:
        ledger = Ledger.open(run_dir, create=False)
    except TansakuError as error:
        raise _refuse(str(error)) from None  # refused even where the disk is at fault
    try:
        summary = summarize(ledger)
    finally:
        ledger.close()
    if summary is None:
        raise _refuse(f"{run_dir} holds no campaign yet")
    return summary


@app.command()
def status(
    run_dir: RunDir,
    last: Annotated[int, typer.Option(help="How many recent experiments to list.")] = 10,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Show it again at each change until the campaign stops (Ctrl-C stops sooner).",
        ),
    ] = False,
    every: Annotated[
        float | None,
        typer.Option(
            min=0.1, metavar="SECONDS", help="With --watch: how often to look (default 2)."
        ),
    ] = None,
) -> None:
    """Progress, best result and calendar of a campaign, and what waits for a person."""
    from tansaku.cli.status import print_status, status_parts, watch_status
    from tansaku.ledger import is_held

    if every is not None and not watch:
        raise _refuse("--every sets how often --watch looks; add --watch")
    summary = _read_summary(run_dir)
    if not watch:
        print_status(out, status_parts(summary, run_dir, is_held(run_dir), last))
        return
    try:
        watch_status(out, run_dir, last, every_s=2.0 if every is None else every)
    except TansakuError as error:
        raise _refuse(str(error)) from None
    except KeyboardInterrupt:
        err.print("stopped watching")


@app.command()
def export(
    run_dir: RunDir,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="File format.")] = (
        ExportFormat.csv
    ),
) -> None:
    """Write one row per experiment (parameters, objective, status, times) to a file."""
    import pandas as pd

    from tansaku.report import experiment_rows

    frame = pd.DataFrame(experiment_rows(_read_summary(run_dir)))
    # Written beside the target and renamed, so a full disk leaves no half-written file.
    partial = output.with_name(f".{output.name}.partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if format is ExportFormat.csv:
            frame.to_csv(partial, index=False)
        else:
            frame.to_parquet(partial, index=False)
        partial.replace(output)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise _refuse(
            f"cannot write {output} ({error.strerror or error}); nothing was written"
        ) from None
    out.print(f"wrote {len(frame)} experiments to {output}")


@server_app.command("start")
def server_start(
    database: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Keep Prefect's data in PostgreSQL, postgresql://user@host:5432/db, as a "
            "facility does (default: PREFECT_API_DATABASE_CONNECTION_URL, else Prefect's "
            "SQLite in PREFECT_HOME).",
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="The address to listen on: 0.0.0.0 lets workers on other machines in.",
            show_default="127.0.0.1",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="The port.", show_default="4200 if free, else any free one", min=1),
    ] = None,
) -> None:
    """Start the background Prefect server (a run starts it by itself when needed)."""
    from tansaku.flows.prefect_server import ensure_server, prefect_home

    try:
        state = ensure_server(prefect_home(), port=port, host=host, database=database)
    except TansakuError as error:
        raise _error(str(error), error.exit_code) from None
    database_note = f", database {state.database}" if state.database else ""
    out.print(
        f"Prefect server running at {state.url} (pid {state.pid}{database_note}, log {state.log})"
    )
    if state.host != "127.0.0.1":
        import socket

        out.print(
            f"it listens on {state.host}: on other machines, set PREFECT_API_URL="
            f"http://{socket.gethostname()}:{state.url.rsplit(':', 1)[1]}/api"
        )


@server_app.command("stop")
def server_stop() -> None:
    """Stop the background Prefect server."""
    from tansaku.flows.prefect_server import prefect_home, stop_server

    state = stop_server(prefect_home())
    out.print(
        f"stopped the Prefect server at {state.url}"
        if state
        else "no background Prefect server was running"
    )


@server_app.command("status")
def server_status() -> None:
    """Say whether the background Prefect server is up, and where."""
    from tansaku.flows.prefect_server import prefect_home, running_server

    state = running_server(prefect_home())
    out.print(
        f"Prefect server running at {state.url} (pid {state.pid}, listening on "
        f"{state.host}, database {state.database or 'SQLite in PREFECT_HOME'})"
        if state
        else "no background Prefect server is running"
    )


def main() -> None:
    try:
        app()
    except SystemExit as leaving:
        if "prefect" in sys.modules:
            from tansaku.flows.runner import deliver_prefect_backlog

            if not deliver_prefect_backlog():
                # What Prefect still holds is observability only; waiting for it would
                # hold the terminal for as long as Prefect retries a dead server.
                sys.stdout.flush()
                sys.stderr.flush()
                logging.shutdown()
                os._exit(leaving.code if isinstance(leaving.code, int) else FAILED)
        raise


# They register their commands on `app` (suggest, tell, add, approve, reject; predict;
# report; revise; ledger copy; deploy), so they need it defined above.
from tansaku.cli import deploy, ledger_copy, people, predict, report, revise  # noqa: E402, F401
