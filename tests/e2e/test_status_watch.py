"""``tansaku status --watch``: the real command in subprocesses, beside a real dry run.

Its output is read as it comes, from a pipe or from a terminal (a pty); every wait is for
an event (a line of output, a process ending) with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tansaku.ledger import RunDirectoryLock
from tests.conftest import TANSAKU, small_branin, tansaku
from tests.e2e.test_cli import ledger_has_tables, ledger_rows

pytestmark = pytest.mark.usefixtures("prefect_server")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
DONE = re.compile(r"experiments  (\d+)/(\d+)")


def _interruptible() -> None:
    # As in a terminal: a suite started in the background by a non-interactive shell
    # (`pytest &`) ignores SIGINT, and its children would inherit that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Watch:
    """A ``tansaku status --watch`` process whose stdout is collected as it arrives."""

    def __init__(self, run_dir: Path, *options: str, terminal: bool) -> None:
        env = {**os.environ, "COLUMNS": "200"}
        for variable in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
            env.pop(variable, None)  # whether it is a terminal is for the test to decide
        if terminal:
            env["TERM"] = "xterm-256color"
            self._fd, screen = os.openpty()
        else:
            self._fd, screen = os.pipe()
        self.process = subprocess.Popen(
            [str(TANSAKU), "status", str(run_dir), "--watch", *options],
            stdout=screen,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=_interruptible,
        )
        os.close(screen)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with suppress(OSError):  # a pty's reader gets EIO once the process has ended
            while chunk := os.read(self._fd, 65536):
                self._chunks.append(chunk)

    @property
    def stdout(self) -> str:
        """What it printed so far, terminal escapes removed."""
        return ANSI.sub("", b"".join(self._chunks).decode(errors="replace"))

    def wait_for(self, text: str, timeout: float = 60) -> None:
        what = f"{text!r} in the output of status --watch"
        wait_until(lambda: text in self.stdout, what, timeout, self.process)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """Its exit code, stdout and stderr, once it has ended by itself."""
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self.close()
        self._reader.join(timeout=10)
        os.close(self._fd)
        assert self.process.stderr is not None
        return code, self.stdout, self.process.stderr.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def wait_until(
    happened: Callable[[], bool],
    what: str,
    timeout: float = 60,
    process: subprocess.Popen | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not happened():
        if process is not None and process.poll() is not None and not happened():
            raise AssertionError(f"the process ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of a finished 4-experiment dry run (its Sobol design alone)."""
    folder = tmp_path_factory.mktemp("finished")
    campaign = small_branin(folder, name="done", budget=4)
    run = tansaku("run", campaign, "--dry-run", "--run-dir", "run", cwd=folder)
    assert run.returncode == 0, run.stderr
    return folder / "run"


def has_campaign(run_dir: Path) -> bool:
    if not ledger_has_tables(run_dir):
        return False
    return ledger_rows(run_dir, "SELECT count(*) FROM campaign") == [(1,)]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_watching_a_finished_campaign_shows_it_once_and_ends_at_once(
    finished_run: Path, terminal: bool
) -> None:
    ledger = finished_run / "ledger.sqlite"
    before = digest(ledger)
    started = time.monotonic()
    code, stdout, stderr = Watch(finished_run, terminal=terminal).finish(timeout=60)
    assert code == 0, stderr
    # Nothing to wait for: it ends after one reading, not after a refresh interval or more.
    assert time.monotonic() - started < 30
    assert "Traceback" not in stderr
    # On a terminal it is drawn in place, and once more, over itself, as the display closes.
    shown = stdout.count("experiments  4/4 · done 4")
    assert shown >= 1 if terminal else shown == 1
    assert "state  finished" in stdout
    assert re.search(r"best so far  [▁▂▃▄▅▆▇█]{4}  \S+ → \S+ over 4 experiments", stdout)
    assert digest(ledger) == before  # watching only reads


def test_watching_a_running_dry_run_follows_it_and_ends_when_it_has_finished(
    tmp_path: Path,
) -> None:
    # Faults on experiments 1, 2, 8 (twice), 9 and 10 (seed 4): each one's retry waits 1 s of
    # real time, so the run takes seconds while its ledger keeps changing.
    campaign = small_branin(tmp_path, name="live", budget=10, retries=3, fault_rate=0.35)
    run_dir = tmp_path / "run"
    command = [str(TANSAKU), "run", str(campaign), "--dry-run", "--run-dir", str(run_dir)]
    run = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        # The run holds its directory before it opens its ledger.
        wait_until(lambda: has_campaign(run_dir), "a campaign in the ledger", 120, run)
        watch = Watch(run_dir, "--every", "0.2", terminal=False)
        code, stdout, stderr = watch.finish(timeout=240)
        assert code == 0, stderr
        # It ended by itself once the run had finished and let go of its directory.
        assert run.wait(timeout=60) == 0, run.stderr.read() if run.stderr else ""
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(timeout=30)
    assert "Traceback" not in stderr
    counts = [int(done) for done, _ in DONE.findall(stdout)]
    assert len(set(counts)) > 1, stdout  # it saw the campaign progress, not one state
    assert counts == sorted(counts) and counts[-1] == 10
    assert "state  running now" in stdout
    last = stdout[stdout.rindex("experiments  10/10") :]
    assert "state  finished" in last and "stopped  budget reached" in last
    assert "10 experiments" in last.split("best so far")[1].splitlines()[0]


@contextmanager
def held(run_dir: Path) -> Iterator[None]:
    """The run directory held as a live run holds it: a watch waits for it to end."""
    with RunDirectoryLock(run_dir):
        yield


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_ctrl_c_stops_watching_with_exit_0_and_no_traceback(
    finished_run: Path, terminal: bool
) -> None:
    with held(finished_run):
        watch = Watch(finished_run, "--every", "0.2", terminal=terminal)
        try:
            watch.wait_for("state  running now")
            watch.process.send_signal(signal.SIGINT)
            code, stdout, stderr = watch.finish(timeout=30)
        finally:
            watch.close()
    assert code == 0, stderr
    assert "stopped watching" in stderr
    assert "Traceback" not in stderr + stdout


def test_a_watch_ends_by_itself_when_the_process_holding_the_campaign_lets_go(
    finished_run: Path,
) -> None:
    with held(finished_run):
        watch = Watch(finished_run, "--every", "0.2", terminal=False)
        try:
            watch.wait_for("state  running now")
            assert watch.process.poll() is None  # the campaign is stopped, but still held
        except BaseException:
            watch.close()
            raise
    code, stdout, stderr = watch.finish(timeout=30)
    assert code == 0, stderr
    assert stdout.index("state  running now") < stdout.index("state  finished")


def test_every_without_watch_is_refused_in_one_sentence(finished_run: Path) -> None:
    result = tansaku("status", finished_run, "--every", "1", cwd=finished_run)
    assert result.returncode == 2
    assert "--every sets how often --watch looks; add --watch" in result.stderr
    assert "Traceback" not in result.stderr
