"""Waiting for a person: a paused flow run with a form, closed by Prefect or elsewhere.

The flow tests run against the suite's real Prefect server. A helper thread plays the
person (or the other answer route): it polls the server for the flow run once it is
Paused under a new pause key, then acts; nothing sleeps a fixed time.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import uuid4

import pydantic
import pytest

from tansaku.flows.people_form import (
    FormQuantity,
    approval_form,
    entered_values,
    result_form,
    wait_for_form,
)

T = TypeVar("T")

QUANTITIES = [
    FormQuantity("conductivity", "S/cm", (0.0, 5000.0)),
    FormQuantity("yield_fraction", None, None),
]


def never() -> bool:
    return False


# --- the forms, pure pydantic -------------------------------------------------------


def test_the_result_form_has_one_optional_number_per_quantity_and_a_failure_field() -> None:
    form = result_form(7, QUANTITIES)
    schema = form.model_json_schema()
    assert schema["title"] == "Result of experiment 7"
    assert list(schema["properties"]) == ["conductivity", "yield_fraction", "failed"]
    conductivity = schema["properties"]["conductivity"]
    assert conductivity["title"] == "conductivity (S/cm)"
    assert conductivity["description"] == "Valid range: [0, 5000] S/cm"
    assert {"type": "number", "minimum": 0, "maximum": 5000} in conductivity["anyOf"]
    assert schema["properties"]["yield_fraction"]["title"] == "yield_fraction"
    assert "description" not in schema["properties"]["yield_fraction"]
    assert schema["properties"]["failed"]["title"] == "If the experiment failed: why"
    assert "required" not in schema
    # Empty is valid and means "nothing entered"; values are read by quantity name.
    assert entered_values(form()) == {}
    assert entered_values(form(conductivity=812.0)) == {"conductivity": 812.0}
    with pytest.raises(pydantic.ValidationError, match="less than or equal to 5000"):
        form(conductivity=9000.0)
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        form(resistance=1.0)


def test_quantity_names_pydantic_or_prefect_reserve_still_key_the_form() -> None:
    names = ["metadata", "_hidden", "model_x", "load"]
    form = result_form(1, [FormQuantity(name) for name in names])
    assert list(form.model_json_schema()["properties"]) == [*names, "failed"]
    answer = form(**{"metadata": 1.0, "_hidden": 2.0, "model_x": 3.0, "load": 4.0})
    assert entered_values(answer) == {"metadata": 1.0, "_hidden": 2.0, "model_x": 3.0, "load": 4.0}


def test_result_form_refuses_names_it_cannot_key() -> None:
    with pytest.raises(ValueError, match="clashes with the failure field"):
        result_form(1, [FormQuantity("failed")])
    with pytest.raises(ValueError, match="more than once: y"):
        result_form(1, [FormQuantity("y"), FormQuantity("y", "K")])


def test_the_approval_form() -> None:
    form = approval_form(3)
    schema = form.model_json_schema()
    assert schema["title"] == "Approve experiment 3"
    assert list(schema["properties"]) == ["approve", "reason"]
    assert entered_values(form(approve=False, reason="too hot")) == {
        "approve": False,
        "reason": "too hot",
    }


def test_a_form_field_without_a_default_is_refused() -> None:
    class Strict(pydantic.BaseModel):
        value: float

    with pytest.raises(TypeError, match="these have none: value"):
        wait_for_form(Strict, "", never)


def test_waiting_outside_a_flow_is_refused() -> None:
    with pytest.raises(RuntimeError, match="inside a running flow"):
        wait_for_form(approval_form(1), "", never)


# --- against the Prefect server -------------------------------------------------------


@pytest.fixture
def prefect_api(prefect_server: str) -> Iterator[str]:
    """The suite's server, set the way ``tansaku run`` sets it (a settings context,
    which plain threads do not inherit)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_server}):
        yield prefect_server
        # Deliver the flows' logs and events while the server is up: at exit, after the
        # session's server has stopped, Prefect would report every one it still held.
        APILogWorker.drain_all(timeout=10)
        EventsWorker.drain_all(timeout=10)


