"""Waiting for a person: a form in the Prefect UI that other answer routes can close.

While a campaign waits for a person (to enter a measured result, to approve a proposal),
the answer can come by several routes: the form Prefect shows on a paused flow run, a
``tansaku tell`` from another shell that writes straight into the campaign's ledger, or
a terminal prompt in the same process. Prefect's ``pause_flow_run`` only knows its own
route: it blocks the flow until the run is resumed through Prefect, and nothing written
to the ledger wakes it. So :func:`wait_for_form` pauses with the form and, beside the
pause, runs a watcher thread that asks the caller's ``answered_elsewhere`` every
``poll_seconds``; once that says yes, the watcher resumes the run itself with an empty
input, and the function returns ``None``: "look in the ledger, the answer is there".

The empty-input convention: every field of a form is optional, so ``{}`` is a valid
input and means *nothing was entered here*. :func:`wait_for_form` never returns an empty
answer: it returns a form with at least one field set (a real answer through Prefect),
or ``None`` (answered elsewhere). A person who submits the form empty while nothing has
arrived by another route is asked again (a new pause).

What Prefect 3.9.1 does, measured against a running server, and what this module does
about it:

- A pause that times out leaves the run *Paused* on the server with an expired
  deadline. A second ``pause_flow_run`` is refused ("Cannot pause flows that are not
  currently running", raised as Prefect's ``Pause`` signal), and the flow cannot even
  complete: ending it turns the run *Failed* ("never resumed"). So after a timeout the
  run is put back into *Running* with a forced state change, then paused again under a
  new pause key.
- A resume that reaches the server after the deadline is rejected and turns the run
  *Failed* ("The flow was running and never resumed."); the client gets
  ``FlowPauseTimeout``. That run is recovered the same way. The watcher does not resume
  a pause that is about to expire; the timeout path looks at ``answered_elsewhere``.
- Two resumes at once (a person and the watcher): the server takes the first; a later
  one finds the run no longer paused and is dropped (``NotPausedError`` in the client,
  or a silent abort when both passed the client's check). Only the first one's input
  is stored, so whichever resumed first wins. Under that contention the SQLite server
  may answer the loser 503, and Prefect's client then sends the same resume again a
  moment later, to whatever pause the run is in by then: the watcher's resumes are
  finished before :func:`wait_for_form` returns, so none reaches a later form.
- A resume with ``{}`` stores no input; the flow then loads the form with its defaults,
  all ``None``.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from uuid import UUID, uuid4

import httpx
import pydantic
from prefect import get_client
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout, NotPausedError
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput, keyset_from_paused_state
from prefect.states import Paused, Running

from tansaku.campaign.fields import shown
from tansaku.errors import PrefectError

logger = logging.getLogger("tansaku.flow")

NOTHING_ENTERED: dict[str, Any] = {}
"""The input the watcher resumes a paused run with: no field set, "answered elsewhere"."""

FAILURE_FIELD = "failed"
"""The result form's field for "the experiment failed, and why"."""

EXPIRY_MARGIN = timedelta(seconds=2)
"""The watcher leaves a pause this close to its deadline alone (a resume that arrived
after it would turn the run Failed): the timeout path asks ``answered_elsewhere`` then."""

# Prefect's wording for a run it failed because a resume came after the pause's deadline
# (server/orchestration/core_policy.py, HandleResumingPausedFlows). A Failed state with
# any other message was set by someone on purpose and is left alone.
_LATE_RESUME_FAILURE = "and never resumed."


class FormWaitEnded(PrefectError):
    """The paused flow run left its pause other than by a resume (cancelled, crashed):
    nobody can answer the form any more."""


@dataclass(frozen=True)
class FormQuantity:
    """One quantity a person enters on the result form.

    Attributes:
        name: The quantity's name, also the form's field name (the key of its value).
        unit: Its unit, shown in the field's title; ``None`` for a plain number.
        valid: The range a real reading lies in (ends included); the form refuses a value
            outside it. ``None``: any number.
    """

    name: str
    unit: str | None = None
    valid: tuple[float, float] | None = None


