"""A campaign measured by hand: `tansaku run` waits, people answer from other processes.

Everything goes through the real CLI in subprocesses, the real ledger and the real
Prefect server; the waits poll the ledger with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.conftest import TANSAKU, tansaku, write_campaign

pytestmark = pytest.mark.usefixtures("prefect_server")

MANUAL = """
    name: {name}
    seed: 3
    budget: {{experiments: {budget}}}
    space:
      - {{name: anneal_temp_c, type: continuous, bounds: [60, 250], unit: degC}}
      - {{name: stir_rpm, type: integer, bounds: [100, 1200], unit: rpm}}
    objectives:
      - {{name: conductance_ms, goal: maximize, unit: mS, valid: [0, 1000]}}
    proposer:
      initial: {{n: 2}}
      num_restarts: 2
      raw_samples: 64
    driver:
      type: {driver}
      slots: {slots}
      approve: {approve}
      {driver_keys}
"""

FILM_SIMULATOR = (
    'simulator: {type: function, function: "tansaku.simulators.film:film_conductance_ms", '
    "duration: 10min}"
)


def manual_campaign(
    folder: Path,
    name: str = "bench",
    budget: int = 4,
    slots: int = 1,
    approve: bool = False,
    driver: str = "manual",
) -> Path:
    driver_keys = FILM_SIMULATOR if driver == "simulated" else ""
    return write_campaign(
        folder,
        MANUAL.format(
            name=name,
            budget=budget,
            slots=slots,
            approve=str(approve).lower(),
            driver=driver,
            driver_keys=driver_keys,
        ),
        name=f"{name}.yaml",
    )


def rows(run_dir: Path, query: str) -> list[tuple]:
    # Read-only: a read must not create the ledger before `tansaku run` does.
    uri = f"file:{run_dir / 'ledger.sqlite'}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=10) as connection:
        return connection.execute(query).fetchall()


def wait_until(condition: Callable[[], object], what: str, deadline_s: float = 90) -> object:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            found = condition()
        except sqlite3.OperationalError:  # the ledger's tables are not there yet
            found = None
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def waiting_ids(run_dir: Path, status: str = "running") -> list[int]:
    return [i for (i,) in rows(run_dir, f"SELECT id FROM experiments WHERE status = '{status}'")]


@contextmanager
def running(campaign: Path, run_dir: Path, *extra: str) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [str(TANSAKU), "run", str(campaign), "--run-dir", str(run_dir), *extra],
        cwd=campaign.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        yield process
    except AssertionError as failure:
        process.kill()
        out, err = process.communicate(timeout=30)
        raise AssertionError(f"{failure}\n--- tansaku run said:\n{out}\n{err}") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def conductance(experiment_id: int) -> str:
    return f"conductance_ms={100 + 10 * experiment_id}"


def test_a_manual_campaign_is_answered_by_tell_from_another_shell(tmp_path: Path) -> None:
    campaign = manual_campaign(tmp_path, budget=4, slots=2)
    run_dir = tmp_path / "run"
    with running(campaign, run_dir) as process:
        told: list[int] = []
        while len(told) < 4:
            ids = wait_until(lambda: [i for i in waiting_ids(run_dir) if i not in told], "work")
            # Two slots: the person has two samples at a time to measure.
            assert len(waiting_ids(run_dir)) <= 2
            for experiment_id in ids:
                result = tansaku(
                    "tell", run_dir, experiment_id, conductance(experiment_id), cwd=tmp_path
                )
                assert result.returncode == 0, result.stderr
                told.append(experiment_id)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "budget reached: 4 of 4" in out
    assert rows(
        run_dir,
        "SELECT id, status, objective FROM experiments JOIN results "
        "ON results.experiment_id = experiments.id ORDER BY id",
    ) == [(i, "done", 100.0 + 10 * i) for i in range(1, 5)]
    # A person's experiments stay theirs, should the campaign move onto an instrument.
    assert all(
        json.loads(d)["for_person"] for (d,) in rows(run_dir, "SELECT proposer FROM experiments")
    )
    # The run showed what to measure, with units and where each value lies in its bounds.
    shown = out.replace("\xa0", " ")  # the table keeps a value and its range together
    assert "anneal_temp_c" in shown and "degC" in shown and "% of 60\u2013250" in shown


def test_killed_while_waiting_loses_nothing_and_takes_results_told_meanwhile(
    tmp_path: Path,
) -> None:
    campaign = manual_campaign(tmp_path, name="killed", budget=3)
    run_dir = tmp_path / "run"
    with running(campaign, run_dir) as process:
        [first] = wait_until(lambda: waiting_ids(run_dir), "the first experiment")
        proposed = rows(run_dir, f"SELECT parameters FROM experiments WHERE id = {first}")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    # Told while no run is alive: it lands in the ledger at once.
    result = tansaku("tell", run_dir, first, conductance(first), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with running(campaign, run_dir) as process:
        [second] = wait_until(lambda: waiting_ids(run_dir), "the second experiment")
        assert second == first + 1
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with running(campaign, run_dir) as process:
        # The same experiment waits again: nothing was lost or proposed twice.
        assert wait_until(lambda: waiting_ids(run_dir), "the resumed wait") == [second]
        for experiment_id in (second, second + 1):
            wait_until(lambda e=experiment_id: e in waiting_ids(run_dir), f"#{experiment_id}")
            told = tansaku("tell", run_dir, experiment_id, conductance(experiment_id), cwd=tmp_path)
            assert told.returncode == 0, told.stderr
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert rows(run_dir, f"SELECT parameters FROM experiments WHERE id = {first}") == proposed
    assert rows(run_dir, "SELECT count(*), count(DISTINCT experiment_id) FROM results") == [(3, 3)]


def test_nothing_reaches_the_instrument_unapproved_across_a_restart(tmp_path: Path) -> None:
    campaign = manual_campaign(tmp_path, name="approve", budget=3, approve=True, driver="simulated")
    run_dir = tmp_path / "run"
    with running(campaign, run_dir) as process:
        [first] = wait_until(lambda: waiting_ids(run_dir, "proposed"), "a proposal to approve")
        assert rows(run_dir, "SELECT count(*) FROM results") == [(0,)]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with running(campaign, run_dir) as process:
        # Still unapproved after the restart: it waits, and no other proposal is made.
        assert wait_until(lambda: waiting_ids(run_dir, "proposed"), "the proposal") == [first]
        rejected = tansaku("reject", run_dir, first, "--reason", "unsafe ratio", cwd=tmp_path)
        assert rejected.returncode == 0, rejected.stderr
        for _ in range(3):
            [waiting] = wait_until(lambda: waiting_ids(run_dir, "proposed"), "a proposal")
            approved = tansaku("approve", run_dir, waiting, cwd=tmp_path)
            assert approved.returncode == 0, approved.stderr
            wait_until(lambda w=waiting: w not in waiting_ids(run_dir, "proposed"), "the approval")
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    # A rejected proposal never ran and does not count against the budget.
    assert rows(run_dir, "SELECT status FROM experiments ORDER BY id") == [
        ("rejected",),
        ("done",),
        ("done",),
        ("done",),
    ]
    # Every experiment that reached the instrument was approved before it started.
    for (experiment_id,) in rows(run_dir, "SELECT experiment_id FROM results"):
        approved_at = rows(
            run_dir, f"SELECT at FROM decisions WHERE experiment_id = {experiment_id} AND approved"
        )
        started = rows(
            run_dir,
            "SELECT min(at) FROM transitions "
            f"WHERE experiment_id = {experiment_id} AND status = 'running'",
        )
        assert approved_at and started[0][0] > approved_at[0][0]
    reason = rows(run_dir, f"SELECT reason FROM decisions WHERE experiment_id = {first}")
    assert reason == [("unsafe ratio",)]
    status = tansaku("status", run_dir, cwd=tmp_path)
    assert status.returncode == 0 and "rejected" in status.stdout


class PrefectForms:
    """The forms the paused flow run of ``run_dir`` shows, one after another, read through
    Prefect's own client."""

    def __init__(self, run_dir: Path, prefect_server: str) -> None:
        self.run_dir, self.api = run_dir, prefect_server
        self.seen: set[str] = set()

    def next(self) -> str:
        """Wait for the flow run to pause with a form not seen before; its flow run id."""
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        query = "SELECT flow_run_id FROM sessions WHERE flow_run_id IS NOT NULL"
        [(flow_run_id,)] = wait_until(lambda: rows(self.run_dir, query), "the flow run")

        def new_pause() -> str | None:
            with (
                temporary_settings({PREFECT_API_URL: self.api}),
                get_client(sync_client=True) as client,
            ):
                state = client.read_flow_run(flow_run_id).state
            key = state.state_details.pause_key if state and state.is_paused() else None
            return key if key not in self.seen else None

        self.seen.add(str(wait_until(new_pause, "the flow run to pause with its form")))
        return flow_run_id

    def answer(self, run_input: dict) -> None:
        """Submit ``run_input`` on the next form, as the UI does."""
        from prefect.flow_runs import resume_flow_run
        from prefect.settings import PREFECT_API_URL, temporary_settings

        flow_run_id = self.next()
        with temporary_settings({PREFECT_API_URL: self.api}):
            resume_flow_run(flow_run_id, run_input=run_input)


