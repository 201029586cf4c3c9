"""The virtual lab robot, run as the separate process a lab's robot software would be.

Requests are dropped by hand, atomically, the way tansaku drops them; the assertions are
on the files the robot writes. Most campaigns use the cheap film model as their dry-run
simulator so that each robot starts in a fraction of a second; the two Branin campaigns
pay for loading torch once each and check readings against ``tansaku.simulators.benchmarks``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tansaku.simulators.film import film_conductance_ms

REPO = Path(__file__).resolve().parents[3]
CAMPAIGN = "robot-test"
LINE_TIMEOUT = 15.0


class RobotProcess:
    """``python -m tansaku.simulators.robot`` in the background, its stdout read line by line."""

    def __init__(self, campaign: Path, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tansaku.simulators.robot", str(campaign), *options],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._returned: set[int] = set()
        self._new: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._new.put(line.rstrip("\n"))
        self._new.put(None)

    def _pull(self, timeout: float) -> bool:
        """Move the next printed line into :attr:`lines`; ``False`` when none came in time."""
        try:
            line = self._new.get(timeout=timeout)
        except queue.Empty:
            return False
        if line is None:
            self._new.put(None)  # stays at the end for the next reader
            return False
        self.lines.append(line)
        return True

    def wait_for(self, pattern: str, timeout: float = LINE_TIMEOUT) -> str:
        """The first line not yet returned that matches the regular expression ``pattern``."""
        deadline = time.monotonic() + timeout
        start = 0
        while True:
            for index in range(start, len(self.lines)):
                if index not in self._returned and re.search(pattern, self.lines[index]):
                    self._returned.add(index)
                    return self.lines[index]
            start = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0 or not self._pull(left):
                if self.process.poll() is not None and self.process.stderr is not None:
                    raise AssertionError(
                        f"robot exited waiting for {pattern!r}:\n{self.process.stderr.read()}"
                    )
                if time.monotonic() >= deadline:
                    raise AssertionError(f"no line matching {pattern!r}; got {self.lines}")

    def drain(self, seconds: float) -> list[str]:
        """Every line printed within the next ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and self._pull(left):
            pass
        return self.lines

    def terminate(self) -> int:
        """SIGTERM, then the exit status (killed after a grace period)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self._reader.join(timeout=1)


@pytest.fixture
def start_robot() -> Iterator[Callable[..., RobotProcess]]:
    """Start robots that are always stopped at the end of the test, ready or not."""
    robots: list[RobotProcess] = []

    def start(campaign: Path, *options: str) -> RobotProcess:
        robot = RobotProcess(campaign, *options)
        robots.append(robot)
        robot.wait_for("^ready$", timeout=30)
        return robot

    yield start
    for robot in robots:
        robot.terminate()


# -- campaigns ----------------------------------------------------------------------------

BRANIN_SPACE = [
    {"name": "x1", "type": "continuous", "bounds": [-5, 10]},
    {"name": "x2", "type": "continuous", "bounds": [0, 15]},
]
FILM_SPACE = [
    {"name": "anneal_temp_c", "type": "continuous", "bounds": [20, 250]},
    {"name": "stir_rpm", "type": "continuous", "bounds": [0, 1200]},
    {"name": "passes", "type": "integer", "bounds": [1, 5]},
    {"name": "solvent", "type": "categorical", "values": ["toluene", "chloroform"]},
]


def write_campaign(
    folder: Path, driver: Mapping[str, object] | None = None, *, branin: bool = False, **sim: object
) -> Path:
    """A file_drop campaign in ``folder``: Branin (x1, x2, objective y) or the film model."""
    simulator = (
        {"type": "benchmark", "function": "branin"}
        if branin
        else {"type": "function", "function": "tansaku.simulators.film:film_conductance_ms"}
    )
    document = {
        "name": CAMPAIGN,
        "seed": 3,
        "budget": {"experiments": 6},
        "space": BRANIN_SPACE if branin else FILM_SPACE,
        "objectives": [{"name": "y" if branin else "conductance", "goal": "minimize"}],
        "driver": {
            "type": "file_drop",
            "outbox": "drop/requests",
            "inbox": "drop/results",
            "slots": 3,
            "time_limit": "5s",
            "poll_interval": "0.2s",
            **(driver or {}),
        },
        "dry_run": {"simulator": {**simulator, **sim}},
    }
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@functools.cache
def _branin() -> Callable[[Mapping[str, float]], float]:
    from tansaku.simulators.benchmarks import BenchmarkSimulator

    return BenchmarkSimulator("branin", ["x1", "x2"])


def branin(x1: float, x2: float) -> float:
    """Branin as ``tansaku.simulators.benchmarks`` evaluates it: what the robot must report."""
    return _branin()({"x1": x1, "x2": x2})


FILM_POINT = {"anneal_temp_c": 150.0, "stir_rpm": 500.0, "passes": 2, "solvent": "toluene"}


# -- dropping requests, reading results ---------------------------------------------------


def drop(folder: Path, name: str, content: str) -> None:
    """Write ``folder/name`` atomically, as tansaku does: a dot-file renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.tmp"
    temporary.write_text(content)
    os.replace(temporary, folder / name)


