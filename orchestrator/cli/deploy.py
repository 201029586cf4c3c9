"""``tansaku deploy CAMPAIGN --pool P``: a campaign as a Prefect deployment for a facility's
workers (``prefect worker start --pool P`` on the instrument's PC)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from tansaku.cli.app import CampaignFile, _error, _refuse, app, err, out
from tansaku.errors import TansakuError

if TYPE_CHECKING:
    from tansaku.campaign import CampaignError


@app.command("deploy")
def deploy_command(
    campaign: CampaignFile,
    pool: Annotated[
        str,
        typer.Option(
            help="Prefect work pool whose workers run the campaign (type process; created "
            "if missing)."
        ),
    ],
    queue: Annotated[
        str | None,
        typer.Option(
            help="Work queue in the pool, e.g. one per instrument PC "
            "(`prefect worker start --pool P --work-queue Q` there)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="Deployment name, and the run directory's on the worker "
            "(default: the campaign's name)."
        ),
    ] = None,
    ledger: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Keep the ledger in a shared PostgreSQL database (default: the campaign's "
            "`ledger`, then the worker's TANSAKU_LEDGER, else SQLite in the run directory).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Runs measure with the campaign's simulator, in virtual time."
        ),
    ] = False,
    start: Annotated[
        bool, typer.Option("--start", help="Also start a run of the deployment now.")
    ] = False,
) -> None:
    """Create or update a Prefect deployment of the campaign; workers of the pool run it."""
    from tansaku.campaign import CampaignError, load_campaign
    from tansaku.flows.deployment import RUNS_VARIABLE, bundle_campaign, deploy
    from tansaku.flows.runner import check_dry_run
    from tansaku.ledger.location import parse_ledger_url

    try:
        loaded = load_campaign(campaign)
        bundle = bundle_campaign(loaded)
    except CampaignError as error:
        raise _not_deployed(campaign, error) from None
    try:
        check_dry_run(loaded, dry_run)
        if ledger is not None and parse_ledger_url(ledger, "--ledger").password:
            err.print(
                "warning: the ledger URL's password is kept in the deployment's parameters, "
                "which the Prefect UI shows; a worker's TANSAKU_LEDGER keeps it on that PC",
                style="yellow",
                soft_wrap=True,
            )
        deployed = deploy(
            bundle,
            name=name or loaded.campaign.name,
            pool=pool,
            queue=queue,
            dry_run=dry_run,
            ledger_url=ledger,
            start=start,
            description=loaded.campaign.description,
        )
    except TansakuError as error:
        raise _error(str(error), error.exit_code) from None
    deployment_name = deployed.full_name.split("/", 1)[1]
    queue_option = f" --work-queue {queue}" if queue else ""
    out.print(
        Text.assemble(
            ("✓", "green"),
            f" deployed {campaign} as {deployed.full_name} in work pool {pool}"
            + (f" (queue {queue})" if queue else ""),
        )
    )
    out.print(f"Workers run it: prefect worker start --pool {pool}{queue_option}")
    out.print(
        f"On the worker it runs in ${RUNS_VARIABLE}/{deployment_name} "
        f"(~/tansaku-runs/{deployment_name} without {RUNS_VARIABLE})"
    )
    if deployed.flow_run_id is None:
        out.print(f"Start a run: prefect deployment run '{deployed.full_name}', or --start")
        out.print(f"Prefect UI: {deployed.ui_url}")
    else:
        out.print(
            f"Flow run {deployed.flow_run_id} waits for a worker of {pool}: {deployed.ui_url}"
        )


def _not_deployed(path: Path, error: CampaignError) -> typer.Exit:
    """Print every problem of the campaign file at ``path``; the exit that refuses it."""
    for problem in error.problems:
        err.print(str(problem), style="red", soft_wrap=True)
    count = len(error.problems)
    return _refuse(f"{path} has {count} problem{'s' * (count != 1)}; nothing was deployed")