def result_form(experiment_id: int, quantities: Sequence[FormQuantity]) -> type[RunInput]:
    """The form a person fills in with the measured result of one experiment.

    Args:
        experiment_id: The experiment's number in the campaign; it names the form
            ("Result of experiment 7").
        quantities: What was measured, one optional number field each, in this order,
            keyed by the quantity's name.

    Returns:
        A pydantic model (a Prefect ``RunInput``) with one ``float | None`` field per
        quantity and ``failed: str | None`` (why the experiment failed). Every field
        defaults to ``None``, so an empty input is valid (see the module docstring).
        Read what was entered with :func:`entered_values`.

    Raises:
        ValueError: Two quantities share a name, or one is named ``failed``.
    """
    names = [quantity.name for quantity in quantities]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"quantities named more than once: {', '.join(repeated)}")
    if FAILURE_FIELD in names:
        raise ValueError(f"a quantity named {FAILURE_FIELD!r} clashes with the failure field")
    fields: dict[str, Any] = {}
    for position, quantity in enumerate(quantities):
        title = f"{quantity.name} ({quantity.unit})" if quantity.unit else quantity.name
        description = None
        low = high = None
        if quantity.valid is not None:
            low, high = quantity.valid
            description = f"Valid range: [{shown(low)}, {shown(high)}]" + (
                f" {quantity.unit}" if quantity.unit else ""
            )
        field = pydantic.Field(
            None,
            title=title,
            description=description,
            ge=low,
            le=high,
            allow_inf_nan=False,
            alias=quantity.name,
        )
        fields[_attribute_name(quantity.name, position)] = (float | None, field)
    fields[FAILURE_FIELD] = (
        str | None,
        pydantic.Field(None, title="If the experiment failed: why"),
    )
    return pydantic.create_model(
        f"Result of experiment {experiment_id}", __base__=RunInput, **fields
    )


def approval_form(experiment_id: int) -> type[RunInput]:
    """The form a person answers to approve or reject a proposed experiment.

    Args:
        experiment_id: The proposed experiment's number; it names the form
            ("Approve experiment 7").

    Returns:
        A pydantic model (a Prefect ``RunInput``) with ``approve: bool | None`` and
        ``reason: str | None`` (why it is rejected), both defaulting to ``None``.
    """
    return pydantic.create_model(
        f"Approve experiment {experiment_id}",
        __base__=RunInput,
        approve=(bool | None, pydantic.Field(None, title="Approve this experiment")),
        reason=(str | None, pydantic.Field(None, title="If rejected: why")),
    )


def entered_values(answer: pydantic.BaseModel) -> dict[str, Any]:
    """What a person entered on a form: the fields that are set, by their form names.

    Args:
        answer: A form as :func:`wait_for_form` returns it.

    Returns:
        Field name (a quantity's name, ``failed``, ``approve``, ``reason``) → value, for
        each field that is not ``None``; empty when nothing was entered.
    """
    return answer.model_dump(by_alias=True, exclude_none=True)


