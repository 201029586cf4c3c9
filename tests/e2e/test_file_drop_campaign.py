"""File-drop campaigns against the virtual robot, a separate process on real folders.

``tansaku run`` and ``python -m tansaku.simulators.robot`` share nothing but the two folders,
exactly as tansaku and a lab robot would.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, TANSAKU, tansaku, write_campaign
from tests.e2e.test_cli import ledger_rows

pytestmark = pytest.mark.usefixtures("prefect_server")

CAMPAIGN = """
    name: printer
    seed: 2
    budget: {{experiments: {budget}}}
    space:
      - {{name: x1, type: continuous, bounds: [-5, 10]}}
      - {{name: x2, type: continuous, bounds: [0, 15]}}
    objectives:
      - {{name: y, goal: minimize}}
    proposer:
      initial: {{n: {initial}}}
      num_restarts: 2
      raw_samples: 64
    driver:
      type: file_drop
      outbox: drop/requests
      inbox: drop/results
      slots: {slots}
      time_limit: {time_limit}
      poll_interval: 0.2s
      {extra}
    dry_run:
      simulator: {{type: benchmark, function: branin}}
"""


def file_drop_campaign(
    folder: Path,
    budget: int = 6,
    slots: int = 3,
    initial: int | None = 3,
    time_limit: str = "20s",
    extra: str = "",
) -> Path:
    """The campaign file; ``initial=None`` leaves the initial design at its default size."""
    text = CAMPAIGN.format(
        budget=budget,
        slots=slots,
        initial="null" if initial is None else initial,
        time_limit=time_limit,
        extra=extra,
    )
    return write_campaign(folder, text)


@pytest.fixture
def robot() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``python -m tansaku.simulators.robot CAMPAIGN [options]``; stopped after the test."""
    processes: list[subprocess.Popen] = []

    def start(campaign: Path, *options: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "tansaku.simulators.robot", str(campaign), *options],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", line
        return process

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def reasons(tmp_path: Path) -> list[str]:
    folder = tmp_path / "drop" / "quarantine"
    return sorted(p.read_text().strip() for p in folder.glob("*.reason"))


def results_by_id(run_dir: Path) -> dict[int, tuple]:
    rows = ledger_rows(
        run_dir,
        "SELECT e.id, e.status, r.objective, r.failure, r.started_at, r.finished_at, e.parameters"
        " FROM experiments e LEFT JOIN results r ON r.experiment_id = e.id",
    )
    return {row[0]: row[1:] for row in rows}


