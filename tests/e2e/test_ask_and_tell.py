"""A campaign worked by hand through the real ``tansaku`` command: suggest, tell, add,
approve and reject, in subprocesses, on a real ledger, over several invocations."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import tansaku
from tansaku.campaign.fingerprint import fingerprint
from tests.conftest import TANSAKU, write_campaign
from tests.conftest import tansaku as run_tansaku

BENCH = """
    name: bench
    seed: 3
    budget: {{experiments: 5}}
    space:
      - {{name: temp_c, type: continuous, bounds: [60, 250], unit: degC}}
      - {{name: solvent, type: categorical, values: [water, ethanol]}}
    objectives:
      - {{name: g, goal: maximize, unit: mS, valid: [0, 1000]}}
    proposer:
      initial: {{n: 2}}
      num_restarts: 2
      raw_samples: 64
    driver: {{type: manual, slots: 2, approve: {approve}}}
"""


def bench(folder: Path, approve: bool = False) -> Path:
    """A two-parameter campaign measured by hand, with a valid range on its objective."""
    return write_campaign(folder, BENCH.format(approve=str(approve).lower()), name="bench.yaml")


def ledger_rows(run_dir: Path, query: str) -> list[tuple]:
    with sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        return db.execute(query).fetchall()


def ledger_digest(run_dir: Path) -> str:
    """Every row of every table: equal digests mean nothing was written."""
    with sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        return hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()


RANGE = "% of 60\N{EN DASH}250"
"""How the tables place a temperature within its bounds."""


def plain(text: str) -> str:
    """The tables' non-breaking spaces (which keep "42 % of 60-250" together) as spaces."""
    return text.replace("\N{NO-BREAK SPACE}", " ")


def proposal(temp_c: float, solvent: str) -> dict[str, object]:
    """A proposal as ``Ledger.record_proposals`` takes it."""
    return {"parameters": {"temp_c": temp_c, "solvent": solvent}, "method": "t", "proposer": {}}


def prepared(folder: Path, approve: bool = False) -> tuple[Path, Path]:
    """A campaign and its run directory holding #1 running and #2 running, #1 told.

    Made through the Python API without a proposer, so it needs no torch."""
    campaign = bench(folder, approve)
    run_dir = folder / "run"
    with tansaku.open(campaign, run_dir) as opened:
        opened.ledger.record_proposals(
            [proposal(100.0, "water"), proposal(200.0, "ethanol")], status="running"
        )
        opened.tell(1, g=5.0)
    return campaign, run_dir


