"""The real ``tansaku`` command, in subprocesses, on real files, a real ledger and Prefect."""

from __future__ import annotations

import csv
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tansaku.ledger import Ledger, RunDirectoryLock
from tests.conftest import REPO, TANSAKU, small_branin, tansaku, write_campaign
from tests.e2e.test_report import check_report

pytestmark = pytest.mark.usefixtures("prefect_server")

PREFECT_NOISE = ("INFO", "Task run", "Flow run", "telemetry", "Traceback", "WARNING")


def ledger_rows(run_dir: Path, query: str) -> list[tuple]:
    with sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        return db.execute(query).fetchall()


def test_a_dry_run_then_status_and_export(tmp_path: Path, prefect_server: str) -> None:
    campaign = small_branin(tmp_path, name="demo", budget=8)
    run = tansaku("run", campaign, "--dry-run", "--run-dir", "runs/demo", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "8/8" in run.stdout and "budget reached: 8 of 8 experiments" in run.stdout
    for noise in PREFECT_NOISE:
        assert noise not in run.stdout + run.stderr, noise

    run_dir = tmp_path / "runs" / "demo"
    log = (run_dir / "tansaku.log").read_text()
    assert "Task run 'measure-demo-0001' - Finished in state Completed()" in log
    assert "Flow run 'demo@demo'" in log

    status = tansaku("status", run_dir, cwd=tmp_path)
    assert status.returncode == 0
    assert "experiments  8/8 · done 8 · failed 0" in status.stdout
    # 8 experiments of 2 h each from the declared virtual start.
    assert "simulated calendar  2026-12-01 09:00 → 2026-12-02 01:00 UTC (16h" in status.stdout
    assert "finished" in status.stdout

    for fmt, reader in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
        exported = tmp_path / f"demo.{fmt}"
        result = tansaku("export", run_dir, "--format", fmt, "-o", exported, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        frame = reader(exported)
        assert list(frame["experiment"]) == list(range(1, 9))
        assert set(frame["status"]) == {"done"}
        assert list(frame["method"]) == ["sobol"] * 4 + ["gp"] * 4
        assert frame["x1"].between(-5, 10).all() and frame["x2"].between(0, 15).all()
        assert frame["y"].notna().all()

    again = tansaku("run", campaign, "--dry-run", "--run-dir", "runs/demo", cwd=tmp_path)
    assert again.returncode == 0 and "already finished" in again.stdout
    assert ledger_rows(run_dir, "SELECT count(*) FROM results") == [(8,)]

    (flow_run_id,) = ledger_rows(run_dir, "SELECT flow_run_id FROM sessions WHERE id = 1")[0]
    flow_run = httpx.get(f"{prefect_server}/flow_runs/{flow_run_id}").json()
    assert flow_run["name"] == "demo@demo" and flow_run["state_type"] == "COMPLETED"
    task_runs = httpx.post(
        f"{prefect_server}/task_runs/filter",
        json={"task_runs": {"flow_run_id": {"any_": [flow_run_id]}}},
    ).json()
    names = {task_run["name"] for task_run in task_runs}
    assert {"propose-demo-0001", "measure-demo-0001", "measure-demo-0008"} <= names


def ledger_has_tables(run_dir: Path) -> bool:
    """Whether the ledger exists with its tables: the file appears first, empty."""
    if not (run_dir / "ledger.sqlite").exists():
        return False
    query = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'results'"
    return ledger_rows(run_dir, query) == [(1,)]


def wait_for_stuck_experiment(
    run_dir: Path,
    process: subprocess.Popen,
    done_before: int,
) -> int:
    """The id of an experiment seen ``running`` for over half a second after
    ``done_before`` results: the process is then mid-measurement (in a retry wait)."""
    seen: dict[int, float] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if ledger_has_tables(run_dir):
            done = ledger_rows(run_dir, "SELECT count(*) FROM results")[0][0]
            running = ledger_rows(run_dir, "SELECT id FROM experiments WHERE status='running'")
            for (experiment_id,) in running:
                first_seen = seen.setdefault(experiment_id, time.monotonic())
                if done >= done_before and time.monotonic() - first_seen > 0.5:
                    return experiment_id
        time.sleep(0.1)
    raise AssertionError("the run never sat in a measurement; the fault schedule changed?")


def test_kill_9_mid_measurement_then_resume_loses_and_repeats_nothing(
    tmp_path: Path, prefect_server: str
) -> None:
    # With seed 4 and fault_rate 0.35 the simulated instrument faults on experiments 1, 2, 8
    # (twice), 9 and 10; each fault holds the experiment `running` for the retry delay.
    campaign = small_branin(
        tmp_path, name="crash", budget=10, retries=3, retry_delay="2s", fault_rate=0.35
    )
    run_dir = tmp_path / "runs" / "crash"
    command = [str(TANSAKU), "run", str(campaign), "--dry-run", "--run-dir", str(run_dir)]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        stuck = wait_for_stuck_experiment(run_dir, process, done_before=5)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = dict(ledger_rows(run_dir, "SELECT experiment_id, recorded_at FROM results"))
    assert stuck not in before and len(before) >= 5
    attempts_before = dict(ledger_rows(run_dir, "SELECT id, attempts FROM experiments"))

    resumed = tansaku("run", campaign, "--dry-run", "--run-dir", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "10/10" in resumed.stdout

    results = ledger_rows(run_dir, "SELECT experiment_id, recorded_at FROM results")
    assert sorted(i for i, _ in results) == list(range(1, 11))  # none lost, none twice
    assert {i: t for i, t in results if i in before} == before  # finished ones untouched
    attempts = dict(ledger_rows(run_dir, "SELECT id, attempts FROM experiments"))
    assert attempts[stuck] > attempts_before[stuck]
    assert {i: attempts[i] for i in before} == {i: attempts_before[i] for i in before}
    notes = ledger_rows(run_dir, f"SELECT note FROM transitions WHERE experiment_id={stuck}")
    assert ("interrupted while running; queued to run again",) in notes
    sessions = ledger_rows(run_dir, "SELECT outcome, flow_run_id FROM sessions ORDER BY id")
    assert [outcome for outcome, _ in sessions] == ["died", "finished"]
    killed_flow_run = httpx.get(f"{prefect_server}/flow_runs/{sessions[0][1]}").json()
    assert killed_flow_run["state_type"] == "CRASHED"

    # The resumed campaign proposed and measured exactly what an uninterrupted one does.
    reference = tansaku("run", campaign, "--dry-run", "--run-dir", "runs/reference", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    query = (
        "SELECT e.parameters, r.objective FROM experiments e JOIN results r "
        "ON r.experiment_id = e.id ORDER BY e.id"
    )
    assert ledger_rows(run_dir, query) == ledger_rows(tmp_path / "runs" / "reference", query)


FLAKY_TABLE = """
    name: flaky
    seed: 2
    budget: {experiments: 12}
    space:
      - {name: x, type: continuous, bounds: [0, 1]}
      - {name: solvent, type: categorical, values: [water, oil, acetone]}
    objectives:
      - {name: y, goal: maximize}
    proposer: {initial: {n: 6}, num_restarts: 2, raw_samples: 64}
    driver:
      type: simulated
      simulator: {type: dataset, path: table.csv, output: y, failure_rate: 0.1}
"""


def test_failing_and_nan_measurements_are_recorded_and_the_campaign_goes_on(
    tmp_path: Path,
) -> None:
    # Acetone was never measured (the simulator raises); x > 0.6 in oil has no reading (NaN).
    with (tmp_path / "table.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "solvent", "y"])
        for i in range(21):
            x = i / 20
            writer.writerow([x, "water", 1 - (x - 0.3) ** 2])
            writer.writerow([x, "oil", "" if x > 0.6 else 0.5 + x])
    campaign = write_campaign(tmp_path, FLAKY_TABLE)
    run = tansaku("run", campaign, "--dry-run", "--run-dir", "runs/flaky", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "12/12" in run.stdout

    records = Ledger.open(tmp_path / "runs" / "flaky", create=False).experiments()
    assert len(records) == 12
    failures = [r.failure for r in records if r.status == "failed"]
    assert "LookupError: table.csv has no measurement with {'solvent': 'acetone'}" in failures
    assert "'y' came back as nan, not a finite number" in failures
    assert all(r.objective is None for r in records if r.status == "failed")
    done = [r for r in records if r.status == "done"]
    assert done and all(r.objective is not None for r in done)
    assert any(r.method == "gp" for r in records[6:])
    (raw,) = ledger_rows(
        tmp_path / "runs" / "flaky",
        "SELECT r.\"values\" FROM results r WHERE failure LIKE '%nan%' LIMIT 1",
    )
    assert raw == ('{"y": "nan"}',)  # the raw reading is kept, not dropped


YIELD_TABLE = """
    name: fractions
    seed: 2
    budget: {experiments: 4}
    space:
      - {name: x, type: continuous, bounds: [0, 1]}
    objectives:
      - {name: yield_fraction, goal: maximize, valid: [0, 1]}
    proposer: {initial: {n: 4}}
    driver:
      type: simulated
      simulator: {type: dataset, path: table.csv, output: yield_fraction}
"""


def test_a_reading_outside_its_valid_range_is_recorded_as_a_failure(tmp_path: Path) -> None:
    # From x = 0.5 on the table holds percentages where fractions belong: readings no
    # real yield fraction takes.
    rows = [f"{i / 20},{i / 20 if i < 10 else 5 * i}" for i in range(21)]
    (tmp_path / "table.csv").write_text("x,yield_fraction\n" + "\n".join(rows) + "\n")
    campaign = write_campaign(tmp_path, YIELD_TABLE)
    run = tansaku("run", campaign, "--dry-run", "--run-dir", "runs/fractions", cwd=tmp_path)
    assert run.returncode == 0, run.stderr

    records = Ledger.open(tmp_path / "runs" / "fractions", create=False).experiments()
    failed = [r for r in records if r.status == "failed"]
    done = [r for r in records if r.status == "done"]
    # Four Sobol points: one in each quarter of [0, 1], so two on each side of 0.5.
    assert len(failed) == len(done) == 2
    assert all(r.parameters["x"] < 0.5 for r in done)
    for record in failed:
        assert record.objective is None
        assert re.fullmatch(
            r"yield_fraction = \d+ lies outside its valid range \[0, 1\]", record.failure
        ), record.failure
        assert record.values["yield_fraction"] > 1  # the raw reading is kept


def test_invalid_campaigns_are_refused_with_exit_2_and_nothing_written(tmp_path: Path) -> None:
    good = small_branin(tmp_path, name="bad").read_text()
    cases = {
        "bounds.yaml": good.replace("bounds: [-5, 10]", "bounds: [10, -5]"),
        "driver.yaml": good.replace("type: simulated", "type: robot"),
        "yaml.yaml": good.replace("objectives:", "objectives: [").replace(
            "goal: minimize}", "goal: minimize"
        ),
        "budget.yaml": good.replace("{experiments: 8}", "{experiments: 0}"),
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        for command in (["validate", path], ["run", path, "--dry-run", "--run-dir", "out"]):
            result = tansaku(*command, cwd=tmp_path)
            assert result.returncode == 2, (name, result.stdout, result.stderr)
            assert f"{path}:" in result.stderr and "nothing was run" in result.stderr
        assert not (tmp_path / "out").exists()
        assert not (tmp_path / "runs").exists()


def test_validate_says_when_measurements_are_said_to_be_exact_or_noisy(tmp_path: Path) -> None:
    campaign = small_branin(tmp_path, name="exact")
    text = campaign.read_text()
    unsaid = tansaku("validate", campaign, cwd=tmp_path)
    shown = {}
    for said in ("true", "false"):
        said_text = text.replace("goal: minimize}", f"goal: minimize, noise_free: {said}}}")
        campaign.write_text(said_text)
        result = tansaku("validate", campaign, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        shown[said] = " ".join(result.stdout.split())
    assert unsaid.returncode == 0, unsaid.stderr
    assert "then GP, batch 1" in " ".join(unsaid.stdout.split())
    assert "then GP on exact measurements, batch 1" in shown["true"]
    assert "then GP on noisy measurements, batch 1" in shown["false"]


def test_validate_shows_each_declared_valid_range(tmp_path: Path) -> None:
    campaign = small_branin(tmp_path, name="ranges")
    campaign.write_text(
        campaign.read_text().replace(
            "goal: minimize}",
            "goal: minimize, valid: [0, 400], unit: mW}\n"
            "outcomes:\n  - {name: purity}\n  - {name: stability, valid: [0, 1]}",
        )
    )
    result = tansaku("validate", campaign, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = " ".join(result.stdout.replace("│", " ").split())
    assert "y objective valid [0, 400] mW" in shown
    assert "stability outcome valid [0, 1]" in shown
    assert "purity" not in shown  # no range declared, nothing to show


def test_validate_names_each_device_and_the_hard_limits_it_checked(tmp_path: Path) -> None:
    result = tansaku("validate", REPO / "campaigns" / "film-anneal-serial.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = " ".join(result.stdout.replace("│", " ").split())
    assert (
        "serial hotplate on /dev/ttyUSB0; the space is within its hard limits "
        "anneal_temp_c 20..300, stir_rpm 0..1500"
    ) in shown
    assert "serial smu on /dev/ttyUSB1; no hard limits" in shown


def test_validate_names_the_file_drop_mode(tmp_path: Path) -> None:
    campaign = tmp_path / "robot.yaml"
    text = (REPO / "campaigns" / "autoam-print-robot.yaml").read_text()
    campaign.write_text(text.replace("../simulators/", f"{REPO / 'simulators'}/"))
    files = tansaku("validate", campaign, cwd=tmp_path)
    assert files.returncode == 0, files.stderr
    assert "file drop: one json file per experiment, 3 slots, 45min each" in " ".join(
        files.stdout.replace("│", " ").split()
    )
    nimo_text = text.split("  request:")[0] + "  mode: nimo\n  nimo: {handshake: true}\n"
    campaign.write_text(nimo_text)
    nimo = tansaku("validate", campaign, cwd=tmp_path)
    assert nimo.returncode == 0, nimo.stderr
    shown = "file drop: NIMS-OS rounds of 3 (the robot acknowledges each round within 1min)"
    assert shown in " ".join(nimo.stdout.replace("│", " ").split())


def test_validate_stays_fast_by_not_importing_torch_or_prefect(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from tansaku.cli.app import app\n"
        "try:\n"
        f"    app(['validate', {str(REPO / 'campaigns' / 'agnp-spectrum.yaml')!r}])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "heavy = sorted(m for m in ('torch', 'botorch', 'prefect', 'pandas') if m in sys.modules)\n"
        "print('heavy:', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stdout


def test_a_run_directory_in_use_is_refused(tmp_path: Path) -> None:
    campaign = small_branin(tmp_path, name="busy", budget=5)
    run_dir = tmp_path / "runs" / "busy"
    run_dir.mkdir(parents=True)
    with RunDirectoryLock(run_dir):
        result = tansaku("run", campaign, "--dry-run", "--run-dir", run_dir, cwd=tmp_path)
    assert result.returncode == 2
    assert f"in use by another tansaku run (pid {os.getpid()}" in result.stderr
    assert not (run_dir / "ledger.sqlite").exists()


def test_a_resume_may_raise_the_budget_but_not_change_the_campaign(tmp_path: Path) -> None:
    campaign = small_branin(tmp_path, name="grow", budget=5)
    assert tansaku("run", campaign, "--dry-run", "--run-dir", "r", cwd=tmp_path).returncode == 0
    text = campaign.read_text()
    campaign.write_text(text.replace("seed: 4", "seed: 5"))
    changed = tansaku("run", campaign, "--dry-run", "--run-dir", "r", cwd=tmp_path)
    assert changed.returncode == 2 and "other settings" in changed.stderr
    campaign.write_text(text.replace("{experiments: 5}", "{experiments: 7}"))
    grown = tansaku("run", campaign, "--dry-run", "--run-dir", "r", cwd=tmp_path)
    assert grown.returncode == 0, grown.stderr
    assert "7/7" in grown.stdout
    assert ledger_rows(tmp_path / "r", "SELECT count(*) FROM results") == [(7,)]


@pytest.mark.parametrize("example", sorted(p.name for p in (REPO / "campaigns").glob("*.yaml")))
def test_every_example_campaign_dry_runs_out_of_the_box_and_is_reported(
    tmp_path: Path, example: str
) -> None:
    result = tansaku(
        "run", REPO / "campaigns" / example, "--dry-run", "--run-dir", "run", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"stopped\s+(budget reached|no improvement for|target reached|uncertainty below)",
        result.stdout,
    )
    check_report(REPO / "campaigns" / example, tmp_path / "run")


def test_every_retry_is_an_attempt_in_the_ledger_with_its_reason(
    tmp_path: Path, prefect_server: str
) -> None:
    # With seed 4 and fault_rate 0.35 the simulated instrument faults once on experiments
    # 1 and 2, then measures them.
    campaign = small_branin(
        tmp_path, name="retry", budget=3, retries=2, retry_delay="0s", fault_rate=0.35
    )
    result = tansaku("run", campaign, "--dry-run", "--run-dir", "runs/retry", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "runs" / "retry"
    attempts = dict(ledger_rows(run_dir, "SELECT id, attempts FROM experiments"))
    assert attempts == {1: 2, 2: 2, 3: 1}
    notes = [
        note
        for (note,) in ledger_rows(
            run_dir, "SELECT note FROM transitions WHERE experiment_id = 1 ORDER BY id"
        )
    ]
    assert notes[0] is None and notes[1] is None  # proposed, then the first attempt
    assert notes[2].startswith("attempt 1 failed: ") and "fault" in notes[2]
    assert notes[3] == "attempt 2: retrying" and notes[4] is None  # then done
    assert ledger_rows(run_dir, "SELECT status FROM experiments") == [("done",)] * 3


def test_sigterm_stops_cleanly_and_the_run_resumes(tmp_path: Path) -> None:
    campaign = small_branin(
        tmp_path, name="term", budget=10, retries=3, retry_delay="2s", fault_rate=0.35
    )
    run_dir = tmp_path / "runs" / "term"
    command = [str(TANSAKU), "run", str(campaign), "--dry-run", "--run-dir", str(run_dir)]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_stuck_experiment(run_dir, process, done_before=2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Interrupted. Run the same command again to resume." in stderr
    assert ledger_rows(run_dir, "SELECT outcome FROM sessions") == [("interrupted",)]
    assert "Traceback" not in stderr

    resumed = tansaku("run", campaign, "--dry-run", "--run-dir", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert ledger_rows(run_dir, "SELECT count(DISTINCT experiment_id), count(*) FROM results") == [
        (10, 10)
    ]