def request(
    experiment_id: int, parameters: Mapping[str, object], expires: datetime | None = None
) -> str:
    expires = expires or datetime.now(UTC) + timedelta(minutes=5)
    record = {"campaign": CAMPAIGN, "experiment_id": experiment_id, **parameters}
    record["expires_at"] = expires.isoformat()
    return json.dumps(record)


def label(experiment_id: int) -> str:
    return f"{CAMPAIGN}-{experiment_id:04d}"


def folders(campaign: Path) -> tuple[Path, Path]:
    return campaign.parent / "drop/requests", campaign.parent / "drop/results"


def visible(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


# -- files mode ---------------------------------------------------------------------------


def test_json_results_match_branin_and_come_back_out_of_order(
    tmp_path: Path, start_robot: Callable[..., RobotProcess]
) -> None:
    campaign = write_campaign(tmp_path, branin=True)
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.6", "--seed", "0")
    points = {i: (-5.0 + 2.5 * i, 1.5 * i) for i in range(1, 7)}
    for i, (x1, x2) in points.items():
        drop(outbox, f"{label(i)}.json", request(i, {"x1": x1, "x2": x2}))
    for _ in points:
        robot.wait_for("^result ")

    events = [line for line in robot.lines if line.startswith(("started", "result"))]
    running, most = 0, 0
    for line in events:
        running += 1 if line.startswith("started") else -1
        most = max(most, running)
    assert most == 3, events
    assert all(line.startswith("started") for line in events[:3]), events
    finished = [int(line.split()[1].rsplit("-", 1)[1]) for line in events if "result" in line]
    assert sorted(finished) == list(points)
    assert finished != sorted(finished), "with seed 0 the third experiment finishes first"

    assert visible(inbox) == [f"{label(i)}.json" for i in points]
    assert sorted(os.listdir(inbox)) == visible(inbox), "no temporary file is left behind"
    assert visible(outbox) == [f"{label(i)}.json" for i in points], "requests stay put"
    for i, (x1, x2) in points.items():
        result = json.loads((inbox / f"{label(i)}.json").read_text())
        assert result == {"campaign": CAMPAIGN, "experiment_id": i, "y": branin(x1, x2)}


def test_skips_expired_repeated_and_unreadable_requests(
    tmp_path: Path, start_robot: Callable[..., RobotProcess]
) -> None:
    campaign = write_campaign(tmp_path, noise_sd=0.01)
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.05")
    past = datetime.now(UTC) - timedelta(seconds=1)
    drop(outbox, f"{label(1)}.json", request(1, FILM_POINT, expires=past))
    robot.wait_for(f"^skipped {label(1)}: expired")
    drop(outbox, f"{label(2)}.json", "{not json")
    robot.wait_for(rf"^ignored {label(2)}\.json: not JSON")
    drop(outbox, f"{label(3)}.csv", "a request in the wrong format is not looked at")
    drop(outbox, f".{label(4)}.json", request(4, FILM_POINT))  # a temporary file
    drop(outbox, f"{label(5)}.json", request(5, FILM_POINT))
    robot.wait_for(f"^result {label(5)} -> {label(5)}.json$")

    # tansaku archives the request; the same experiment asked again is not run twice.
    (outbox / f"{label(5)}.json").unlink()
    drop(outbox, f"{label(5)}.json", request(5, {**FILM_POINT, "passes": 3}))
    robot.wait_for(rf"^ignored {label(5)}\.json: {label(5)} was started before")
    robot.drain(0.3)
    assert [line for line in robot.lines if line.startswith("started")] == [f"started {label(5)}"]
    assert visible(inbox) == [f"{label(5)}.json"]
    reading = json.loads((inbox / f"{label(5)}.json").read_text())["conductance"]
    clean = film_conductance_ms(FILM_POINT)
    assert reading != clean and abs(reading - clean) < 0.1, "noise_sd 0.01 is added"


def test_csv_layouts_with_renamed_columns_and_sentinels(
    tmp_path: Path, start_robot: Callable[..., RobotProcess]
) -> None:
    driver = {
        "request": {
            "format": "csv",
            "id_field": "job",
            "campaign_field": "project",
            "columns": {"anneal_temp_c": "T_anneal", "solvent": "Solvent"},
            "expires_field": None,
        },
        "result": {
            "format": "csv",
            "id_field": "job",
            "campaign_field": None,
            "columns": {"conductance": "G_mS"},
            "complete": "sentinel",
            "sentinel_suffix": ".ok",
        },
    }
    campaign = write_campaign(tmp_path, driver)
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.05")
    points = {
        1: {"anneal_temp_c": 165.0, "stir_rpm": 600.0, "passes": 1, "solvent": "toluene"},
        2: {"anneal_temp_c": 90.5, "stir_rpm": 0.0, "passes": 5, "solvent": "chloroform"},
    }
    for i, point in points.items():
        header = "project,job,T_anneal,stir_rpm,passes,Solvent"
        row = f"{CAMPAIGN},{i},{point['anneal_temp_c']},{point['stir_rpm']},{point['passes']}"
        drop(outbox, f"{label(i)}.csv", f"{header}\n{row},{point['solvent']}\n")
    for i in points:
        robot.wait_for(f"^result {label(i)} -> {label(i)}.csv$")

    assert visible(inbox) == [
        name for i in points for name in (f"{label(i)}.csv", f"{label(i)}.csv.ok")
    ]
    for i, point in points.items():
        assert (inbox / f"{label(i)}.csv.ok").stat().st_size == 0
        rows = list(csv.reader(io.StringIO((inbox / f"{label(i)}.csv").read_text())))
        assert rows[0] == ["job", "G_mS"]
        assert len(rows) == 2
        assert int(rows[1][0]) == i
        assert float(rows[1][1]) == film_conductance_ms(point)


def test_fail_rate_reports_a_cracked_sample_without_values(
    tmp_path: Path, start_robot: Callable[..., RobotProcess]
) -> None:
    campaign = write_campaign(tmp_path)
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.05", "--fail-rate", "1")
    drop(outbox, f"{label(1)}.json", request(1, FILM_POINT))
    robot.wait_for(f"^failed {label(1)}")
    robot.wait_for(f"^result {label(1)} -> {label(1)}.json$")
    result = json.loads((inbox / f"{label(1)}.json").read_text())
    assert result == {"campaign": CAMPAIGN, "experiment_id": 1, "failure": "sample cracked"}


# -- faults -------------------------------------------------------------------------------


def good_result(experiment_id: int) -> dict[str, object]:
    return {
        "campaign": CAMPAIGN,
        "experiment_id": experiment_id,
        "conductance": film_conductance_ms(FILM_POINT),
    }


def test_partial_result_is_visible_half_written(
    tmp_path: Path, start_robot: Callable[..., RobotProcess]
) -> None:
    campaign = write_campaign(tmp_path)
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.05", "--partial", "1", "--partial-pause", "0.5")
    drop(outbox, f"{label(1)}.json", request(1, FILM_POINT))
    robot.wait_for(f"^fault partial {label(1)}$")
    path = inbox / f"{label(1)}.json"
    deadline = time.monotonic() + 5
    # The file exists, empty, a moment before its first half is written.
    while not (path.exists() and path.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.01)
    first = path.read_bytes()
    with pytest.raises(json.JSONDecodeError):
        json.loads(first)
    robot.wait_for(f"^result {label(1)} -> {label(1)}.json$")
    whole = path.read_bytes()
    assert 0 < len(first) < len(whole) and whole.startswith(first)
    assert json.loads(whole) == good_result(1)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("wrong-id", {f"{label(1)}.json": {**good_result(1), "experiment_id": 1001}}),
        ("unknown-id", {f"{label(9001)}.json": good_result(9001)}),
        ("duplicate", {f"{label(1)}.json": good_result(1), f"{label(1)}-again.json": None}),
        ("garbage", {f"{label(1)}.json": "garbage"}),
    ],
)
def test_faulty_result_files(
    tmp_path: Path,
    start_robot: Callable[..., RobotProcess],
    fault: str,
    expected: dict[str, object],
) -> None:
    campaign = write_campaign(tmp_path)
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.05", f"--{fault}", "1")
    drop(outbox, f"{label(1)}.json", request(1, FILM_POINT))
    robot.wait_for(f"^fault {fault} {label(1)}$")
    for name in expected:
        robot.wait_for(f"^result {label(1)} -> {name}$")
    assert visible(inbox) == sorted(expected)
    for name, content in expected.items():
        data = (inbox / name).read_bytes()
        if content == "garbage":
            assert len(data) == 64
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
        elif content is None:  # the duplicate: the very same bytes again
            assert data == (inbox / f"{label(1)}.json").read_bytes()
        else:
            assert json.loads(data) == content