def wait_for_form(
    form: type[pydantic.BaseModel],
    description: str,
    answered_elsewhere: Callable[[], bool],
    *,
    poll_seconds: float = 1.0,
    pause_timeout: timedelta = timedelta(hours=1),
) -> pydantic.BaseModel | None:
    """Pause the current flow run with ``form`` until a person answers, here or elsewhere.

    Call it inside a running (synchronous) flow. Blocks until one of:

    - a person resumes the run through Prefect (the UI's form, ``resume_flow_run``) with
      at least one field set: returns that input, an instance of ``form``;
    - ``answered_elsewhere()`` says yes: the watcher resumes the run with an empty input
      and the function returns ``None``. Whichever resumed first wins; a person's input
      that came first is returned even if an answer arrived elsewhere too, so the caller
      settles that (the first answer in the ledger, say).

    A form submitted empty, with nothing answered elsewhere, is asked again. A pause that
    times out is paused again, not failed. The watcher thread has stopped when this
    returns or raises.

    Args:
        form: The form: a pydantic model whose fields all default (to ``None``), e.g.
            from :func:`result_form` or :func:`approval_form`. Its name is the form's
            title in the UI.
        description: Markdown shown above the form.
        answered_elsewhere: Says whether the answer has arrived by another route (the
            ledger). Asked from the watcher thread as well as from this one, so it must
            be safe to call from any thread (open its own database connection), and
            cheap: it is asked every ``poll_seconds``. An exception from it ends the
            wait and is raised here.
        poll_seconds: How often the watcher asks ``answered_elsewhere``, in seconds.
        pause_timeout: How long one pause lasts before it is renewed (the deadline the UI
            shows); at least one second.

    Returns:
        The submitted form, or ``None`` when the answer arrived elsewhere.

    Raises:
        RuntimeError: Not called inside a flow run.
        TypeError: ``form`` has a field without a default.
        ValueError: ``pause_timeout`` is under a second, or ``poll_seconds`` not positive.
        FormWaitEnded: The run left its pause by another way (cancelled, crashed).
    """
    required = [name for name, field in form.model_fields.items() if field.is_required()]
    if required:
        raise TypeError(
            f"every field of {form.__name__!r} needs a default, so that an empty input "
            f"means 'nothing entered'; these have none: {', '.join(required)}"
        )
    timeout_s = int(pause_timeout.total_seconds())
    if timeout_s < 1:
        raise ValueError(f"pause_timeout must be at least one second, got {pause_timeout}")
    if poll_seconds <= 0:
        raise ValueError(f"poll_seconds must be positive, got {poll_seconds}")
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("wait_for_form must be called inside a running flow")
    paused_form = _run_input(form).with_initial_data(description=description)
    if answered_elsewhere():
        return None
    flow_run_id = context.flow_run.id

    with _Watcher(flow_run_id, answered_elsewhere, poll_seconds) as watcher:
        while True:
            watcher.raise_if_failed()
            # A key of our own per pause: the server refuses a key it has seen on this
            # run, and the timeout path needs the key to find a last-moment answer.
            key = f"tansaku-{uuid4().hex}"
            try:
                answer = pause_flow_run(
                    wait_for_input=paused_form, timeout=timeout_s, poll_interval=1, key=key
                )
            except FlowPauseTimeout:
                answer = _after_timeout(flow_run_id, paused_form, key)
            watcher.raise_if_failed()
            if answer is not None and entered_values(answer):
                return answer
            if watcher.resumed or answered_elsewhere():
                return None
            if answer is not None:
                logger.info("the form %r was submitted empty; asking again", form.__name__)


def _run_input(form: type[pydantic.BaseModel]) -> type[RunInput]:
    """``form`` as a Prefect ``RunInput``, keeping its name (the form's title in the UI).

    Prefect's own ``subclass_from_base_model_type`` appends "RunInput" to the name.
    """
    if issubclass(form, RunInput):
        return form
    return pydantic.create_model(form.__name__, __base__=(RunInput, form))


def _attribute_name(name: str, position: int) -> str:
    """The model attribute for the quantity ``name``: the name itself where pydantic and
    Prefect allow it; the form keys its value by ``name`` in either case (an alias)."""
    unusable = name.startswith(("_", "model_")) or hasattr(RunInput, name)
    return f"quantity_{position}" if unusable else name


