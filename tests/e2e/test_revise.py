"""``tansaku revise``, through the real command: a dry run revised, resumed and refused."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tansaku.ledger import RunDirectoryLock
from tansaku.people.revision import experiment_ids
from tests.conftest import small_branin, tansaku

pytestmark = pytest.mark.usefixtures("prefect_server")


def ledger_dump(run_dir: Path) -> list[str]:
    """Every row of every table: what a refused revision must leave as it was."""
    with sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        return list(db.iterdump())


def edited(path: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = path.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    revised = path.with_name(name)
    revised.write_text(text)
    return revised


def test_narrowed_bounds_are_recorded_and_the_resumed_run_keeps_inside_them(
    tmp_path: Path,
) -> None:
    campaign = small_branin(tmp_path, name="rev", budget=6)
    run = tansaku("run", campaign, "--dry-run", "--run-dir", "runs/rev", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    run_dir = tmp_path / "runs" / "rev"
    before = ledger_dump(run_dir)

    refused = {
        "renamed.yaml": (("name: x1,", "name: temp,"), "removes parameter 'x1'; adds parameter"),
        "flipped.yaml": (("goal: minimize", "goal: maximize"), "turns objective 'y' from"),
    }
    for name, (edit, reason) in refused.items():
        result = tansaku("revise", run_dir, edited(campaign, name, edit), cwd=tmp_path)
        assert result.returncode == 2, result.stdout
        assert reason in result.stderr and "new --run-dir" in result.stderr
        assert "nothing was recorded" in result.stderr and "Traceback" not in result.stderr
        assert ledger_dump(run_dir) == before

    narrowed = edited(
        campaign,
        "narrowed.yaml",
        ("bounds: [-5, 10]", "bounds: [0, 10]"),
        ("experiments: 6", "experiments: 8"),
    )
    with RunDirectoryLock(run_dir):
        busy = tansaku("revise", run_dir, narrowed, cwd=tmp_path)
    assert busy.returncode == 2 and "stop the run, revise, then run it again" in busy.stderr
    assert ledger_dump(run_dir) == before

    old_points = ledger_rows(run_dir, "SELECT id, parameters FROM experiments ORDER BY id")
    outside = [i for i, point in old_points if not 0 <= json.loads(point)["x1"] <= 10]
    revise = tansaku("revise", run_dir, narrowed, cwd=tmp_path)
    assert revise.returncode == 0, revise.stderr
    assert "-  - {name: x1, type: continuous, bounds: [-5, 10]}" in revise.stdout
    assert "space.x1.bounds: [-5, 10] → [0, 10]" in revise.stdout
    assert "budget.experiments: 6 → 8" in revise.stdout
    assert outside, "the Sobol design of seed 4 reaches below x1 = 0"
    assert (
        f"{experiment_ids(outside)}: x1 lies outside the new bounds [0, 10]; they stay in the "
        "ledger and in exports, and the model still learns from them"
    ) in revise.stdout
    [(by, diff, source)] = ledger_rows(run_dir, "SELECT by, diff, source_path FROM revisions")
    assert "@" in by and "+  - {name: x1, type: continuous, bounds: [0, 10]}" in diff
    assert source == str(narrowed.resolve())

    resumed = tansaku("run", narrowed, "--dry-run", "--run-dir", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "budget reached: 8 of 8 experiments" in resumed.stdout
    points = ledger_rows(run_dir, "SELECT id, parameters FROM experiments ORDER BY id")
    assert points[:6] == old_points
    assert len(points) == 8
    for _, point in points[6:]:
        assert 0 <= json.loads(point)["x1"] <= 10
    status = tansaku("status", run_dir, cwd=tmp_path)
    assert status.returncode == 0 and "revised  once, last " in status.stdout


def ledger_rows(run_dir: Path, query: str) -> list[tuple]:
    with sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        return db.execute(query).fetchall()


def test_at_a_terminal_the_revision_waits_for_a_yes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, with a person's answers on stdin: no run is needed to revise."""
    from typer.testing import CliRunner

    from tansaku.cli import revise
    from tansaku.cli.app import app
    from tansaku.people.campaign import open_campaign

    campaign = small_branin(tmp_path, name="asked", budget=4)
    with open_campaign(campaign, run_dir=tmp_path / "run"):
        pass
    raised = edited(campaign, "raised.yaml", ("experiments: 4", "experiments: 6"))
    monkeypatch.setattr(revise, "_at_terminal", lambda: True)
    runner = CliRunner()

    declined = runner.invoke(app, ["revise", str(tmp_path / "run"), str(raised)], input="n\n")
    assert declined.exit_code == 2
    assert "Record this revision?" in declined.output
    assert ledger_rows(tmp_path / "run", "SELECT count(*) FROM revisions") == [(0,)]

    accepted = runner.invoke(app, ["revise", str(tmp_path / "run"), str(raised)], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert ledger_rows(tmp_path / "run", "SELECT count(*) FROM revisions") == [(1,)]
