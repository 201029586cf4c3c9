"""The campaign loop as a Prefect flow: propose, record, measure, record, until a stop rule.

The ledger is written before every step acts, so the flow can die at any point and a
later run continues from the ledger. Prefect runs the steps as tasks (retries, names,
the UI); it holds no data the campaign needs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import State

from drivers.base import Driver, Experiment, InstrumentError, Measurement
from orchestrator.campaign import LoadedCampaign
from orchestrator.ledger import ExperimentRecord, Ledger
from orchestrator.proposer import Observation, Proposal, Proposer

logger = logging.getLogger("tansaku.flow")


@task(cache_policy=NO_CACHE, persist_result=False)
def propose(
    proposer: Proposer,
    n: int,
    observations: Sequence[Observation],
    proposed_so_far: int,
    warm_start: dict | None,
) -> list[Proposal]:
    """Ask the proposer for up to ``n`` experiments."""
    return proposer.suggest(n, observations, proposed_so_far=proposed_so_far, warm_start=warm_start)


def _is_instrument_error(task: object, task_run: object, state: State) -> bool:
    del task, task_run
    return isinstance(state.result(raise_on_failure=False), InstrumentError)


@task(cache_policy=NO_CACHE, persist_result=False, retry_condition_fn=_is_instrument_error)
def measure(driver: Driver, experiment: Experiment) -> tuple[Measurement, float]:
    """Run one experiment on the instrument; returns the measurement and the wall time."""
    started = time.perf_counter()
    measurement = driver.run(experiment)
    return measurement, time.perf_counter() - started


@flow(name="tansaku-campaign", persist_result=False, log_prints=False)
def campaign_flow(loaded: LoadedCampaign, ledger: Ledger, driver: Driver, session: int) -> str:
    """Run the campaign until its budget or deadline; returns why it stopped."""
    campaign = loaded.campaign
    ledger.set_session_flow_run(session, str(flow_run.get_id()))
    campaign_record = ledger.campaign()
    assert campaign_record is not None, "the runner records the campaign before the flow starts"
    proposer = Proposer(campaign)
    measure_with_retries = measure.with_options(
        retries=campaign.driver.retries,
        # Back off: each retry waits twice as long as the one before.
        retry_delay_seconds=[
            campaign.driver.retry_delay.total_seconds() * 2**attempt
            for attempt in range(campaign.driver.retries)
        ],
    )
    while True:
        records = ledger.experiments()
        queue = [r for r in records if r.status == "proposed"]
        if not queue:
            reason = stop_reason(loaded, records, driver.now(), campaign_record.clock_start)
            if reason is not None:
                ledger.record_stop(reason)
                return reason
            queue = _propose_next(loaded, ledger, proposer, records)
        for queued in queue:
            experiment = Experiment(campaign.name, queued.id, queued.parameters)
            ledger.mark_running(experiment.id)
            state = measure_with_retries.with_options(task_run_name=f"measure-{experiment.label}")(
                driver, experiment, return_state=True
            )
            _record(ledger, campaign.objective.name, experiment.id, state, driver.now())


def _propose_next(
    loaded: LoadedCampaign, ledger: Ledger, proposer: Proposer, records: list[ExperimentRecord]
) -> list[ExperimentRecord]:
    campaign = loaded.campaign
    n = min(campaign.proposer.batch_size, campaign.budget.experiments - len(records))
    observations = [
        Observation(r.parameters, r.objective)
        for r in records
        if r.status == "done" and r.objective is not None
    ]
    warm_start = next((r.warm_start for r in reversed(records) if r.warm_start), None)
    proposals = propose.with_options(
        task_run_name=f"propose-{campaign.name}-{len(records) + 1:04d}"
    )(proposer, n, observations, len(records), warm_start)
    ids = ledger.record_proposals(
        [
            {
                "parameters": p.parameters,
                "method": p.method,
                "proposer": p.details,
                "warm_start": p.warm_start,
            }
            for p in proposals
        ]
    )
    new = set(ids)
    return [r for r in ledger.experiments() if r.id in new]


def _record(
    ledger: Ledger, objective: str, experiment_id: int, state: State, clock: datetime
) -> None:
    """Write the measurement, or the reason there is none, to the ledger."""
    if not state.is_completed():
        error = state.result(raise_on_failure=False)
        reason = (
            f"{type(error).__name__}: {error}"
            if isinstance(error, BaseException)
            else f"measurement ended {state.name}"
        )
        logger.warning("experiment %s failed: %s", experiment_id, reason)
        ledger.record_result(
            experiment_id,
            objective=None,
            values={},
            raw={},
            failure=reason,
            started_at=clock,
            finished_at=clock,
            driver_seconds=0.0,
        )
        return
    measurement, seconds = state.result()
    value = measurement.values.get(objective)
    failure = measurement.failure or _unusable(objective, value)
    ledger.record_result(
        experiment_id,
        objective=None if failure else value,
        values=measurement.values,
        raw=measurement.raw,
        failure=failure,
        started_at=measurement.started_at,
        finished_at=measurement.finished_at,
        driver_seconds=seconds,
    )


def _unusable(objective: str, value: float | None) -> str | None:
    if value is None:
        return f"the instrument returned no value for {objective!r}"
    if not isinstance(value, int | float) or not math.isfinite(value):
        return f"{objective!r} came back as {value!r}, not a finite number"
    return None


def stop_reason(
    loaded: LoadedCampaign,
    records: Sequence[ExperimentRecord],
    now: datetime,
    clock_start: datetime,
) -> str | None:
    """Why the campaign should stop before proposing more, or ``None`` to go on."""
    budget = loaded.campaign.budget
    if len(records) >= budget.experiments:
        return f"budget reached: {len(records)} of {budget.experiments} experiments"
    if budget.wall_clock is not None and now - clock_start >= budget.wall_clock:
        return f"deadline reached: {budget.wall_clock} on the instrument clock"
    return None


def flow_run_name(loaded: LoadedCampaign, run_dir: Path) -> str:
    """``<campaign>@<run folder>``: the flow run's name in the Prefect UI."""
    return f"{loaded.campaign.name}@{run_dir.name}"