def most_at_once(intervals: list[tuple[str, str]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    return max(itertools.accumulate(change for _, change in events))


def test_a_campaign_keeps_three_experiments_in_flight_with_the_robot(tmp_path, robot) -> None:
    campaign = file_drop_campaign(tmp_path, budget=9, initial=3)
    robot(campaign, "--duration", "0.6", "--jitter", "0.5", "--seed", "1")
    run = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    results = results_by_id(tmp_path / "run")
    assert [status for status, *_ in results.values()] == ["done"] * 9
    assert most_at_once([(r[3], r[4]) for r in results.values()]) == 3
    points = [tuple(json.loads(r[5]).values()) for r in results.values()]
    closest = min(math.dist(a, b) for a, b in itertools.combinations(points, 2))
    assert closest > 0.05, "experiments in flight together were proposed apart"
    assert files(tmp_path / "drop" / "requests") == files(tmp_path / "drop" / "results") == []
    assert len(files(tmp_path / "drop" / "archive" / "results")) == 9
    assert len(files(tmp_path / "drop" / "archive" / "requests")) == 9
    assert reasons(tmp_path) == []


@pytest.mark.parametrize(
    ("knob", "extra", "budget", "outcome", "quarantine"),
    [
        ("--partial", "result: {complete: stable, stable_for: 1s}", 3, "done", None),
        ("--partial", "result: {complete: atomic}", 3, "failed", "malformed"),
        ("--wrong-id", "", 3, "failed", "the file name says experiment"),
        ("--unknown-id", "", 3, "failed", "unknown experiment id"),
        ("--garbage", "", 3, "failed", "malformed: not UTF-8"),
        ("--never", "", 3, "failed", None),
        # Two rounds: the first round's extra or late files arrive while the second runs.
        ("--duplicate", "", 6, "done", "duplicate: experiment"),
        ("--late", "", 6, "failed", "late: experiment"),
    ],
)
def test_each_robot_fault_is_quarantined_or_expires_and_never_crashes_the_loop(
    tmp_path, robot, knob, extra, budget, outcome, quarantine
) -> None:
    # Cases that end in results get time to wait for stable files; the others expire fast.
    time_limit = "8s" if outcome == "done" else "2.5s"
    campaign = file_drop_campaign(
        tmp_path, budget=budget, initial=budget, time_limit=time_limit, extra=extra
    )
    robot(campaign, knob, "1.0", "--duration", "1.0", "--jitter", "0", "--partial-pause", "0.5")
    run = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    results = results_by_id(tmp_path / "run")
    assert [status for status, *_ in results.values()] == [outcome] * budget
    if outcome == "failed" and quarantine in (None, "late: experiment"):
        assert all("no result within the time limit" in r[2] for r in results.values())
    found = reasons(tmp_path)
    if quarantine is None:
        assert found == []
    else:
        # A late result for the last round arrives after the campaign ended.
        assert len(found) >= 3 and all(quarantine in reason for reason in found), found
    assert files(tmp_path / "drop" / "requests") == []


NIMO = "mode: nimo"
NIMO_HANDSHAKE = "mode: nimo\n      nimo: {handshake: true}"


def assert_each_value_is_branin_of_its_own_point(results: dict[int, tuple]) -> None:
    """What proves that no answer went to another round's experiments."""
    from tansaku.simulators.benchmarks import BenchmarkSimulator

    branin = BenchmarkSimulator("branin", ["x1", "x2"])
    for experiment_id, (status, value, _, _, _, parameters) in results.items():
        if status == "done":
            expected = branin(json.loads(parameters))
            assert math.isclose(value, expected, rel_tol=1e-12), (experiment_id, value, expected)


def test_a_nimo_campaign_runs_in_whole_rounds_with_the_handshake(tmp_path, robot) -> None:
    # The default initial design of 5 does not split a round of 3 into 3 + 2: the rounds
    # are 3, 3 and the one experiment the budget of 7 leaves.
    campaign = file_drop_campaign(tmp_path, budget=7, initial=None, extra=NIMO_HANDSHAKE)
    robot(campaign, "--duration", "0.3")
    run = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    results = results_by_id(tmp_path / "run")
    assert [status for status, *_ in results.values()] == ["done"] * 7
    assert_each_value_is_branin_of_its_own_point(results)
    assert files(tmp_path / "drop" / "archive" / "requests") == [
        "printer-0001-0003.csv",
        "printer-0004-0006.csv",
        "printer-0007.csv",
    ]
    log = (tmp_path / "run" / "tansaku.log").read_text()
    assert "round 7 is short: 1 of 3 slots filled" in log
    assert "printer-0004-0006-results.csv" in files(tmp_path / "drop" / "archive" / "results")
    assert files(tmp_path / "drop" / "requests") == files(tmp_path / "drop" / "results") == []


def test_a_late_nimo_answer_is_quarantined_and_never_shifts_later_rounds(tmp_path, robot) -> None:
    campaign = file_drop_campaign(tmp_path, budget=9, time_limit="4s", extra=NIMO_HANDSHAKE)
    # Seed 3 makes the robot overrun round 1-3 only; it answers rounds 4-6 and 7-9 in time.
    robot(campaign, "--duration", "0.3", "--jitter", "0", "--seed", "3", "--late", "0.5")
    run = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    results = results_by_id(tmp_path / "run")
    assert [status for status, *_ in results.values()] == ["failed"] * 3 + ["done"] * 6
    assert all("no result within the time limit" in results[i][2] for i in (1, 2, 3))
    assert_each_value_is_branin_of_its_own_point(results)
    found = reasons(tmp_path)
    assert len(found) == 2 and all("arrived after round 1-3 expired" in r for r in found), found
    assert files(tmp_path / "drop" / "quarantine") == [
        "outputend.txt",
        "outputend.txt.reason",
        "results.csv",
        "results.csv.reason",
    ]


def test_a_stale_nimo_answer_left_in_the_inbox_is_quarantined_not_matched(tmp_path, robot) -> None:
    campaign = file_drop_campaign(tmp_path, budget=6, extra=NIMO)
    inbox = tmp_path / "drop" / "results"
    inbox.mkdir(parents=True)
    # A robot's answer to an earlier run, still there when this one starts.
    (inbox / "results.csv").write_text("1000.0\n1000.0\n1000.0\n")
    (inbox / "outputend.txt").touch()
    robot(campaign, "--duration", "0.3")
    run = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    results = results_by_id(tmp_path / "run")
    assert [status for status, *_ in results.values()] == ["done"] * 6
    assert_each_value_is_branin_of_its_own_point(results)
    assert reasons(tmp_path) == ["present before round 1-3 was written (left over from before)"] * 2


def test_a_restart_picks_up_results_that_arrived_while_tansaku_was_down(tmp_path, robot) -> None:
    campaign = file_drop_campaign(tmp_path, budget=6, initial=3)
    run_dir = tmp_path / "run"
    first = subprocess.Popen(
        [str(TANSAKU), "run", str(campaign), "--run-dir", "run"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    requests = tmp_path / "drop" / "requests"
    deadline = time.monotonic() + 60
    while len(files(requests)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(files(requests)) == 3, "three requests go out at once"
    time.sleep(0.3)  # let the ledger record them as running
    first.kill()
    first.wait()
    statuses = [status for status, *_ in results_by_id(run_dir).values()]
    assert statuses == ["running"] * 3

    robot(campaign, "--duration", "0.2", "--jitter", "0")
    deadline = time.monotonic() + 20
    while len(files(tmp_path / "drop" / "results")) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(files(tmp_path / "drop" / "results")) == 3, "the robot answered while we were down"

    second = tansaku("run", campaign, "--run-dir", "run", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    results = results_by_id(run_dir)
    assert [status for status, *_ in results.values()] == ["done"] * 6
    assert ledger_rows(run_dir, "SELECT COUNT(*) FROM results") == [(6,)]
    first_three = [r[1] for i, r in results.items() if i <= 3]
    assert all(value is not None for value in first_three)
    assert reasons(tmp_path) == []
    assert not os.listdir(tmp_path / "drop" / "results")