def _after_timeout(
    flow_run_id: UUID, paused_form: type[RunInput], key: str
) -> pydantic.BaseModel | None:
    """Make the run resumable again after the pause under ``key`` timed out.

    Returns:
        The input of a resume that reached the server just before the deadline but after
        Prefect's last look (the run is already Running); ``None`` otherwise.

    Raises:
        FormWaitEnded: The run is neither paused, running nor failed by a late resume.
    """
    with get_client(sync_client=True) as client:
        state = _state(client.read_flow_run(flow_run_id).state)
        if state.is_running():
            return paused_form.load(
                keyset_from_paused_state(Paused(pause_key=key)), flow_run_id=flow_run_id
            )
        expired = state.is_paused() and state.state_details.pause_key == key
        late_resume = state.is_failed() and (state.message or "").endswith(_LATE_RESUME_FAILURE)
        if not (expired or late_resume):
            raise FormWaitEnded(
                f"the flow run left its pause as {state.type.value} "
                f"({state.message or 'no message'}); the form can no longer be answered"
            )
        # Forced: the server refuses every transition out of an expired pause (a resume
        # fails the run) and out of Failed; the flow itself is alive and goes on.
        client.set_flow_run_state(
            flow_run_id, Running(message="the pause expired; pausing again"), force=True
        )
    logger.info("the pause for a person's answer expired; pausing again")
    return None


def _state(state: State | None) -> State:
    if state is None:
        raise FormWaitEnded("the flow run has no state; the form can no longer be answered")
    return state


class _Watcher:
    """The thread that resumes the paused run once ``answered_elsewhere`` says yes.

    It runs in a copy of the caller's context, so it reaches the same Prefect API (a
    ``temporary_settings`` block does not cross into a plain thread). Leaving the ``with``
    block stops it and waits for it, so no resume it started can reach a later pause.
    """

    def __init__(
        self, flow_run_id: UUID, answered_elsewhere: Callable[[], bool], poll_seconds: float
    ) -> None:
        self._flow_run_id = flow_run_id
        self._answered_elsewhere = answered_elsewhere
        self._poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._failed = threading.Event()
        self._resumed = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tansaku-form")
        self._future: Future[None] | None = None

    @property
    def resumed(self) -> bool:
        """Whether the watcher resumed the run (its resume was accepted or dropped)."""
        return self._resumed.is_set()

    def __enter__(self) -> _Watcher:
        context = contextvars.copy_context()
        self._future = self._executor.submit(context.run, self._run)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._executor.shutdown(wait=True)

    def raise_if_failed(self) -> None:
        """Raise what ended the watcher, if ``answered_elsewhere`` raised."""
        if self._failed.is_set() and self._future is not None:
            self._stop.set()
            self._future.result()

    def _run(self) -> None:
        finished = False
        try:
            self._watch()
            finished = True
        finally:
            if not finished:
                # Wake the flow so that wait_for_form raises the error now, not at the
                # pause's deadline; the executor's future keeps the exception.
                self._failed.set()
                while not self._stop.is_set() and not self._try_resume():
                    self._stop.wait(self._poll_seconds)

    def _watch(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            if self._answered_elsewhere() and self._try_resume():
                self._resumed.set()
                return

    def _try_resume(self) -> bool:
        """Resume the run with "nothing entered" if it can be; whether it was tried.

        ``False`` while the run is not (yet) paused, its form not saved yet, its pause
        about to expire, or the server not answering: the next poll tries again.
        """
        try:
            if not self._resumable():
                return False
            resume_flow_run(self._flow_run_id, run_input=NOTHING_ENTERED)
        except NotPausedError:
            # A person resumed first (or the pause ended): their answer wins.
            return False
        except FlowPauseTimeout:
            # Arrived after the deadline: the run is Failed and the flow's timeout path
            # recovers it and asks answered_elsewhere itself.
            return False
        except httpx.HTTPError as error:
            logger.warning("could not resume the paused flow run (%s); trying again", error)
            return False
        return True

    def _resumable(self) -> bool:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(self._flow_run_id).state
            if state is None or not state.is_paused():
                return False
            details = state.state_details
            if (
                details.pause_timeout is not None
                and details.pause_timeout - datetime.now(UTC) < EXPIRY_MARGIN
            ):
                return False
            keyset = details.run_input_keyset
            if keyset is None:
                return True
            # Prefect saves the form's schema just after the run enters Paused; a resume
            # in between is rejected ("Run input schema not found").
            try:
                client.read_flow_run_input(self._flow_run_id, keyset["schema"])
            except httpx.HTTPStatusError as error:
                if error.response.status_code == httpx.codes.NOT_FOUND:
                    return False
                raise
        return True