def answer_prefect_forms(run_dir: Path, prefect_server: str, *answers: dict) -> None:
    """Submit each of ``answers`` on the form the paused flow run shows, in turn."""
    forms = PrefectForms(run_dir, prefect_server)
    for answer in answers:
        forms.answer(answer)


def test_the_prefect_form_takes_a_result(tmp_path: Path, prefect_server: str) -> None:
    campaign = manual_campaign(tmp_path, name="form", budget=1)
    run_dir = tmp_path / "run"
    with running(campaign, run_dir) as process:
        answer_prefect_forms(run_dir, prefect_server, {"conductance_ms": 512.0})
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert rows(run_dir, "SELECT objective, raw FROM results") == [
        (512.0, json.dumps({"told_by": "Prefect UI", "via": "prefect"}))
    ]


def test_the_prefect_form_approves_and_rejects(tmp_path: Path, prefect_server: str) -> None:
    campaign = manual_campaign(
        tmp_path, name="form-approve", budget=1, approve=True, driver="simulated"
    )
    run_dir = tmp_path / "run"
    with running(campaign, run_dir) as process:
        answer_prefect_forms(
            run_dir, prefect_server, {"approve": False, "reason": "too hot"}, {"approve": True}
        )
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert rows(run_dir, "SELECT id, status FROM experiments ORDER BY id") == [
        (1, "rejected"),
        (2, "done"),
    ]
    assert rows(run_dir, "SELECT approved, reason, by FROM decisions ORDER BY 1") == [
        (0, "too hot", "Prefect UI"),
        (1, None, "Prefect UI"),
    ]