class Person:
    """The helper thread's view of one flow run, found on the server by its name."""

    def __init__(self, run_name: str) -> None:
        self.run_name = run_name
        self.seen_keys: list[str] = []

    def next_pause(self, deadline_s: float = 60) -> Any:
        """The flow run, once Paused under a pause key not seen before (a new form)."""
        run = self.next_pause_or_end(deadline_s)
        assert run is not None, f"{self.run_name} ended instead of pausing again"
        return run

    def next_pause_or_end(self, deadline_s: float = 60) -> Any | None:
        """As :meth:`next_pause`, or ``None`` once the flow run has ended."""
        from prefect import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterName,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import TERMINAL_STATES, StateType

        paused_or_ended = [StateType.PAUSED, *sorted(TERMINAL_STATES)]
        this_run = FlowRunFilter(
            name=FlowRunFilterName(any_=[self.run_name]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=paused_or_ended)),
        )
        deadline = time.monotonic() + deadline_s
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                for run in client.read_flow_runs(flow_run_filter=this_run):
                    if run.state.is_final():
                        return None
                    key = run.state.state_details.pause_key
                    if run.state.is_paused() and key not in self.seen_keys:
                        self.seen_keys.append(key)
                        return run
                time.sleep(0.05)
        raise AssertionError(f"{self.run_name} neither paused again nor ended in {deadline_s} s")

    def saved_input(self, run: Any, which: str) -> str:
        """What the flow saved for its paused form: its ``schema`` or ``description``."""
        from prefect import get_client

        with get_client(sync_client=True) as client:
            keyset = run.state.state_details.run_input_keyset
            return client.read_flow_run_input(run.id, keyset[which])


