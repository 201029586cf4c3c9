"""``tansaku revise RUN_DIR CAMPAIGN.yaml``: change a campaign's plan mid-way, on the record.

The rules of what may change are :mod:`tansaku.people.revision`'s; this command shows the
change (a diff of the files and what it means for past experiments), asks at a terminal
unless given ``--yes``, and records it in the ledger (who, when, the file and the diff),
whose stored campaign becomes the revised one: later runs of the revised file resume
there. Refused with exit 2 and nothing written where a change would give past
experiments another meaning, or while a ``tansaku run`` holds the directory (its
proposer, already built, would not see the revision).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.text import Text

from tansaku.cli.app import CampaignFile, RunDir, _error, _load, _refuse, app, out
from tansaku.errors import TansakuError

BUSY = (
    "{run_dir} is being run by `tansaku run`, whose proposer would not see the revision; "
    "stop the run, revise, then run it again"
)


@app.command()
def revise(
    run_dir: RunDir,
    campaign: CampaignFile,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Record the revision without asking (it is never asked where stdin is not "
            "a terminal).",
        ),
    ] = False,
) -> None:
    """Change a campaign's plan between runs (bounds, values, budget, settings), on record."""
    from tansaku.campaign.fingerprint import fingerprint
    from tansaku.ledger import LedgerChangedError, RunDirectoryBusyError, RunDirectoryLock, is_held
    from tansaku.people.campaign import open_run, who
    from tansaku.people.revision import compare, file_diff

    new = _load(campaign)
    try:
        opened = open_run(run_dir)
    except TansakuError as error:
        raise _error(str(error), error.exit_code) from None
    with opened:
        if is_held(run_dir):
            raise _refuse(BUSY.format(run_dir=run_dir))
        old = opened.loaded
        if old.text == new.text:
            out.print(f"{campaign} is the campaign as {run_dir} holds it; nothing to revise")
            return
        version = opened.ledger.version()
        revision = compare(old.campaign, new.campaign, opened.ledger.experiments())
        refusal = revision.refusal()
        if refusal is not None:
            raise _refuse(f"{run_dir}: {refusal}; nothing was recorded")
        diff = file_diff(old.text, new.text, f"{old.path} (as run)", str(campaign))
        out.print(diff, end="")
        out.print(Text("Changes", style="bold"))
        for change in revision.changes:
            out.print(f"  {change}", soft_wrap=True)
        out.print(Text("Experiments outside the revised space", style="bold"))
        for misfit in revision.misfits:
            out.print(f"  {misfit}", soft_wrap=True)
        if not revision.misfits:
            out.print("  none: every experiment so far lies inside it")
        if not yes and _at_terminal() and not typer.confirm("Record this revision?"):
            raise _refuse("not revised; nothing was recorded")
        try:
            with RunDirectoryLock(run_dir):
                number = opened.ledger.record_revision(
                    source_path=str(new.path.resolve()),
                    source_text=new.text,
                    diff=diff,
                    fingerprint=fingerprint(new),
                    snapshot=new.campaign.model_dump(mode="json"),
                    by=who(),
                    unless_changed_since=version,
                )
        except LedgerChangedError:
            # A `suggest` or a result since the comparison: it may not hold now.
            raise _refuse(
                f"{run_dir} changed while the revision was checked; nothing was recorded. "
                "Run `tansaku revise` again."
            ) from None
        except RunDirectoryBusyError:
            raise _refuse(BUSY.format(run_dir=run_dir)) from None
        except TansakuError as error:
            raise _error(str(error), error.exit_code) from None
        record = opened.ledger.campaign()
        dry_run = " --dry-run" if record is not None and record.mode == "dry-run" else ""
        out.print(
            Text.assemble(
                ("✓", "green"),
                f" revision {number} of {new.campaign.name} recorded in {run_dir}; "
                f"`tansaku run {campaign}{dry_run} --run-dir {run_dir}` continues with it",
            ),
            soft_wrap=True,
        )


def _at_terminal() -> bool:
    """Whether a person can answer: a script or a pipe revises without being asked, as
    the command itself says what to do."""
    return sys.stdin.isatty()
