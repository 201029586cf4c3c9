"""The campaign loop as a Prefect flow: propose, record, measure, record, until a stop rule.

The ledger is written before every step acts, so the flow can die at any point and a
later run continues from the ledger. Prefect runs the steps as tasks (retries, names,
the UI); it holds no data the campaign needs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run, task_run
from prefect.states import State

from tansaku.campaign import LoadedCampaign
from tansaku.campaign.objectives import Measured
from tansaku.drivers.base import (
    AsyncDriver,
    Driver,
    Experiment,
    InstrumentError,
    Measurement,
    ParameterValue,
)
from tansaku.drivers.manual import ManualDriver
from tansaku.flows import decisions, instruments, proposing
from tansaku.flows.artifacts import CampaignArtifacts
from tansaku.flows.decisions import Propose, Stop, Submit, Wait, next_step
from tansaku.flows.instruments import Instrument
from tansaku.flows.waiting import wait_for_people
from tansaku.ledger import ExperimentRecord, Ledger, LedgerChangedError, Version
from tansaku.people.campaign import OpenCampaign
from tansaku.proposer import Proposal, Proposer

logger = logging.getLogger("tansaku.flow")


@task(cache_policy=NO_CACHE, persist_result=False)
def propose(
    proposer: Proposer,
    records: Sequence[ExperimentRecord],
    n: int,
    pending: Sequence[Mapping[str, ParameterValue]],
) -> list[Proposal]:
    """Ask the proposer for up to ``n`` experiments, knowing those still ``pending``."""
    return proposing.ask(proposer, records, n, pending)


def _is_instrument_error(task: object, task_run: object, state: State) -> bool:
    del task, task_run
    return isinstance(state.result(raise_on_failure=False), InstrumentError)


@task(cache_policy=NO_CACHE, persist_result=False, retry_condition_fn=_is_instrument_error)
def measure(driver: Driver, experiment: Experiment, ledger: Ledger) -> tuple[Measurement, float]:
    """Run one experiment on the instrument; returns the measurement and the wall time.

    Prefect retries the task after an instrument error; the ledger counts every attempt
    and keeps each failed attempt's reason, so a retried experiment shows what happened.
    """
    attempt = task_run.get_run_count()
    if attempt > 1:
        ledger.mark_running(experiment.id, note=f"attempt {attempt}: retrying")
    started = time.perf_counter()
    try:
        measurement = driver.run(experiment)
    except InstrumentError as error:
        ledger.record_failed_attempt(experiment.id, f"attempt {attempt} failed: {error}")
        raise
    return measurement, time.perf_counter() - started


@task(cache_policy=NO_CACHE, persist_result=False, retry_condition_fn=_is_instrument_error)
def submit(driver: AsyncDriver, experiments: list[Experiment]) -> None:
    """Hand experiments to an instrument that runs them in parallel."""
    driver.submit(experiments)


class CampaignRun:
    """What one ``tansaku run`` hands its flow: the campaign, its ledger and instrument.

    A plain object, not a dataclass: Prefect sends a flow's parameters to its server,
    which refuses more than 512 KB, and it shows a plain object by its name only. The
    flow's other parameters are what the Prefect UI should show.
    """

    def __init__(
        self,
        loaded: LoadedCampaign,
        ledger: Ledger,
        driver: Driver | AsyncDriver | ManualDriver,
        session: int,
    ) -> None:
        self.loaded, self.ledger, self.driver, self.session = loaded, ledger, driver, session


@flow(name="tansaku-campaign", persist_result=False, log_prints=False)
def campaign_flow(run: CampaignRun, campaign: str, run_dir: str) -> str:
    """Run the campaign until its budget or deadline; returns why it stopped.

    ``campaign`` and ``run_dir`` name the run in the Prefect UI.
    """
    del campaign, run_dir
    run.ledger.set_session_flow_run(run.session, str(flow_run.get_id()))
    campaign_record = run.ledger.campaign()
    assert campaign_record is not None, "the runner records the campaign before the flow starts"
    with instruments.for_run(
        run.loaded,
        run.ledger,
        run.session,
        dry_run=campaign_record.mode == "dry-run",
        flow_run_id=str(flow_run.get_id()),
    ) as instrument:
        loop = _Loop(run.loaded, run.ledger, campaign_record.clock_start, instrument)
        if isinstance(run.driver, ManualDriver):
            return loop.run_by_hand(run.driver)
        if isinstance(run.driver, AsyncDriver):
            return loop.run_in_parallel(run.driver)
        return loop.run_in_turn(run.driver)


class _Loop:
    """The propose → measure → record cycle, for one instrument or for parallel slots."""

    def __init__(
        self,
        loaded: LoadedCampaign,
        ledger: Ledger,
        clock_start: datetime,
        instrument: Instrument,
    ) -> None:
        self.campaign = loaded.campaign
        self.ledger = ledger
        self.instrument = instrument
        run_dir = ledger.run_dir or Path(".")
        self.people = OpenCampaign(loaded, run_dir, ledger)
        self.artifacts = CampaignArtifacts(ledger, self.campaign.name, run_dir)
        self.clock_start = clock_start
        self.proposer = proposing.build_proposer(loaded, ledger.prior())
        driver_config = self.campaign.driver
        self.retrying = {
            "retries": driver_config.retries,
            # Back off: each retry waits twice as long as the one before.
            "retry_delay_seconds": [
                driver_config.retry_delay.total_seconds() * 2**attempt
                for attempt in range(driver_config.retries)
            ],
        }

    def run_in_turn(self, driver: Driver) -> str:
        """One experiment at a time: measure each queued experiment, then propose more."""
        measure_with_retries = measure.with_options(**self.retrying)
        while True:
            version, records = self._read()
            self.artifacts.after_results(records)
            # Nothing is ever in flight here (the runner settled what a previous run left
            # running), so a batch is the instrument's free slots; the loop waits only for
            # a person to approve proposals.
            decision = next_step(
                self.campaign,
                records,
                free_slots=self.campaign.proposer.batch_size,
                now=driver.now(),
                clock_start=self.clock_start,
            )
            queue: list[ExperimentRecord] = []
            if isinstance(decision, Submit):
                queue = [r for r in records if r.id in decision.experiment_ids]
            elif isinstance(decision, Propose):
                if self._propose(records, decision.count, version):
                    continue  # the next decision sends them, or waits for their approval
                decision = decision.if_pool_exhausted
            if isinstance(decision, Stop):
                self._stop(decision.reason)
                return decision.reason
            if isinstance(decision, Wait):
                wait_for_people(self.people, records, version)
            for queued in queue:
                experiment = self._experiment(queued)
                # From running to its result in the ledger, no other campaign measures on
                # the instrument (its slots, shared in Prefect).
                with self.instrument.hold():
                    self.ledger.mark_running(experiment.id)
                    state = measure_with_retries.with_options(
                        task_run_name=f"measure-{experiment.label}"
                    )(driver, experiment, self.ledger, return_state=True)
                    if state.is_completed():
                        measurement, seconds = state.result()
                        self._record(experiment.id, measurement, seconds)
                    else:
                        self._record_error(experiment.id, state, driver.now())

    def run_in_parallel(self, driver: AsyncDriver) -> str:
        """Keep every free slot busy; record each result as it comes, in any order.

        :func:`~tansaku.flows.decisions.next_step` decides each turn from the ledger and
        the free slots; this method carries the decision out. Each new proposal accounts
        for the experiments still in flight, so parallel slots do not receive the same
        point.
        """
        submit_with_retries = submit.with_options(**self.retrying)
        for record in self.ledger.experiments():
            if record.status == "running" and not self._for_person(record):
                self._take_slot_again(record.id)
                driver.resume(self._experiment(record), record.updated_at)
        while True:
            version, records = self._read()
            self.artifacts.after_results(records)
            decision = next_step(
                self.campaign,
                records,
                free_slots=driver.free_slots(),
                now=driver.now(),
                clock_start=self.clock_start,
            )
            starting: list[ExperimentRecord] = []
            if isinstance(decision, Submit):
                starting = [r for r in records if r.id in decision.experiment_ids]
            elif isinstance(decision, Propose):
                if self._propose(records, decision.count, version):
                    continue  # the next decision sends them, or waits for their approval
                decision = decision.if_pool_exhausted
            starting = self._with_slots(starting, records)
            if starting:
                experiments = [self._experiment(r) for r in starting]
                state = submit_with_retries.with_options(
                    task_run_name=f"submit-{_labels(experiments)}"
                )(driver, experiments, return_state=True)
                for experiment in experiments:
                    if state.is_completed():
                        self.ledger.mark_running(experiment.id)
                    else:
                        self._record_error(experiment.id, state, driver.now())
                        self.instrument.give_back(experiment.id)
            elif isinstance(decision, Stop):
                self._stop(decision.reason)
                return decision.reason
            elif isinstance(decision, Wait) and not any(
                r.status == "running" and not self._for_person(r) for r in records
            ):
                # Only people can move the campaign on (an approval, a result asked for
                # by hand): the Prefect form shows meanwhile.
                wait_for_people(self.people, records, version)
            else:
                # Wait: a result frees a slot or settles a pending stop (approvals given
                # meanwhile are seen at the next turn).
                for completion in driver.collect():
                    measurement = completion.measurement
                    seconds = (measurement.finished_at - measurement.started_at).total_seconds()
                    self._record(completion.experiment_id, measurement, seconds)
                    self.instrument.give_back(completion.experiment_id)

    def run_by_hand(self, driver: ManualDriver) -> str:
        """A person measures: show each experiment (mark it running) and wait for results.

        Results come into the ledger from the terminal prompt, ``tansaku tell`` or the
        Prefect form; each turn reads the ledger, so a result told while no run was alive
        counts as soon as the campaign runs again.
        """
        while True:
            version, records = self._read()
            self.artifacts.after_results(records)
            decision = next_step(
                self.campaign,
                records,
                free_slots=driver.slots - sum(r.status == "running" for r in records),
                now=driver.now(),
                clock_start=self.clock_start,
            )
            if isinstance(decision, Submit):
                for experiment_id in decision.experiment_ids:
                    self.ledger.mark_running(experiment_id, note="shown to the person measuring")
                continue
            if isinstance(decision, Propose):
                if self._propose(records, decision.count, version, for_person=True):
                    continue
                decision = decision.if_pool_exhausted
            if isinstance(decision, Stop):
                self._stop(decision.reason)
                return decision.reason
            wait_for_people(self.people, records, version)

    def _with_slots(
        self, starting: list[ExperimentRecord], records: Sequence[ExperimentRecord]
    ) -> list[ExperimentRecord]:
        """The experiments of ``starting`` that got a slot of the instrument, in order.

        Only a campaign with nothing in flight waits for a slot: one that holds slots
        collects its results meanwhile (and so frees them), and two campaigns never wait
        for each other's slots. The rest stay queued for the next turn.
        """
        slotted: list[ExperimentRecord] = []
        for record in starting:
            if not self.instrument.take(record.id, wait=False):
                break
            slotted.append(record)
        in_flight = any(r.status == "running" and not self._for_person(r) for r in records)
        if starting and not slotted and not in_flight:
            self.instrument.take(starting[0].id, wait=True)
            slotted.append(starting[0])
        return slotted

    def _take_slot_again(self, experiment_id: int) -> None:
        """A slot for an experiment a previous run left in flight, without waiting: it
        runs on the instrument whether or not a slot is free."""
        if not self.instrument.take(experiment_id, wait=False):
            logger.warning(
                "instrument %s has no free slot for experiment %s, still in flight from the "
                "previous run: it goes on over the instrument's slots",
                self.instrument.name,
                experiment_id,
            )

    def _stop(self, reason: str) -> None:
        """Close the campaign in the ledger, then show why in the Prefect UI."""
        self.ledger.record_stop(reason)
        self.artifacts.publish()

    def _experiment(self, record: ExperimentRecord) -> Experiment:
        return Experiment(self.campaign.name, record.id, record.parameters)

    def _read(self) -> tuple[Version, list[ExperimentRecord]]:
        """The ledger's version, then its experiments: a change after the version was read
        shows as a new version, so a wait that starts from it cannot miss the change."""
        return self.ledger.version(), self.ledger.experiments()

    def _for_person(self, record: ExperimentRecord) -> bool:
        return self.people.waits_for_person(record)

    def _propose(
        self,
        records: Sequence[ExperimentRecord],
        n: int,
        version: Version,
        for_person: bool = False,
    ) -> bool:
        """Record up to ``n`` new proposals; ``False`` when the proposer has none left.

        Proposals made while a person wrote to the ledger (a result, an experiment of
        their own) are dropped, since they did not know it: the loop decides again.
        ``for_person`` marks them as a person's to measure, which they stay should the
        campaign later be revised onto an instrument.
        """
        proposals = propose.with_options(
            task_run_name=f"propose-{self.campaign.name}-{len(records) + 1:04d}"
        )(self.proposer, records, n, proposing.pending(records))
        if not proposals:
            return False
        try:
            self.ledger.record_proposals(
                proposing.as_rows(proposals, for_person=for_person),
                unless_changed_since=version,
            )
        except LedgerChangedError:
            logger.info("the ledger changed while proposing; proposing again")
        return True

    def _record(self, experiment_id: int, measurement: Measurement, seconds: float) -> None:
        """Write a measurement to the ledger; an unusable value makes it a failure."""
        failure = measurement.failure or next(
            (
                problem
                for quantity in [*self.campaign.objectives, *self.campaign.outcomes]
                if (problem := _unusable(quantity, measurement.values.get(quantity.name)))
            ),
            None,
        )
        if failure:
            logger.warning("experiment %s failed: %s", experiment_id, failure)
        self.ledger.record_result(
            experiment_id,
            objective=None if failure else measurement.values[self.campaign.objective.name],
            values=measurement.values,
            raw=measurement.raw,
            failure=failure,
            started_at=measurement.started_at,
            finished_at=measurement.finished_at,
            driver_seconds=seconds,
        )

    def _record_error(self, experiment_id: int, state: State, clock: datetime) -> None:
        """Record why a task that should have measured or submitted did not."""
        error = state.result(raise_on_failure=False)
        reason = (
            f"{type(error).__name__}: {error}"
            if isinstance(error, BaseException)
            else f"the task ended {state.name}"
        )
        logger.warning("experiment %s failed: %s", experiment_id, reason)
        self.ledger.record_result(
            experiment_id,
            objective=None,
            values={},
            raw={},
            failure=reason,
            started_at=clock,
            finished_at=clock,
            driver_seconds=0.0,
        )


def _labels(experiments: Sequence[Experiment]) -> str:
    """``film-0004`` for one experiment, ``film-0004..0006`` for several."""
    first, last = experiments[0], experiments[-1]
    return first.label if first is last else f"{first.label}..{last.id:04d}"


def _unusable(quantity: Measured, value: float | None) -> str | None:
    name = quantity.name
    if value is None:
        return f"the instrument returned no value for {name!r}"
    if not isinstance(value, int | float) or not math.isfinite(value):
        return f"{name!r} came back as {value!r}, not a finite number"
    return quantity.outside_valid(value)


def stop_reason(
    loaded: LoadedCampaign,
    records: Sequence[ExperimentRecord],
    now: datetime,
    clock_start: datetime,
) -> str | None:
    """Why the campaign should stop before proposing more, or ``None`` to go on.

    For the runner, which holds a loaded campaign: it asks before reopening a campaign
    that stopped earlier.
    """
    return decisions.stop_reason(loaded.campaign, records, now, clock_start)


def flow_run_name(loaded: LoadedCampaign, run_dir: Path) -> str:
    """``<campaign>@<run folder>``: the flow run's name in the Prefect UI."""
    return f"{loaded.campaign.name}@{run_dir.name}"
