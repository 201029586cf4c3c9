"""The terminal prompt, typed at through a real pseudo-terminal.

The prompt reads the pty's slave end as ``tansaku run`` reads its terminal (canonical
mode, echo on, Enter sending CR) and prints to it through a rich Console; the test types
into the master end and reads the screen from there. Every wait has its own deadline, so
a prompt that stops reading fails the test in seconds rather than at the suite timeout.
"""

from __future__ import annotations

import io
import os
import re
import select
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

import tansaku
from tansaku.ledger import ExperimentRecord, LedgerMissingError
from tansaku.people.answers import AnswerError
from tansaku.people.campaign import OpenCampaign, open_run
from tansaku.people.prompt import DecisionLine, ResultLine, TerminalPrompt, parse_line

DEADLINE_S = 15.0

CAMPAIGN = """\
name: prompt-film
seed: 2
budget: {{experiments: 6}}
space:
  - {{name: anneal_temp_c, type: continuous, bounds: [60, 250], unit: degC}}
  - {{name: anneal_min, type: continuous, bounds: [1, 30], unit: min}}
objectives:
  - {{name: conductance_ms, goal: maximize, unit: mS}}
driver: {{type: manual, slots: 2{approve}}}
"""

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """The person's side of a pty: types lines, reads what the prompt printed."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        # What the prompt gets as sys.stdin and the Console as sys.stdout in `tansaku run`.
        self.input = open(self.slave, encoding="utf-8", closefd=False)  # noqa: SIM115
        self._output = open(self.slave, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        self.console = Console(
            file=self._output, width=1000, highlight=False, markup=False, emoji=False
        )
        self.screen = ""
        self._seen = 0

    def type(self, text: str) -> None:
        """Type ``text`` and Enter (CR, which the line discipline hands on as NL)."""
        os.write(self.master, text.encode() + b"\r")

    def expect(self, text: str, timeout: float = DEADLINE_S) -> str:
        """What appeared from the last match up to and including ``text``, once it has."""
        deadline = time.monotonic() + timeout
        while (found := self.screen.find(text, self._seen)) < 0:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(
                    f"{text!r} did not appear; the screen after the last match:\n"
                    f"{self.screen[self._seen :]}"
                )
            readable, _, _ = select.select([self.master], [], [], left)
            if readable:
                chunk = os.read(self.master, 4096).decode("utf-8", errors="replace")
                self.screen += ANSI.sub("", chunk).replace("\r\n", "\n")
        shown, self._seen = self.screen[self._seen : found + len(text)], found + len(text)
        return shown

    def close(self) -> None:
        self.input.close()
        self._output.close()
        os.close(self.slave)
        os.close(self.master)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    yield term
    term.close()


def manual_run(tmp_path: Path, *, running: int, approve: bool = False) -> Path:
    """A run directory of a manual campaign with ``running`` experiments waiting."""
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(CAMPAIGN.format(approve=", approve: true" if approve else ""))
    run_dir = tmp_path / "run"
    with tansaku.open(campaign, run_dir) as c:
        if running:
            assert len(c.suggest(running)) == running
    return run_dir


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"the ledger never showed {what}")
        time.sleep(0.05)


def status(people: OpenCampaign, experiment_id: int) -> str:
    return people.experiment(experiment_id).status


def test_results_typed_at_the_prompt_reach_the_ledger(tmp_path: Path, terminal: Terminal) -> None:
    run_dir = manual_run(tmp_path, running=2)
    with open_run(run_dir) as people, TerminalPrompt(run_dir, terminal.console, terminal.input):
        listing = terminal.expect("enter: [ID] name=value ... | [ID] fail: reason")
        assert "2 experiments wait for a result:" in listing
        assert re.search(r"#1  anneal_temp_c = [\d.]+ degC, anneal_min = [\d.]+ min", listing)
        assert "#2  anneal_temp_c" in listing
        assert "measure: conductance_ms (mS)" in listing

        terminal.type("1 conductance_ms=812 anneal_temp_c=150")  # not at the proposed temp
        terminal.expect("✓ #1 recorded")
        wait_until(lambda: status(people, 1) == "done", "#1 done")
        told = people.experiment(1)
        assert told.values == {"conductance_ms": 812.0}
        assert told.actual == {**told.parameters, "anneal_temp_c": 150.0}
        # The list comes back with what is left, so the id may now be left out.
        assert "#1" not in terminal.expect("1 experiment waits for a result:\n  #2  ")

        terminal.type("1 conductance_ms=900")
        terminal.expect("experiment #1 is not waiting for a result: it already has a result")

        before = people.ledger.version()
        terminal.type("2 haze=3")
        terminal.expect("haze: not measured by this campaign, which measures conductance_ms")
        assert people.ledger.version() == before
        assert status(people, 2) == "running"

        terminal.type("fail: film cracked")
        terminal.expect("✓ #2 recorded (failed: film cracked)")
        wait_until(lambda: status(people, 2) == "failed", "#2 failed")
        assert people.experiment(2).failure == "film cracked"


def test_a_result_told_elsewhere_shows_the_list_again_and_eof_ends_only_reading(
    tmp_path: Path, terminal: Terminal
) -> None:
    run_dir = manual_run(tmp_path, running=2)
    prompt = TerminalPrompt(run_dir, terminal.console, terminal.input)
    prompt.start()
    try:
        terminal.expect("2 experiments wait for a result:")
        terminal.type("conductance_ms=5")
        terminal.expect("2 experiments wait for a result (#1, #2): start the line with the id")

        with open_run(run_dir) as shell:
            shell.tell(1, conductance_ms=40.5, via="tell")
        assert "#1" not in terminal.expect("1 experiment waits for a result:\n  #2  ")

        os.write(terminal.master, b"\x04")  # Ctrl-D at the start of a line: end of input
        terminal.expect(f"input closed; enter results from a shell: tansaku tell {run_dir}")
        # Still watching: a new experiment is shown, with the shell as the way to answer.
        with open_run(run_dir) as shell:
            [new] = shell.suggest(1)
        listing = terminal.expect(f"from a shell: tansaku tell {run_dir} ID name=value ...")
        assert f"#{new.id}  anneal_temp_c" in listing
    finally:
        began = time.monotonic()
        prompt.stop()
        assert time.monotonic() - began < 2.0


def test_lines_from_a_pipe_are_taken_to_its_end(tmp_path: Path) -> None:
    run_dir = manual_run(tmp_path, running=2)
    reading, writing = os.pipe()
    os.write(writing, "1 conductance_ms=3\n2 fail: µ-cracks".encode())  # no newline at the end
    os.close(writing)
    screen = io.StringIO()
    # The stream is the prompt's only reference to it: it must stay open while in use.
    with (
        open_run(run_dir) as people,
        TerminalPrompt(run_dir, Console(file=screen, width=140), open(reading, encoding="utf-8")),
    ):
        wait_until(lambda: status(people, 2) == "failed", "#2 failed")
        assert status(people, 1) == "done"
        assert people.experiment(2).failure == "µ-cracks"
        wait_until(lambda: "input closed" in screen.getvalue(), "the end of input")
    assert "NAME=VALUE" not in screen.getvalue()


def test_proposals_are_approved_and_rejected_at_the_prompt(
    tmp_path: Path, terminal: Terminal
) -> None:
    run_dir = manual_run(tmp_path, running=0, approve=True)
    with open_run(run_dir) as people:
        people.ledger.record_proposals(
            [
                {
                    "parameters": {"anneal_temp_c": t, "anneal_min": 5.0},
                    "method": "sobol",
                    "proposer": {},
                }
                for t in (100.0, 240.0)
            ]
        )
        with TerminalPrompt(run_dir, terminal.console, terminal.input):
            listing = terminal.expect(f"or tansaku approve {run_dir} ID")
            assert "2 proposals wait for approval:" in listing
            assert "#2  anneal_temp_c = 240 degC, anneal_min = 5 min" in listing
            assert "enter: approve ID | reject ID reason" in listing

            terminal.type("approve 1")
            terminal.expect("✓ #1 approved")
            terminal.type("reject 2 too hot for the substrate")
            terminal.expect("✓ #2 rejected")
            wait_until(lambda: status(people, 2) == "rejected", "#2 rejected")
            assert people.experiment(1).approved is True
            assert people.experiment(2).decision_reason == "too hot for the substrate"

            terminal.type("approve 2")
            terminal.expect(
                "experiment #2 is not waiting for approval: it has already been decided"
            )


def test_a_view_given_shows_the_waiting_experiments(tmp_path: Path, terminal: Terminal) -> None:
    run_dir = manual_run(tmp_path, running=0, approve=True)
    with open_run(run_dir) as people:
        people.ledger.record_proposals(
            [
                {
                    "parameters": {"anneal_temp_c": 90.0, "anneal_min": 2.0},
                    "method": "sobol",
                    "proposer": {},
                }
            ]
        )

    def view(records: Sequence[ExperimentRecord], title: str) -> Text:
        return Text(f"VIEW {title}: {[r.id for r in records]}")

    with TerminalPrompt(run_dir, terminal.console, terminal.input, view=view):
        terminal.expect("VIEW 1 proposal waits for approval: [1]\nenter: approve ID")


def test_a_directory_without_a_campaign_is_refused_at_start(
    tmp_path: Path, terminal: Terminal
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(LedgerMissingError):
        TerminalPrompt(tmp_path / "empty", terminal.console, terminal.input).start()


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("7 conductance_ms=812 haze=3", ResultLine(7, {"conductance_ms": "812", "haze": "3"})),
        ("#7 conductance_ms = 812", ResultLine(7, {"conductance_ms": "812"})),
        ("conductance_ms=812", ResultLine(None, {"conductance_ms": "812"})),
        ("7 fail: film cracked", ResultLine(7, {}, "film cracked")),
        ("Failed:cracked", ResultLine(None, {}, "cracked")),
        ("fail=3", ResultLine(None, {"fail": "3"})),
        ("approve 7", DecisionLine(7, True, "")),
        ("reject #7  unsafe ratio ", DecisionLine(7, False, "unsafe ratio")),
        ("   ", None),
    ],
)
def test_lines_parse(line: str, parsed: object) -> None:
    assert parse_line(line) == parsed


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("7", "#7: give its result"),
        ("7 fail:", "say why the experiment failed"),
        ("reject 7", "say why the proposal is rejected"),
        ("approve 7 now", "approve takes the id alone"),
        ("7 812", "write each value as NAME=VALUE"),
    ],
)
def test_bad_lines_say_why(line: str, error: str) -> None:
    with pytest.raises(AnswerError, match=re.escape(error)):
        parse_line(line)
