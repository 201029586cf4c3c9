"""``tansaku ledger copy RUN_DIR URL``: move a run's SQLite ledger into a shared database."""

from __future__ import annotations

from typing import Annotated

import typer

from tansaku.cli.app import RunDir, _error, app, out
from tansaku.errors import TansakuError

ledger_app = typer.Typer(help="Work with a run's ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("copy")
def copy(
    run_dir: RunDir,
    url: Annotated[str, typer.Argument(metavar="URL", help="postgresql://user@host:5432/db")],
) -> None:
    """Copy the run's SQLite ledger into a shared PostgreSQL ledger, and go on there."""
    from tansaku.ledger import masked
    from tansaku.ledger.copying import copy_ledger

    try:
        copied = copy_ledger(run_dir, url)
    except TansakuError as error:
        raise _error(str(error), error.exit_code) from None
    experiments = copied.rows.get("experiments", 0)
    out.print(
        f"copied {experiments} experiments ({sum(copied.rows.values())} rows) into "
        f"{masked(copied.shared.url)}, schema {copied.shared.schema}"
    )
    out.print(
        f"{run_dir} now uses that ledger (status, report, tell and run go there); the SQLite "
        f"ledger is kept as {copied.kept}"
    )