def test_never_writes_nothing(tmp_path: Path, start_robot: Callable[..., RobotProcess]) -> None:
    campaign = write_campaign(tmp_path)
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.05", "--never", "1")
    drop(outbox, f"{label(1)}.json", request(1, FILM_POINT))
    robot.wait_for(f"^fault never {label(1)}$")
    robot.drain(0.3)
    assert os.listdir(inbox) == []
    assert not any(line.startswith("result") for line in robot.lines)


def test_late_results_arrive_after_the_request_expired(
    tmp_path: Path, start_robot: Callable[..., RobotProcess]
) -> None:
    campaign = write_campaign(tmp_path)
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.05", "--late", "1", "--late-by", "0.3")
    expires = datetime.now(UTC) + timedelta(seconds=0.6)
    drop(outbox, f"{label(1)}.json", request(1, FILM_POINT, expires=expires))
    no_deadline = json.loads(request(2, FILM_POINT)) | {"expires_at": None}
    dropped = time.monotonic()
    drop(outbox, f"{label(2)}.json", json.dumps(no_deadline))

    robot.wait_for(f"^result {label(2)} -> {label(2)}.json$")
    assert time.monotonic() - dropped >= 0.3
    robot.wait_for(f"^result {label(1)} -> {label(1)}.json$")
    assert datetime.now(UTC) >= expires + timedelta(seconds=0.3)
    assert json.loads((inbox / f"{label(1)}.json").read_text()) == good_result(1)
    assert json.loads((inbox / f"{label(2)}.json").read_text()) == good_result(2)


