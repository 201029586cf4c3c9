"""The file-drop driver on real folders: requests out, results matched by id, faults quarantined.

The robot's side is written by hand here, byte for byte; whole campaigns against the
virtual robot process are in tests/e2e/test_file_drop_campaign.py.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tansaku.drivers import CampaignContext, Experiment
from tansaku.drivers.base import AsyncDriver, Completion
from tansaku.drivers.file_drop.config import FileDropConfig
from tansaku.drivers.file_drop.driver import FileDropDriver
from tansaku.drivers.registry import load_driver
from tests.conftest import campaign_problems, write_campaign

CAMPAIGN = "film"


def context(base: Path) -> CampaignContext:
    return CampaignContext(
        name=CAMPAIGN,
        parameters={"temp_c": "continuous", "minutes": "integer", "solvent": "categorical"},
        objectives=("conductance",),
        base_dir=base,
    )


def experiment(i: int) -> Experiment:
    return Experiment(CAMPAIGN, i, {"temp_c": 150.0 + i, "minutes": 10 + i, "solvent": "toluene"})


@pytest.fixture
def make(tmp_path: Path) -> Iterator:
    drivers: list[FileDropDriver] = []

    def build(**settings: object) -> FileDropDriver:
        config = FileDropConfig.model_validate(
            {
                "type": "file_drop",
                "outbox": "drop/out",
                "inbox": "drop/in",
                "slots": 3,
                "time_limit": "30s",
                "poll_interval": "0.1s",
                "result": {"complete": "atomic"},
                **settings,
            }
        )
        driver = FileDropDriver(config, context(tmp_path))
        driver.connect()
        drivers.append(driver)
        return driver

    yield build
    for driver in drivers:
        driver.close()


def drop(folder: Path, name: str, content: str | bytes) -> Path:
    """Write a file the way a careful robot does: elsewhere first, then rename."""
    data = content.encode() if isinstance(content, str) else content
    temporary = folder / f".{name}.writing"
    temporary.write_bytes(data)
    os.replace(temporary, folder / name)
    return folder / name


def result(i: int, value: object = 0.5, **fields: object) -> str:
    return json.dumps({"campaign": CAMPAIGN, "experiment_id": i, "conductance": value, **fields})


def answer(inbox: Path, rows: str) -> None:
    """Answer a NIMS-OS round as the robot does: ``results.csv``, then ``outputend.txt``."""
    drop(inbox, "results.csv", rows)
    drop(inbox, "outputend.txt", "")


def measured(completions: list[Completion]) -> list[tuple[int, float]]:
    """``(experiment id, conductance)`` of each completion, in order."""
    return [(c.experiment_id, c.measurement.values["conductance"]) for c in completions]


def collect_until(driver: FileDropDriver, count: int, seconds: float = 10) -> list[Completion]:
    found: list[Completion] = []
    deadline = time.monotonic() + seconds
    while len(found) < count and time.monotonic() < deadline:
        found += driver.collect()
    return found


def quarantined(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "drop" / "quarantine"
    return {
        p.name: (folder / f"{p.name}.reason").read_text().strip()
        for p in folder.iterdir()
        if not p.name.endswith(".reason")
    }


def test_it_is_an_asynchronous_driver_registered_as_file_drop(make) -> None:
    driver = make()
    assert load_driver("file_drop") is FileDropDriver
    assert isinstance(driver, AsyncDriver)


def test_a_request_names_campaign_and_id_in_its_file_name_and_content(make, tmp_path) -> None:
    driver = make()
    before = datetime.now(UTC)
    driver.submit([experiment(7)])
    outbox = tmp_path / "drop" / "out"
    assert [p.name for p in outbox.iterdir()] == ["film-0007.json"]
    request = json.loads((outbox / "film-0007.json").read_text())
    assert request["campaign"] == CAMPAIGN and request["experiment_id"] == 7
    assert (request["temp_c"], request["minutes"], request["solvent"]) == (157.0, 17, "toluene")
    expires = datetime.fromisoformat(request["expires_at"])
    assert before + timedelta(seconds=30) <= expires <= datetime.now(UTC) + timedelta(seconds=30)
    assert driver.free_slots() == 2


def test_csv_requests_use_the_robots_column_names(make, tmp_path) -> None:
    driver = make(
        request={
            "format": "csv",
            "id_field": "ID",
            "columns": {"temp_c": "TEMP", "minutes": "TIME"},
            "expires_field": None,
        }
    )
    driver.submit([experiment(2)])
    lines = (tmp_path / "drop" / "out" / "film-0002.csv").read_text().splitlines()
    assert lines == ["campaign,ID,TEMP,TIME,solvent", "film,2,152.0,12,toluene"]


def test_results_are_matched_by_id_in_any_order_and_archived(make, tmp_path) -> None:
    driver = make()
    driver.submit([experiment(1), experiment(2), experiment(3)])
    inbox = tmp_path / "drop" / "in"
    drop(inbox, "whatever-the-robot-calls-it.json", result(3, 0.3))
    drop(inbox, "film-0001.json", result(1, 0.1))
    completions = collect_until(driver, 2)
    assert {c.experiment_id: c.measurement.values["conductance"] for c in completions} == {
        1: 0.1,
        3: 0.3,
    }
    archive = tmp_path / "drop" / "archive"
    assert sorted(p.name for p in (archive / "results").iterdir()) == [
        "film-0001.json",
        "film-0003.json",
    ]
    assert sorted(p.name for p in (archive / "requests").iterdir()) == [
        "film-0001.json",
        "film-0003.json",
    ]
    assert [p.name for p in (tmp_path / "drop" / "out").iterdir()] == ["film-0002.json"]
    assert list(inbox.iterdir()) == []
    assert driver.free_slots() == 2


def test_a_failure_reported_by_the_robot_is_a_failed_measurement(make, tmp_path) -> None:
    driver = make()
    driver.submit([experiment(1)])
    drop(tmp_path / "drop" / "in", "film-0001.json", result(1, None, failure="sample cracked"))
    (completion,) = collect_until(driver, 1)
    assert completion.measurement.failure == "the robot reported: sample cracked"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("film-0001.json", "{not json", "malformed: not valid JSON"),
        ("film-0001.json", b"\xff\xfe\x00garbage", "malformed: not UTF-8"),
        ("film-0001.json", result(1, "high"), "'high' is not a number"),
        ("film-0001.json", result(2), "file name says experiment 1 but the content says 2"),
        ("film-0042.json", result(42), "unknown experiment id 42"),
        ("other.json", result(1) + "\n", None),
        ("film-0001.json", result(1).replace('"film"', '"alloy"'), "campaign 'alloy'"),
        ("film-0001.json", result("../../etc/passwd"), "not a whole number"),
        ("film-0001.json", result(1).replace("conductance", "resistance"), "no value for"),
        ("notes.txt", "robot log", "not a .json result file"),
    ],
)
def test_bad_result_files_are_quarantined_with_a_reason_and_never_matched(
    make, tmp_path, name, content, reason
) -> None:
    driver = make()
    driver.submit([experiment(1)])
    drop(tmp_path / "drop" / "in", name, content)
    completions = collect_until(driver, 1, seconds=1)
    if reason is None:  # a correct result under a free-form name: matched
        assert [c.experiment_id for c in completions] == [1]
        return
    assert completions == []
    assert list(quarantined(tmp_path)) == [name]
    assert reason in quarantined(tmp_path)[name]
    assert driver.free_slots() == 2, "the experiment is still waited for"


def test_a_duplicate_result_is_quarantined_after_the_first_is_taken(make, tmp_path) -> None:
    driver = make()
    driver.submit([experiment(1)])
    inbox = tmp_path / "drop" / "in"
    drop(inbox, "film-0001.json", result(1, 0.1))
    assert len(collect_until(driver, 1)) == 1
    drop(inbox, "film-0001-again.json", result(1, 0.9))
    assert driver.collect() == []
    assert (
        "duplicate: experiment 1 already has a result"
        in quarantined(tmp_path)["film-0001-again.json"]
    )


def test_links_are_quarantined_without_being_followed(make, tmp_path) -> None:
    driver = make()
    driver.submit([experiment(1)])
    secret = tmp_path / "secret.json"
    secret.write_text(result(1, 99.0))
    (tmp_path / "drop" / "in" / "film-0001.json").symlink_to(secret)
    assert collect_until(driver, 1, seconds=0.5) == []
    assert quarantined(tmp_path)["film-0001.json"] == "symbolic link, not followed"
    assert secret.read_text() == result(1, 99.0), "the link's target is left alone"
    assert (tmp_path / "drop" / "quarantine" / "film-0001.json").is_symlink()


def test_an_expired_experiment_fails_its_request_is_withdrawn_and_a_late_result_is_quarantined(
    make, tmp_path
) -> None:
    driver = make(time_limit="0.3s")
    driver.submit([experiment(5)])
    (completion,) = collect_until(driver, 1, seconds=3)
    assert completion.experiment_id == 5
    assert completion.measurement.failure.startswith("no result within the time limit")
    assert "request withdrawn" in completion.measurement.failure
    assert list((tmp_path / "drop" / "out").iterdir()) == []
    assert (tmp_path / "drop" / "archive" / "expired" / "film-0005.json").is_file()
    drop(tmp_path / "drop" / "in", "film-0005.json", result(5))
    assert driver.collect() == []
    assert quarantined(tmp_path)["film-0005.json"].startswith("late: experiment 5")


def test_a_result_written_in_pieces_is_taken_only_once_it_stops_changing(make, tmp_path) -> None:
    driver = make(result={"complete": "stable", "stable_for": "0.4s"})
    driver.submit([experiment(1)])
    path = tmp_path / "drop" / "in" / "film-0001.json"
    text = result(1, 0.25)
    with open(path, "w") as stream:
        stream.write(text[:10])
        stream.flush()
        assert driver.collect() == [], "half a file is neither taken nor quarantined"
        time.sleep(0.2)
        assert driver.collect() == []
        stream.write(text[10:])
    (completion,) = collect_until(driver, 1, seconds=3)
    assert completion.measurement.values == {"conductance": 0.25}
    assert quarantined(tmp_path) == {}


def test_with_a_sentinel_a_result_waits_for_its_done_file(make, tmp_path) -> None:
    driver = make(result={"complete": "sentinel"})
    driver.submit([experiment(1)])
    inbox = tmp_path / "drop" / "in"
    (inbox / "film-0001.json").write_text(result(1, 0.7))
    assert driver.collect() == []
    (inbox / "film-0001.json.done").touch()
    (completion,) = collect_until(driver, 1)
    assert completion.measurement.values == {"conductance": 0.7}
    assert sorted(p.name for p in (tmp_path / "drop" / "archive" / "results").iterdir()) == [
        "film-0001.json",
        "film-0001.json.done",
    ]


def test_a_new_driver_picks_up_results_that_arrived_while_tansaku_was_down(make, tmp_path) -> None:
    first = make()
    first.submit([experiment(1), experiment(2)])
    submitted = datetime.now(UTC)
    first.close()
    drop(tmp_path / "drop" / "in", "film-0002.json", result(2, 0.2))
    second = make()
    second.resume(experiment(1), submitted)
    second.resume(experiment(2), submitted)
    (completion,) = collect_until(second, 1)
    assert (completion.experiment_id, completion.measurement.values) == (2, {"conductance": 0.2})
    assert second.free_slots() == 2


def test_polling_mode_finds_results_without_file_system_events(make, tmp_path) -> None:
    driver = make(watch="polling")
    driver.submit([experiment(1)])
    drop(tmp_path / "drop" / "in", "film-0001.json", result(1, 0.4))
    (completion,) = collect_until(driver, 1)
    assert completion.measurement.values == {"conductance": 0.4}


# NIMS-OS mode -------------------------------------------------------------------------


def test_nimo_round_goes_out_as_one_machine_file_and_comes_back_by_row(make, tmp_path) -> None:
    driver = make(mode="nimo")
    driver.submit([experiment(4), experiment(5)])
    assert driver.free_slots() == 0, "one round at a time"
    outbox, inbox = tmp_path / "drop" / "out", tmp_path / "drop" / "in"
    assert (outbox / "film-0004-0005.csv").read_text().splitlines() == [
        "input file for machine",
        "154.0,14,toluene",
        "155.0,15,toluene",
    ]
    assert (outbox / "inputend.txt").exists()
    (inbox / "results.csv").write_text("0.4\n0.5\n")
    assert driver.collect() == [], "results.csv counts only once outputend.txt is there"
    (inbox / "outputend.txt").touch()
    completions = collect_until(driver, 2)
    assert [(c.experiment_id, c.measurement.values) for c in completions] == [
        (4, {"conductance": 0.4}),
        (5, {"conductance": 0.5}),
    ]
    assert list(inbox.iterdir()) == [] and list(outbox.iterdir()) == []
    assert driver.free_slots() == 3


def test_a_malformed_nimo_answer_fails_its_round_at_once(make, tmp_path) -> None:
    driver = make(mode="nimo")  # a time limit of 30 s: not waited out
    driver.submit([experiment(1), experiment(2)])
    inbox = tmp_path / "drop" / "in"
    (inbox / "results.csv").write_text("0.4\n")
    (inbox / "outputend.txt").touch()
    # Within 5 s, far inside the round's time limit: the round fails at once.
    completions = collect_until(driver, 2, seconds=5)
    assert [c.experiment_id for c in completions] == [1, 2]
    reasons = quarantined(tmp_path)
    assert reasons["results.csv"] == "malformed: 1 result rows for a round of 2 experiments"
    assert reasons["outputend.txt"] == "belongs to the results.csv quarantined beside it"
    quarantine = tmp_path / "drop" / "quarantine"
    assert completions[0].measurement.failure == (
        f"the robot's answer was quarantined as {quarantine / 'results.csv'}: "
        "malformed: 1 result rows for a round of 2 experiments"
    )
    assert list(inbox.iterdir()) == [] and driver.free_slots() == 3


def test_nimo_handshake_fails_a_round_the_robot_never_acknowledges(make, tmp_path) -> None:
    driver = make(mode="nimo", nimo={"handshake": True, "acknowledge_within": "0.3s"})
    driver.submit([experiment(1)])
    completions = collect_until(driver, 1, seconds=3)
    assert "did not acknowledge" in completions[0].measurement.failure
    assert sorted(p.name for p in (tmp_path / "drop" / "archive" / "expired").iterdir()) == [
        "film-0001-inputend.txt",
        "film-0001.csv",
    ]


def test_nimo_answers_written_without_the_acknowledgement_are_quarantined_not_lost(
    make, tmp_path
) -> None:
    driver = make(mode="nimo", nimo={"handshake": True, "acknowledge_within": "0.5s"})
    driver.submit([experiment(1)])
    inbox = tmp_path / "drop" / "in"
    answer(inbox, "0.7\n")  # the robot answers but leaves inputend.txt alone
    (completion,) = collect_until(driver, 1, seconds=3)
    failure = completion.measurement.failure
    assert failure.startswith("the robot did not acknowledge the round")
    assert f"quarantined as {tmp_path / 'drop' / 'quarantine' / 'results.csv'}" in failure
    why = "arrived before the robot acknowledged round 1 (its inputend.txt was still in place)"
    assert quarantined(tmp_path) == {"results.csv": why, "outputend.txt": why}
    assert (tmp_path / "drop" / "quarantine" / "results.csv").read_text() == "0.7\n"
    assert list(inbox.iterdir()) == []


def test_a_late_nimo_answer_is_not_given_to_the_next_round(make, tmp_path) -> None:
    driver = make(mode="nimo", time_limit="1s")
    driver.submit([experiment(1), experiment(2)])
    expired = collect_until(driver, 2, seconds=5)
    assert all("no result within the time limit" in c.measurement.failure for c in expired)
    inbox = tmp_path / "drop" / "in"
    answer(inbox, "0.1\n0.2\n")  # the robot finishes round 1-2 after all
    driver.submit([experiment(3), experiment(4)])
    why = "arrived after round 1-2 expired and before round 3-4 was written"
    assert quarantined(tmp_path) == {"results.csv": why, "outputend.txt": why}
    assert driver.collect() == []
    answer(inbox, "0.3\n0.4\n")
    completions = collect_until(driver, 2)
    assert measured(completions) == [
        (3, 0.3),
        (4, 0.4),
    ]


def test_with_the_handshake_a_late_answer_before_the_next_acknowledgement_is_refused(
    make, tmp_path
) -> None:
    driver = make(mode="nimo", time_limit="1s", nimo={"handshake": True})
    outbox, inbox = tmp_path / "drop" / "out", tmp_path / "drop" / "in"
    driver.submit([experiment(1), experiment(2)])
    (outbox / "inputend.txt").unlink()  # the robot takes round 1-2 ...
    assert len(collect_until(driver, 2, seconds=5)) == 2  # ... and overruns its time limit
    driver.submit([experiment(3), experiment(4)])
    answer(inbox, "0.1\n0.2\n")  # round 1-2's answer, after 3-4 went out
    assert driver.collect() == []
    why = (
        "arrived after round 1-2 expired and before the robot acknowledged round 3-4 "
        "(its inputend.txt was still in place)"
    )
    assert quarantined(tmp_path) == {"results.csv": why, "outputend.txt": why}
    (outbox / "inputend.txt").unlink()  # now the robot takes round 3-4 and answers it
    answer(inbox, "0.3\n0.4\n")
    completions = collect_until(driver, 2)
    assert measured(completions) == [
        (3, 0.3),
        (4, 0.4),
    ]


def test_a_stale_nimo_answer_at_start_up_is_quarantined_before_the_first_round(
    make, tmp_path
) -> None:
    inbox = tmp_path / "drop" / "in"
    inbox.mkdir(parents=True)
    answer(inbox, "9.9\n9.9\n")  # left from an earlier run
    driver = make(mode="nimo")
    driver.submit([experiment(1), experiment(2)])
    why = "present before round 1-2 was written (left over from before)"
    assert quarantined(tmp_path) == {"results.csv": why, "outputend.txt": why}
    assert driver.collect() == []
    answer(inbox, "0.1\n0.2\n")
    assert [c.measurement.values["conductance"] for c in collect_until(driver, 2)] == [0.1, 0.2]


def test_a_resumed_nimo_round_takes_an_answer_that_arrived_while_tansaku_was_down(
    make, tmp_path
) -> None:
    first = make(mode="nimo")
    first.submit([experiment(1), experiment(2)])
    submitted = datetime.now(UTC)
    first.close()
    inbox = tmp_path / "drop" / "in"
    answer(inbox, "0.1\n0.2\n")
    second = make(mode="nimo")
    second.resume(experiment(2), submitted)
    second.resume(experiment(1), submitted)
    completions = collect_until(second, 2)
    assert measured(completions) == [
        (1, 0.1),
        (2, 0.2),
    ]
    assert quarantined(tmp_path) == {}


def test_a_resumed_nimo_round_refuses_an_answer_older_than_its_request(make, tmp_path) -> None:
    outbox, inbox = tmp_path / "drop" / "out", tmp_path / "drop" / "in"
    outbox.mkdir(parents=True)
    inbox.mkdir(parents=True)
    answer(inbox, "9.9\n9.9\n")
    stale = max((inbox / name).lstat().st_ctime_ns for name in ("results.csv", "outputend.txt"))
    # The round as a tansaku that did not clear the inbox first wrote it, after the answer.
    request = outbox / "film-0001-0002.csv"
    while not request.exists() or request.lstat().st_mtime_ns <= stale:
        drop(outbox, request.name, "input file for machine\n151.0,11,toluene\n152.0,12,toluene\n")
    drop(outbox, "inputend.txt", "")
    driver = make(mode="nimo")
    driver.resume(experiment(1), datetime.now(UTC))
    driver.resume(experiment(2), datetime.now(UTC))
    assert driver.collect() == []
    why = "present before round 1-2 was written (older than its request file film-0001-0002.csv)"
    assert quarantined(tmp_path) == {"results.csv": why, "outputend.txt": why}
    answer(inbox, "0.1\n0.2\n")
    assert [c.measurement.values["conductance"] for c in collect_until(driver, 2)] == [0.1, 0.2]


def test_a_linked_nimo_answer_is_not_followed_and_fails_the_round(make, tmp_path) -> None:
    driver = make(mode="nimo")
    driver.submit([experiment(1)])
    secret = tmp_path / "secret.csv"
    secret.write_text("99.0\n")
    inbox = tmp_path / "drop" / "in"
    (inbox / "results.csv").symlink_to(secret)
    drop(inbox, "outputend.txt", "")
    (completion,) = collect_until(driver, 1, seconds=3)
    assert completion.measurement.failure.endswith(": symbolic link, not followed")
    assert quarantined(tmp_path)["results.csv"] == "symbolic link, not followed"
    assert (tmp_path / "drop" / "quarantine" / "results.csv").is_symlink()
    assert secret.read_text() == "99.0\n"


def test_a_short_nimo_round_says_so_in_the_log(make, caplog) -> None:
    driver = make(mode="nimo")
    with caplog.at_level(logging.INFO, logger="tansaku.file_drop"):
        driver.submit([experiment(7), experiment(8)])
    assert "round 7-8 is short: 2 of 3 slots filled" in caplog.text


def test_extra_nimo_result_values_are_kept_and_warned_about_once(make, tmp_path, caplog) -> None:
    driver = make(mode="nimo")
    inbox = tmp_path / "drop" / "in"
    with caplog.at_level(logging.WARNING, logger="tansaku.file_drop"):
        for first in (1, 3):
            driver.submit([experiment(first), experiment(first + 1)])
            answer(inbox, "0.1,25.0\n0.2,26.0\n")
            completions = collect_until(driver, 2)
    assert completions[1].measurement.values == {"conductance": 0.2}
    assert completions[1].measurement.raw["cells"] == ["0.2", "26.0"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "results.csv rows carry 2 values but campaign film knows 1 (conductance); the extra "
        "values are kept in the raw record and not used"
    ]


def test_unknown_result_fields_are_warned_about_once(make, tmp_path, caplog) -> None:
    driver = make()
    driver.submit([experiment(1), experiment(2)])
    inbox = tmp_path / "drop" / "in"
    with caplog.at_level(logging.WARNING, logger="tansaku.file_drop"):
        drop(inbox, "film-0001.json", result(1, 0.1, temp_c=151.0, room_c=21.5))
        drop(inbox, "film-0002.json", result(2, 0.2, room_c=22.0))
        completions = collect_until(driver, 2)
    assert completions[0].measurement.raw["fields"]["room_c"] == "21.5"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "result files carry 'room_c', which campaign film does not know (it measures "
        "conductance); kept in the raw record and not used"
    ]


def test_a_named_pipe_in_the_inbox_is_quarantined_without_blocking(make, tmp_path) -> None:
    driver = make()
    driver.submit([experiment(1)])
    os.mkfifo(tmp_path / "drop" / "in" / "film-0001.json")
    finished = threading.Event()
    reader = threading.Thread(target=lambda: (driver.collect(), finished.set()), daemon=True)
    reader.start()
    assert finished.wait(5), "opening a pipe waited for a writer"
    assert quarantined(tmp_path) == {"film-0001.json": "not a regular file"}


def test_nimo_handshake_accepts_a_round_once_inputend_is_deleted(make, tmp_path) -> None:
    driver = make(mode="nimo", nimo={"handshake": True, "acknowledge_within": "0.5s"})
    driver.submit([experiment(1)])
    (tmp_path / "drop" / "out" / "inputend.txt").unlink()
    assert driver.collect() == []
    time.sleep(0.6)
    inbox = tmp_path / "drop" / "in"
    (inbox / "results.csv").write_text("1.5\n")
    (inbox / "outputend.txt").touch()
    (completion,) = collect_until(driver, 1)
    assert completion.measurement.values == {"conductance": 1.5}


def test_validate_refuses_settings_the_chosen_mode_does_not_use(tmp_path) -> None:
    nimo = """
        name: film
        budget: {experiments: 6}
        space:
          - {name: temp_c, type: continuous, bounds: [100, 200]}
        objectives:
          - {name: conductance, goal: maximize}
        driver:
          type: file_drop
          outbox: drop/out
          inbox: drop/in
          time_limit: 1h
          mode: nimo
          request: {columns: {temp_c: TEMP}}
          result: {complete: sentinel}
    """
    problems = campaign_problems(write_campaign(tmp_path, nimo))
    assert "driver.request.columns" in problems and "driver.result.complete" in problems
    assert (
        "is not used with mode: nimo, because the protocol fixes the request file (the line "
        "'input file for machine', then one row of parameter values per experiment, in "
        "campaign order); remove it"
    ) in problems
    files = nimo.replace("mode: nimo", "nimo: {handshake: true}").replace("request:", "#")
    problems = campaign_problems(write_campaign(tmp_path, files.replace("result:", "#")))
    assert "driver.nimo" in problems and "applies to mode: nimo only" in problems


def test_an_unreadable_inbox_is_waited_out_and_time_limits_still_run(
    make, tmp_path, caplog
) -> None:
    driver = make(time_limit="0.3s", watch="polling")
    driver.submit([experiment(5)])
    inbox = tmp_path / "drop" / "in"
    inbox.rename(tmp_path / "drop" / "away")  # a network share dropping out
    (completion,) = collect_until(driver, 1, seconds=3)
    assert completion.measurement.failure.startswith("no result within the time limit")
    assert "cannot read the drop folders" in caplog.text


def test_a_nimo_round_outlives_a_missing_inbox(make, tmp_path) -> None:
    driver = make(mode="nimo", slots=2, watch="polling")
    driver.submit([experiment(1), experiment(2)])
    inbox, away = tmp_path / "drop" / "in", tmp_path / "drop" / "away"
    inbox.rename(away)
    assert driver.collect() == []
    away.rename(inbox)
    answer(inbox, "0.1\n0.2\n")
    assert measured(collect_until(driver, 2)) == [(1, 0.1), (2, 0.2)]