def test_a_campaign_asked_and_told_by_hand_ends_at_its_budget(tmp_path: Path) -> None:
    campaign = bench(tmp_path)
    run_dir = tmp_path / "runs" / "bench"  # the default: runs/<name>, from the working dir

    first = run_tansaku("suggest", campaign, "-n", "2", "--format", "json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    rows = json.loads(first.stdout)  # stdout holds the JSON and nothing else
    assert [r["id"] for r in rows] == [1, 2]
    assert {r["method"] for r in rows} == {"sobol"}
    for row in rows:
        assert 60 <= row["parameters"]["temp_c"] <= 250
        assert row["parameters"]["solvent"] in ("water", "ethanol")

    waiting = run_tansaku("status", run_dir, cwd=tmp_path)
    assert waiting.returncode == 0, waiting.stderr
    assert "running 2" in waiting.stdout and "waiting for a person" in waiting.stdout
    assert RANGE in plain(waiting.stdout)
    assert f"tansaku tell {run_dir} 1 g=…" in waiting.stdout

    told = run_tansaku("tell", run_dir, "1", "g=5.5", "--actual", "temp_c=143", cwd=tmp_path)
    assert told.returncode == 0, told.stderr
    assert told.stdout.startswith("#1 recorded: g = 5.5 mS; made at temp_c = 143 degC")
    failed = run_tansaku("tell", run_dir, "2", "--failed", "film cracked", cwd=tmp_path)
    assert failed.returncode == 0, failed.stderr
    assert failed.stdout.strip() == "#2 recorded: failed: film cracked"
    added = run_tansaku("add", run_dir, "temp_c=100", "solvent=water", "g=7", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "#3 added: temp_c = 100 degC, solvent = water → g = 7 mS"

    # Three of five spent: the model proposes the last two.
    second = run_tansaku("suggest", campaign, "-n", "3", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    table = plain(second.stdout)
    assert "2 to run, recorded as waiting for their results" in table
    assert RANGE in table and "degC" in table
    assert "tansaku tell runs/bench 4 g=…" in table  # the run directory as it defaults
    for experiment_id, value in (("4", "g=8"), ("5", "g=6")):
        result = run_tansaku("tell", run_dir, experiment_id, value, cwd=tmp_path)
        assert result.returncode == 0, result.stderr

    last = run_tansaku("suggest", campaign, cwd=tmp_path)
    assert last.returncode == 0, last.stderr
    assert "nothing new to run: budget reached: 5 of 5 experiments" in last.stdout
    machine = run_tansaku("suggest", campaign, "--format", "csv", cwd=tmp_path)
    assert machine.returncode == 0, machine.stderr
    assert machine.stdout == "id,temp_c,solvent\n"
    assert "budget reached: 5 of 5 experiments" in machine.stderr

    status = run_tansaku("status", run_dir, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "experiments  5/5 · done 4 · failed 1 · running 0 · queued 0" in status.stdout
    assert "best g (maximize)  8 at #4" in status.stdout
    assert "waiting for a person" not in status.stdout

    exported = tmp_path / "bench.csv"
    assert run_tansaku("export", run_dir, "-o", exported, cwd=tmp_path).returncode == 0
    frame = pd.read_csv(exported).set_index("experiment")
    assert frame.loc[1, "temp_c"] == 143
    proposed = rows[0]["parameters"]
    assert frame.loc[1, "proposed_as"] == (
        f"temp_c={proposed['temp_c']} solvent={proposed['solvent']}"
    )
    assert frame.loc[2, "status"] == "failed" and frame.loc[2, "failure"] == "film cracked"
    assert list(frame["method"]) == ["sobol", "sobol", "manual", "gp", "gp"]
    assert ledger_rows(run_dir, "SELECT count(*) FROM results") == [(5,)]


BAD_ANSWERS = [
    (["tell", "{run}", "2", "g"], "'g': write each value as NAME=VALUE"),
    (["tell", "{run}", "2", "h=3"], "h: not measured by this campaign, which measures g"),
    (["tell", "{run}", "2"], "the result lacks g; give every measured quantity"),
    (["tell", "{run}", "2", "g=nan"], "g = nan: give a finite number"),
    (["tell", "{run}", "2", "g=12k"], "g = '12k' is not a number"),
    (["tell", "{run}", "2", "g=2000"], "g = 2000 lies outside its valid range [0, 1000] mS"),
    (["tell", "{run}", "2", "g=3", "g=4"], "'g' is given twice"),
    (["tell", "{run}", "2", "g=3", "--failed", "cracked"], "the measured values or --failed"),
    (["tell", "{run}", "2", "g=3", "--actual", "temp_c=300"], "temp_c = 300 lies outside"),
    (["tell", "{run}", "2", "g=3", "--actual", "speed=3"], "speed: not a parameter"),
    (["tell", "{run}", "9", "g=3"], "#9 is not waiting for a result: there is no such"),
    (["tell", "{run}", "1", "g=3"], "#1 is not waiting for a result: it already has a result"),
    (["add", "{run}", "temp_c=100", "g=3"], "the experiment lacks solvent"),
    (["add", "{run}", "temp_c=100", "solvent=milk", "g=3"], "allows only water, ethanol"),
    (["approve", "{run}", "2"], "#2 needs no approval: this campaign sends its proposals"),
    (["tell", "{nowhere}", "1", "g=3"], "holds no campaign ledger"),
]


@pytest.mark.parametrize(("words", "message"), BAD_ANSWERS, ids=[m for _, m in BAD_ANSWERS])
def test_a_bad_answer_is_refused_in_one_sentence_writing_nothing(
    tmp_path: Path, words: list[str], message: str
) -> None:
    _, run_dir = prepared(tmp_path)
    before = ledger_digest(run_dir)
    args = [w.format(run=run_dir, nowhere=tmp_path / "nowhere") for w in words]
    result = run_tansaku(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert ledger_digest(run_dir) == before


def test_a_broken_campaign_file_is_refused_before_a_ledger_exists(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path, BENCH.format(approve="maybe"), name="bench.yaml")
    result = run_tansaku("suggest", campaign, "--run-dir", "run", cwd=tmp_path)
    assert result.returncode == 2
    assert "driver.approve" in result.stderr
    assert f"{campaign} has 1 problem; nothing was run" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


def test_results_for_a_dry_run_are_refused(tmp_path: Path) -> None:
    campaign = bench(tmp_path)
    run_dir = tmp_path / "rehearsal"
    run_dir.mkdir()
    loaded = tansaku.load_campaign(campaign)
    ledger = tansaku.Ledger.open(run_dir)
    ledger.start_campaign(
        name="bench",
        fingerprint=fingerprint(loaded),
        mode="dry-run",
        source_path=str(campaign),
        source_text=loaded.text,
        snapshot=loaded.campaign.model_dump(mode="json"),
        clock_start=datetime.now(UTC),
    )
    ledger.record_proposals([proposal(90.0, "water")], status="running")
    ledger.close()
    before = ledger_digest(run_dir)
    for words in (
        ["tell", run_dir, "1", "g=3"],
        ["add", run_dir, "temp_c=90", "solvent=water", "g=3"],
    ):
        result = run_tansaku(*words, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "holds a dry run, whose results come from its simulator" in result.stderr
    assert ledger_digest(run_dir) == before


def test_two_people_telling_one_experiment_at_once_record_one_result(tmp_path: Path) -> None:
    _, run_dir = prepared(tmp_path)
    tellers = [
        subprocess.Popen(
            [str(TANSAKU), "tell", str(run_dir), "2", f"g={value}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for value in (11, 22)
    ]
    outputs = [teller.communicate(timeout=60) for teller in tellers]
    codes = sorted(teller.returncode for teller in tellers)
    assert codes == [0, 2], outputs
    loser = next(err for (_, err), t in zip(outputs, tellers, strict=True) if t.returncode == 2)
    assert "#2 is not waiting for a result: it already has a result" in loser
    assert ledger_rows(run_dir, "SELECT count(*) FROM results WHERE experiment_id = 2") == [(1,)]


def test_approve_and_reject_proposals_of_a_run(tmp_path: Path) -> None:
    # `suggest` records what it proposes as running (asking is the approval): proposals
    # waiting for approval come from `tansaku run`, recorded here as it would.
    campaign = bench(tmp_path, approve=True)
    run_dir = tmp_path / "run"
    with tansaku.open(campaign, run_dir) as opened:
        opened.ledger.record_proposals([proposal(240.0, "water"), proposal(90.0, "water")])
        opened.ledger.record_proposals([proposal(150.0, "ethanol")], status="running")

    status = run_tansaku("status", run_dir, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("approval") == 2 and "a result" in status.stdout
    assert f"tansaku approve {run_dir} 1" in status.stdout
    assert f"tansaku reject {run_dir} 1 --reason" in status.stdout

    before = ledger_digest(run_dir)
    for words, message in (
        (["approve", run_dir, "7"], "#7 is not waiting for approval: there is no such experiment"),
        (["approve", run_dir, "3"], "#3 is not waiting for approval: it is running"),
        (["reject", run_dir, "1", "--reason", " "], "say why the proposal is rejected"),
        (["reject", run_dir, "1"], "Missing option '--reason'"),
    ):
        result = run_tansaku(*words, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert ledger_digest(run_dir) == before

    rejected = run_tansaku("reject", run_dir, "1", "--reason", "too hot for the film", cwd=tmp_path)
    assert rejected.returncode == 0, rejected.stderr
    assert rejected.stdout.strip() == "#1 rejected: too hot for the film"
    again = run_tansaku("reject", run_dir, "1", "--reason", "still", cwd=tmp_path)
    assert again.returncode == 2 and "it has already been decided" in again.stderr
    approved = run_tansaku("approve", run_dir, "2", cwd=tmp_path)
    assert approved.returncode == 0 and approved.stdout.startswith("#2 approved")

    status = run_tansaku("status", run_dir, cwd=tmp_path)
    assert "queued 1 · rejected 1" in status.stdout
    assert "too hot for the film" in status.stdout
    assert "approval" not in status.stdout  # #2 is approved, #1 refused: none left to decide
    exported = tmp_path / "decided.csv"
    assert run_tansaku("export", run_dir, "-o", exported, cwd=tmp_path).returncode == 0
    frame = pd.read_csv(exported).set_index("experiment")
    assert frame.loc[1, "status"] == "rejected"
    assert frame.loc[1, "rejected_because"] == "too hot for the film"