# -- NIMS-OS mode -------------------------------------------------------------------------


def nimo_round(outbox: Path, name: str, rows: list[tuple[object, ...]]) -> None:
    """What tansaku does to start a round: the request file, then ``inputend.txt``."""
    lines = ["input file for machine", *(",".join(map(str, row)) for row in rows)]
    drop(outbox, name, "\n".join(lines) + "\n")
    (outbox / "inputend.txt").touch()


def collect_round(inbox: Path) -> list[list[str]]:
    """What tansaku does to end a round: read ``results.csv``, archive it and the marker."""
    rows = list(csv.reader(io.StringIO((inbox / "results.csv").read_text())))
    (inbox / "results.csv").unlink()
    (inbox / "outputend.txt").unlink()
    return rows


def test_nimo_rounds_with_handshake(
    tmp_path: Path, start_robot: Callable[..., RobotProcess]
) -> None:
    campaign = write_campaign(tmp_path, {"mode": "nimo", "nimo": {"handshake": True}}, branin=True)
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.1")
    first = [(1.0, 2.0), (-3.5, 12.25), (9.0, 0.5)]
    nimo_round(outbox, f"{CAMPAIGN}-0001-0003.csv", first)
    robot.wait_for(rf"^round {CAMPAIGN}-0001-0003\.csv \(3 rows\)$")
    robot.wait_for(rf"^result {CAMPAIGN}-0001-0003\.csv -> results\.csv$")
    assert not (outbox / "inputend.txt").exists(), "the robot acknowledged the round"
    assert (inbox / "outputend.txt").stat().st_size == 0

    # The next round waits until tansaku has taken the previous results.
    nimo_round(outbox, f"{CAMPAIGN}-0004.csv", [(2.5, 7.5)])
    robot.drain(0.3)
    assert sum(line.startswith("round") for line in robot.lines) == 1
    rows = collect_round(inbox)
    assert [[float(value) for value in row] for row in rows] == [[branin(*p)] for p in first]
    robot.wait_for(rf"^result {CAMPAIGN}-0004\.csv -> results\.csv$")
    assert collect_round(inbox) == [[repr(branin(2.5, 7.5))]]
    assert visible(outbox) == [f"{CAMPAIGN}-0001-0003.csv", f"{CAMPAIGN}-0004.csv"]