def test_results_typed_at_the_prompt_of_tansaku_run_in_a_terminal(tmp_path: Path) -> None:
    campaign = manual_campaign(tmp_path, name="typed", budget=2)
    run_dir = tmp_path / "run"
    controller, terminal = os.openpty()
    typed: list[str] = []

    def read_screen() -> None:
        with suppress(OSError):  # the terminal closes when the run ends
            while chunk := os.read(controller, 4096):
                typed.append(chunk.decode(errors="replace"))

    process = subprocess.Popen(
        [str(TANSAKU), "run", str(campaign), "--run-dir", str(run_dir)],
        cwd=tmp_path,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "160"},
    )
    os.close(terminal)
    reader = threading.Thread(target=read_screen, daemon=True)
    reader.start()
    try:
        [first] = wait_until(lambda: waiting_ids(run_dir), "the first experiment")
        wait_until(lambda: "enter:" in "".join(typed), "the prompt")
        os.write(controller, b"conductance_ms=abc\r")
        wait_until(lambda: "is not a number" in "".join(typed), "the refusal")
        assert rows(run_dir, "SELECT count(*) FROM results") == [(0,)]
        os.write(controller, b"conductance_ms=321\r")
        [second] = wait_until(
            lambda: [i for i in waiting_ids(run_dir) if i != first], "the second experiment"
        )
        assert second == first + 1
        os.write(controller, f"{second} fail: film cracked\r".encode())
        assert process.wait(timeout=120) == 0, "".join(typed)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        os.close(controller)
    assert rows(run_dir, "SELECT experiment_id, objective, failure FROM results ORDER BY 1") == [
        (first, 321.0, None),
        (second, None, "film cracked"),
    ]


def test_an_unapproved_proposal_never_reaches_the_drop_folder(tmp_path: Path) -> None:
    from tests.e2e.test_file_drop_campaign import file_drop_campaign

    campaign = file_drop_campaign(tmp_path, budget=4, slots=2, extra="approve: true")
    run_dir = tmp_path / "run"
    outbox = tmp_path / "drop" / "requests"

    def requests() -> list[str]:
        return sorted(p.name for p in outbox.glob("*")) if outbox.is_dir() else []

    with running(campaign, run_dir) as process:
        waiting = wait_until(lambda: len(waiting_ids(run_dir, "proposed")) == 2, "two proposals")
        assert waiting and requests() == []
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with running(campaign, run_dir) as process:
        assert wait_until(lambda: waiting_ids(run_dir, "proposed"), "the proposals") == [1, 2]
        approved = tansaku("approve", run_dir, 2, cwd=tmp_path)
        assert approved.returncode == 0, approved.stderr
        wait_until(lambda: waiting_ids(run_dir) == [2], "#2 sent to the robot")
        # Only the approved proposal reached the robot's folder; #1 still waits.
        assert wait_until(requests, "the request file") == ["printer-0002.json"]
        assert waiting_ids(run_dir, "proposed") == [1]


def test_an_instruments_experiment_is_not_told_and_one_asked_by_hand_is(tmp_path: Path) -> None:
    from tests.e2e.test_file_drop_campaign import file_drop_campaign

    campaign = file_drop_campaign(tmp_path, budget=3, slots=1)
    run_dir = tmp_path / "run"
    outbox = tmp_path / "drop" / "requests"
    asked = tansaku("suggest", campaign, "--run-dir", run_dir, "-n", "1", cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    with running(campaign, run_dir) as process:
        # The run leaves the experiment asked for by hand to its person and sends #2.
        wait_until(lambda: (outbox / "printer-0002.json").exists(), "#2 sent to the robot")
        assert sorted(p.name for p in outbox.iterdir()) == ["printer-0002.json"]
        refused = tansaku("tell", run_dir, 2, "y=3", cwd=tmp_path)
        assert refused.returncode == 2 and "measured by the file_drop instrument" in refused.stderr
        told = tansaku("tell", run_dir, 1, "y=5", cwd=tmp_path)
        assert told.returncode == 0, told.stderr
        assert process.poll() is None, "the run goes on"
    assert rows(run_dir, "SELECT experiment_id, objective FROM results") == [(1, 5.0)]