def in_thread(work: Callable[[], T]) -> tuple[Future[T], ThreadPoolExecutor]:
    """Run ``work`` in a thread with this thread's settings; the future keeps its
    result or its exception."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-person")
    return executor.submit(contextvars.copy_context().run, work), executor


def run_flow(body: Callable[[], T], person: Callable[[Person], Any]) -> tuple[Any, T, Any]:
    """Run ``body`` as a flow while ``person`` acts from a thread.

    Returns:
        The flow run's final state, the body's result, and what ``person`` returned.
    """
    from prefect import flow

    run_name = f"people-form-{uuid4().hex[:12]}"
    helper = Person(run_name)
    future, executor = in_thread(lambda: person(helper))
    try:
        state = flow(name="people-form-test", flow_run_name=run_name, persist_result=False)(body)(
            return_state=True
        )
        # The person's errors (a failed assertion) show first.
        done = future.result(timeout=60)
    finally:
        executor.shutdown(wait=True)
    watchers = [thread for thread in threading.enumerate() if thread.name.startswith("tansaku")]
    assert watchers == [], "the watcher thread outlived wait_for_form"
    return state, state.result(), done


def states_of(flow_run_id: Any) -> list[tuple[str, str | None]]:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        history = client.read_flow_run_states(flow_run_id)
    return [(state.type.value, state.message) for state in history]


def test_a_person_answers_through_prefect(prefect_api: str) -> None:
    from prefect.flow_runs import resume_flow_run

    def body() -> dict[str, Any] | None:
        answer = wait_for_form(
            result_form(7, QUANTITIES), "Enter **experiment 7**", never, poll_seconds=0.1
        )
        assert answer is not None
        return entered_values(answer)

    def person(helper: Person) -> Any:
        run = helper.next_pause()
        schema = json.loads(helper.saved_input(run, "schema"))
        assert schema["title"] == "Result of experiment 7"
        assert list(schema["properties"]) == ["conductivity", "yield_fraction", "failed"]
        assert json.loads(helper.saved_input(run, "description")) == "Enter **experiment 7**"
        # The server validates against the saved schema: out of range is refused, and
        # the run stays paused under the same form.
        with pytest.raises(RuntimeError, match="5000"):
            resume_flow_run(run.id, run_input={"conductivity": 9000.0})
        # Submitted empty: nothing was entered, so the form is asked again.
        resume_flow_run(run.id, run_input={})
        run = helper.next_pause()
        resume_flow_run(run.id, run_input={"conductivity": 812.0})
        return run.id

    state, result, flow_run_id = run_flow(body, person)
    assert state.is_completed()
    assert result == {"conductivity": 812.0}
    assert [kind for kind, _ in states_of(flow_run_id)].count("PAUSED") == 2


def test_an_answer_elsewhere_resumes_the_run_and_returns_none(prefect_api: str) -> None:
    # A plain pydantic model works too, and keeps its name as the form's title.
    class Note(pydantic.BaseModel):
        text: str | None = None

    answered = threading.Event()

    def body() -> object:
        return wait_for_form(Note, "A note", answered.is_set, poll_seconds=0.05)

    def person(helper: Person) -> Any:
        run = helper.next_pause()
        assert json.loads(helper.saved_input(run, "schema"))["title"] == "Note"
        answered.set()  # as `tansaku tell` writing into the ledger would
        return run.id

    state, result, flow_run_id = run_flow(body, person)
    assert state.is_completed()
    assert result is None
    assert [kind for kind, _ in states_of(flow_run_id)][-3:] == ["PAUSED", "RUNNING", "COMPLETED"]


def test_a_person_and_an_answer_elsewhere_at_once_race_harmlessly(prefect_api: str) -> None:
    from prefect.exceptions import NotPausedError
    from prefect.flow_runs import resume_flow_run

    rounds = 3
    answered = [threading.Event() for _ in range(rounds)]

    def body() -> list[object]:
        results: list[object] = []
        for round_ in range(rounds):
            answer = wait_for_form(
                approval_form(round_), "Approve?", answered[round_].is_set, poll_seconds=0.01
            )
            results.append(None if answer is None else entered_values(answer))
        return results

    def person(helper: Person) -> None:
        # Every pause is one round's form, named after the round. A pause may pass
        # unseen: when both resumes of a round hit the server at once, SQLite can answer
        # the loser 503, and Prefect's client retries it a moment later, on the next
        # round's pause (measured). That stray resume is a person's answer there.
        while (run := helper.next_pause_or_end()) is not None:
            title = json.loads(helper.saved_input(run, "schema"))["title"]
            answered[int(title.removeprefix("Approve experiment "))].set()
            # The watcher may be first; then this resume finds the run running.
            with contextlib.suppress(NotPausedError):
                resume_flow_run(run.id, run_input={"approve": True})

    state, results, _ = run_flow(body, person)
    assert state.is_completed()
    assert len(results) == rounds
    assert all(result in (None, {"approve": True}) for result in results), results


def test_a_pause_that_times_out_is_paused_again(prefect_api: str) -> None:
    from prefect.flow_runs import resume_flow_run

    def body() -> object:
        answer = wait_for_form(
            approval_form(1), "Approve?", never, pause_timeout=timedelta(seconds=2)
        )
        return None if answer is None else entered_values(answer)

    def person(helper: Person) -> Any:
        first = helper.next_pause()
        second = helper.next_pause()  # a new form, after the first one expired
        assert second.state.state_details.pause_timeout > first.state.state_details.pause_timeout
        resume_flow_run(second.id, run_input={"approve": False, "reason": "too hot"})
        return second.id

    state, result, flow_run_id = run_flow(body, person)
    assert state.is_completed()
    assert result == {"approve": False, "reason": "too hot"}
    assert ("RUNNING", "the pause expired; pausing again") in states_of(flow_run_id)


def test_a_resume_after_the_deadline_fails_the_run_which_recovers_and_asks_again(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import resume_flow_run

    from tansaku.flows import people_form

    # The flow notices its timeout only tens of milliseconds after the server's deadline;
    # it waits here until the late resume has landed, so the test does not race it.
    late_resume_landed = threading.Event()
    after_timeout = people_form._after_timeout

    def after_the_late_resume(*args: Any) -> Any:
        assert late_resume_landed.wait(timeout=30)
        return after_timeout(*args)

    monkeypatch.setattr(people_form, "_after_timeout", after_the_late_resume)

    def body() -> object:
        answer = wait_for_form(
            approval_form(1), "Approve?", never, pause_timeout=timedelta(seconds=2)
        )
        return None if answer is None else entered_values(answer)

    def person(helper: Person) -> Any:
        run = helper.next_pause()
        deadline = run.state.state_details.pause_timeout
        while datetime.now(UTC) <= deadline:
            time.sleep(0.05)
        try:
            with pytest.raises(FlowPauseTimeout):
                resume_flow_run(run.id, run_input={"approve": True})
        finally:
            late_resume_landed.set()
        run = helper.next_pause()
        resume_flow_run(run.id, run_input={"approve": True})
        return run.id

    state, result, flow_run_id = run_flow(body, person)
    assert state.is_completed()
    assert result == {"approve": True}
    history = states_of(flow_run_id)
    failed = history.index(("FAILED", "The flow was running and never resumed."))
    assert history[failed + 1] == ("RUNNING", "the pause expired; pausing again")


@pytest.mark.timeout(60)
def test_an_error_from_answered_elsewhere_ends_the_wait_at_once(prefect_api: str) -> None:
    broken = threading.Event()

    def answered_elsewhere() -> bool:
        if broken.is_set():
            raise OSError("the ledger cannot be read")
        return False

    def body() -> str:
        # The pause lasts far longer than the test may: the error must wake it.
        with pytest.raises(OSError, match="ledger cannot be read"):
            wait_for_form(
                approval_form(1),
                "Approve?",
                answered_elsewhere,
                poll_seconds=0.05,
                pause_timeout=timedelta(minutes=10),
            )
        return "raised"

    def person(helper: Person) -> None:
        helper.next_pause()
        broken.set()

    state, result, _ = run_flow(body, person)
    assert state.is_completed()
    assert result == "raised"