def test_nimo_without_handshake_leaves_inputend(
    tmp_path: Path, start_robot: Callable[..., RobotProcess]
) -> None:
    campaign = write_campaign(tmp_path, {"mode": "nimo"})
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.05")
    point = tuple(FILM_POINT.values())
    nimo_round(outbox, f"{CAMPAIGN}-0001-0002.csv", [point, (165, 600, 1, "chloroform")])
    robot.wait_for(r"^result .* -> results\.csv$")
    assert (outbox / "inputend.txt").exists()
    assert collect_round(inbox) == [
        [repr(film_conductance_ms(FILM_POINT))],
        [repr(film_conductance_ms({"anneal_temp_c": 165, "stir_rpm": 600}))],
    ]
    # inputend.txt is still there, but a processed request is not run again.
    robot.drain(0.3)
    assert sum(line.startswith("round") for line in robot.lines) == 1
    nimo_round(outbox, f"{CAMPAIGN}-0003.csv", [point])
    robot.wait_for(rf"^round {CAMPAIGN}-0003\.csv \(1 rows\)$")


@pytest.mark.parametrize("fault", ["never", "garbage"])
def test_nimo_faults(tmp_path: Path, start_robot: Callable[..., RobotProcess], fault: str) -> None:
    campaign = write_campaign(tmp_path, {"mode": "nimo", "nimo": {"handshake": True}})
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.05", f"--{fault}", "1")
    nimo_round(outbox, f"{CAMPAIGN}-0001.csv", [tuple(FILM_POINT.values())])
    robot.wait_for(rf"^fault {fault} {CAMPAIGN}-0001\.csv$")
    robot.drain(0.2)
    if fault == "never":
        assert os.listdir(inbox) == []
    else:
        assert (inbox / "outputend.txt").exists()
        assert (inbox / "results.csv").read_text() == "abc,def\n"


def test_a_late_nimo_round_is_answered_only_after_tansaku_withdrew_it(
    tmp_path: Path, start_robot: Callable[..., RobotProcess]
) -> None:
    campaign = write_campaign(tmp_path, {"mode": "nimo", "nimo": {"handshake": True}})
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "0.05", "--late", "1", "--late-by", "0.3")
    name = f"{CAMPAIGN}-0001.csv"
    nimo_round(outbox, name, [tuple(FILM_POINT.values())])
    robot.wait_for(rf"^fault late {CAMPAIGN}-0001\.csv$")
    robot.drain(0.3)
    assert os.listdir(inbox) == [], "no answer while the round is still in the outbox"
    withdrawn = tmp_path / "expired"
    withdrawn.mkdir()
    os.replace(outbox / name, withdrawn / name)  # what tansaku does when the round expires
    moved = time.monotonic()
    robot.wait_for(rf"^result {CAMPAIGN}-0001\.csv -> results\.csv$")
    assert time.monotonic() - moved >= 0.3
    assert collect_round(inbox) == [[repr(film_conductance_ms(FILM_POINT))]]


# -- the process --------------------------------------------------------------------------


def test_sigterm_stops_at_once_with_exit_0(
    tmp_path: Path, start_robot: Callable[..., RobotProcess]
) -> None:
    campaign = write_campaign(tmp_path)
    outbox, inbox = folders(campaign)
    robot = start_robot(campaign, "--duration", "30", "--jitter", "0")
    drop(outbox, f"{label(1)}.json", request(1, FILM_POINT))
    robot.wait_for(f"^started {label(1)}$")
    # terminate() kills and fails after a 5 s grace, far short of the 30 s experiment.
    assert robot.terminate() == 0
    assert os.listdir(inbox) == []


def test_refuses_a_campaign_without_a_file_drop_driver(tmp_path: Path) -> None:
    campaign = tmp_path / "simulated.yaml"
    document = yaml.safe_load(write_campaign(tmp_path).read_text())
    document["driver"] = {"type": "simulated", "simulator": document["dry_run"]["simulator"]}
    campaign.write_text(yaml.safe_dump(document))
    finished = subprocess.run(
        [sys.executable, "-m", "tansaku.simulators.robot", str(campaign)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 2
    assert "file_drop campaigns only" in finished.stderr


def test_in_process_robot(tmp_path: Path) -> None:
    from tansaku.simulators.robot import Faults, Robot, RobotOptions

    with pytest.raises(ValueError, match="add up to more than 1"):
        Faults(never=0.6, late=0.6)
    campaign = write_campaign(tmp_path)
    outbox, inbox = folders(campaign)
    heard: list[str] = []
    with Robot.from_file(campaign, RobotOptions(duration=0.05), say=heard.append) as robot:
        drop(outbox, f"{label(1)}.json", request(1, FILM_POINT))
        deadline = time.monotonic() + 5
        while not any(line.startswith("result") for line in robot.events):
            assert time.monotonic() < deadline, robot.events
            time.sleep(0.02)
    assert (
        heard
        == robot.events
        == ["ready", f"started {label(1)}", f"result {label(1)} -> {label(1)}.json"]
    )
    assert json.loads((inbox / f"{label(1)}.json").read_text()) == good_result(1)
