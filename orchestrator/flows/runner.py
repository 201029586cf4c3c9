"""Everything around the flow for one ``tansaku run``: run directory, lock, logs, Prefect.

Order matters for start-up time and for the promise that bad input writes nothing: the
campaign is already valid when this runs; the run directory is created and locked
first, logging is routed before Prefect is imported, the Prefect server is found (or
started in the background) while torch is still unloaded.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import httpx

from tansaku.campaign import LoadedCampaign
from tansaku.campaign.fingerprint import fingerprint
from tansaku.drivers.base import AsyncDriver, Driver
from tansaku.drivers.manual import ManualDriver
from tansaku.drivers.registry import load_driver
from tansaku.drivers.simulated import SimulatedDriver, SimulatedDriverConfig
from tansaku.errors import InputError, InstrumentError, PrefectError
from tansaku.flows.proposing import FOR_PERSON
from tansaku.ledger import (
    LEDGER_FILE,
    LEDGER_VARIABLE,
    Ledger,
    LedgerWriteError,
    PriorRecord,
    RunDirectoryLock,
    check_ledger_url,
)
from tansaku.ledger.location import POINTER_FILE

if TYPE_CHECKING:
    from tansaku.flows.prefect_server import StartingServer

LOG_FILE = "tansaku.log"
PREFECT_SHUTDOWN_SECONDS = 5.0
"""How long a finished run waits for Prefect to deliver its last events and logs."""
logger = logging.getLogger("tansaku.run")


class DryRunUnavailableError(InputError):
    """``--dry-run`` on a campaign that declares no simulator."""


class InstrumentUnavailableError(InstrumentError):
    """The instrument could not be connected to at the start of a run."""


class PortChangedError(InputError):
    """A resumed campaign finds a device on another port than the one it ran on."""


class PrefectUnavailableError(PrefectError):
    """The Prefect server stopped answering before the campaign got to its end."""


@dataclass(frozen=True)
class RunOutcome:
    stop_reason: str | None
    """Why the campaign stopped; ``None`` if it was already finished before this run."""
    prefect_ui: str | None


def with_ports(loaded: LoadedCampaign, ports: Mapping[str, str]) -> LoadedCampaign:
    """``loaded`` with its devices plugged in where ``ports`` says (``--port``).

    Raises :class:`~tansaku.errors.InputError` for a device the driver does not have.
    """
    driver = loaded.campaign.driver.with_ports(ports)
    return replace(loaded, campaign=loaded.campaign.model_copy(update={"driver": driver}))


def run_campaign(
    loaded: LoadedCampaign,
    run_dir: str | os.PathLike[str],
    dry_run: bool,
    on_ready: Callable[[Ledger, str | None], None] | None = None,
    overridden_ports: Collection[str] = (),
    ledger_url: str | None = None,
) -> RunOutcome:
    """Run (or resume) ``loaded`` in ``run_dir`` until it stops.

    ``on_ready(ledger, prefect_ui)`` is called once the ledger holds the campaign and
    before the first experiment, e.g. to start a progress display.
    ``overridden_ports`` names the devices whose port the user gave for this run
    (:func:`with_ports`): only those may differ from where the campaign last ran.
    ``ledger_url`` (``--ledger``) names a shared PostgreSQL ledger; without it, the
    campaign's ``ledger:``, then ``TANSAKU_LEDGER`` for a new run directory, then the
    ledger the run directory already has (SQLite by default).
    """
    run_dir = Path(run_dir)
    check_dry_run(loaded, dry_run)
    ledger_url = ledger_url or loaded.campaign.ledger or _ledger_from_environment(run_dir)
    if ledger_url is not None and not (run_dir / POINTER_FILE).exists():
        # Before the run directory exists: an unusable database leaves nothing behind.
        check_ledger_url(ledger_url, run_dir)
    if dry_run:
        # A rehearsal reaches no instrument, so nothing waits for anyone's approval.
        driver = loaded.campaign.driver.model_copy(update={"approve": False})
        loaded = replace(loaded, campaign=loaded.campaign.model_copy(update={"driver": driver}))
    with RunDirectoryLock(run_dir):
        _route_logs(run_dir / LOG_FILE)
        # The server starts while the ledger opens and the driver is built.
        with _prefect_api() as prefect:
            ledger = Ledger.open(run_dir, url=ledger_url)
            try:
                with ledger.hold_runner():
                    return _run_locked(
                        loaded, run_dir, dry_run, ledger, prefect, on_ready, overridden_ports
                    )
            finally:
                ledger.close()


def _ledger_from_environment(run_dir: Path) -> str | None:
    """``TANSAKU_LEDGER``, for a run directory that has no ledger yet: a facility's
    default never moves a campaign that already has its ledger."""
    if (run_dir / POINTER_FILE).exists() or (run_dir / LEDGER_FILE).exists():
        return None
    return os.environ.get(LEDGER_VARIABLE) or None


def check_dry_run(loaded: LoadedCampaign, dry_run: bool) -> None:
    """Refuse ``--dry-run`` on a campaign that declares no simulator, before anything runs."""
    campaign = loaded.campaign
    if (
        dry_run
        and campaign.dry_run is None
        and not isinstance(campaign.driver, SimulatedDriverConfig)
    ):
        raise DryRunUnavailableError(
            f"{loaded.path}: --dry-run needs a `dry_run: {{simulator: ...}}` section, "
            f"which this {campaign.driver.type} campaign lacks"
        )
    if dry_run and campaign.fidelities is not None:
        from tansaku.flows.fidelity_driver import check_fidelity_dry_run

        check_fidelity_dry_run(loaded)


def _run_locked(
    loaded: LoadedCampaign,
    run_dir: Path,
    dry_run: bool,
    ledger: Ledger,
    prefect: PrefectApi,
    on_ready: Callable[[Ledger, str | None], None] | None,
    overridden_ports: Collection[str],
) -> RunOutcome:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tansaku.flows.campaign_flow import (
        CampaignRun,
        campaign_flow,
        flow_run_name,
        stop_reason,
    )

    campaign = loaded.campaign
    existing = ledger.campaign()
    ports = {} if dry_run else campaign.driver.ports()
    _check_ports(run_dir, ledger.last_ports(), ports, overridden_ports)
    clock = (ledger.last_finished_at() or existing.clock_start) if existing else None
    driver = build_driver(loaded, run_dir, dry_run, clock)
    ledger.start_campaign(
        name=campaign.name,
        fingerprint=fingerprint(loaded),
        mode="dry-run" if dry_run else "live",
        source_path=str(loaded.path.resolve()),
        source_text=loaded.text,
        snapshot=campaign.model_dump(mode="json"),
        clock_start=driver.now(),
    )
    if loaded.campaign.prior_data is not None:
        source = str(loaded.campaign.prior_data.resolved(loaded.base_dir).resolve())
        ledger.record_prior(
            [PriorRecord(m.line, m.parameters, m.values, source) for m in loaded.prior()]
        )
    if existing is not None and existing.stop_reason is not None:
        if stop_reason(loaded, ledger.experiments(), driver.now(), existing.clock_start):
            return RunOutcome(None, prefect.ui)
        ledger.reopen()
    # An asynchronous instrument keeps running while tansaku is down: the flow waits
    # for those experiments again instead of re-running them.
    # So does a person measuring by hand.
    if existing is not None and not isinstance(driver, AsyncDriver | ManualDriver):
        # Experiments asked for by hand (`tansaku suggest`) are a person's, not the
        # instrument's: they wait for their results as they are.
        for_person = [
            r.id
            for r in ledger.experiments()
            if r.status == "running" and r.proposer.get(FOR_PERSON)
        ]
        requeued = ledger.reconcile_interrupted(
            campaign.driver.on_interrupted, driver.now(), leave=for_person
        )
        if requeued:
            logger.info(
                "experiments interrupted by the previous run: %s (%s)",
                requeued,
                campaign.driver.on_interrupted,
            )
    dead_flow_runs = ledger.close_dead_sessions()
    if on_ready is not None:
        on_ready(ledger, prefect.ui)
    session = ledger.start_session()
    ledger.record_ports(session, ports, overridden_ports)
    outcome = "crashed"
    try:
        try:
            driver.connect()
        except InstrumentError as error:
            outcome = "failed"
            raise InstrumentUnavailableError(
                f"cannot connect to the instrument: {error}. Nothing was measured; run again "
                "once it is connected."
            ) from None
        try:
            api_url = prefect.wait()
        except PrefectError:
            outcome = "failed"
            raise
        with (
            _sigterm_as_interrupt(),
            temporary_settings(updates={PREFECT_API_URL: api_url} if api_url else {}),
        ):
            _mark_crashed(dead_flow_runs)
            try:
                reason = campaign_flow.with_options(
                    flow_run_name=flow_run_name(loaded, run_dir), validate_parameters=False
                )(
                    CampaignRun(loaded, ledger, driver, session),
                    campaign=campaign.name,
                    run_dir=str(run_dir.resolve()),
                )
            except httpx.TransportError as error:
                reason = _stop_reason_without_prefect(ledger, error)
        outcome = "finished"
        return RunOutcome(reason, prefect.ui)
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise
    except LedgerWriteError:
        outcome = "failed"
        raise
    finally:
        driver.close()
        # A ledger that cannot be written cannot take the outcome either; the next run
        # finds the session open and records it as died.
        with contextlib.suppress(LedgerWriteError):
            ledger.end_session(session, outcome)


def _check_ports(
    run_dir: Path, before: Mapping[str, str], now: Mapping[str, str], overridden: Collection[str]
) -> None:
    """Refuse to resume with a device on another port than it ran on, unless told so.

    A moved device may be a rehearsal rig standing in for the real instrument, or the
    other way round: their results must not mix by accident.
    """
    moved = {
        device: (before[device], port)
        for device, port in now.items()
        if device in before and before[device] != port and device not in overridden
    }
    if moved:
        changes = "; ".join(
            f"{device} ran on {old}, the campaign now says {new}"
            for device, (old, new) in moved.items()
        )
        confirm = " ".join(f"--port {device}={new}" for device, (_, new) in moved.items())
        raise PortChangedError(
            f"{run_dir}: {changes}. Pass {confirm} to confirm the move, or --port with the old "
            "port to carry on where it ran; nothing was run."
        )


def _stop_reason_without_prefect(ledger: Ledger, error: httpx.TransportError) -> str:
    """The Prefect server went away: the ledger says whether the campaign got to its end.

    Prefect tells its server every state change; the last one, the flow's end, is the
    one it cannot do without a server. The ledger already holds the stop by then.
    """
    record = ledger.campaign()
    if record is None or record.stop_reason is None:
        raise PrefectUnavailableError(
            f"the Prefect server stopped answering ({error}); every result so far is in "
            "the ledger. Start it again (`tansaku server start`) and run the same command "
            "to resume."
        ) from None
    logger.warning(
        "the Prefect server stopped answering (%s) as the campaign ended; the ledger holds "
        "every result, the Prefect UI will still show the flow run as running",
        error,
    )
    return record.stop_reason


def deliver_prefect_backlog(timeout: float = PREFECT_SHUTDOWN_SECONDS) -> bool:
    """Give Prefect's event and log workers ``timeout`` seconds to deliver what they hold.

    Returns ``False`` when they could not (the server went away, or Ctrl-C): the caller
    may then exit without them, since the ledger holds everything the campaign needs.
    Left alone, Prefect retries a dead server at exit for every queued event, for hours.
    """
    from prefect.events.worker import EventsWorker

    try:
        _, undelivered = EventsWorker.drain_all(timeout=timeout)
    except KeyboardInterrupt:
        return False
    if undelivered:
        logger.warning(
            "Prefect could not deliver its last updates to its server within %g s; they "
            "are dropped (the ledger holds every result)",
            timeout,
        )
    return not undelivered


def _mark_crashed(flow_run_ids: list[str]) -> None:
    """Tell Prefect that the flow runs of processes found dead are not running any more."""
    if not flow_run_ids:
        return
    from prefect import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        for flow_run_id in flow_run_ids:
            client.set_flow_run_state(
                flow_run_id,
                Crashed(message="the tansaku run process died; a later run resumed the campaign"),
                force=True,
            )


def build_driver(
    loaded: LoadedCampaign, run_dir: Path, dry_run: bool, clock_start: datetime | None
) -> Driver | AsyncDriver | ManualDriver:
    """The campaign's driver, or its simulator in place of it for a dry run."""
    campaign = loaded.campaign
    if campaign.fidelities is not None:
        from tansaku.flows.fidelity_driver import routed_driver

        # The truth's driver is the campaign's own; the cheaper sources name theirs.
        truth = build_driver(
            replace(loaded, campaign=campaign.model_copy(update={"fidelities": None})),
            run_dir,
            dry_run,
            clock_start,
        )
        assert isinstance(truth, Driver), "validation refuses slots and manual drivers"
        return routed_driver(loaded, run_dir, dry_run, clock_start, truth)
    context = loaded.context(run_dir=run_dir, clock_start=clock_start)
    if dry_run and campaign.dry_run is not None:
        return SimulatedDriver.for_dry_run(
            campaign.dry_run.simulator, context, slots=campaign.driver.slots
        )
    if isinstance(campaign.driver, SimulatedDriverConfig):
        return SimulatedDriver.for_config(campaign.driver, context)
    return load_driver(campaign.driver.type)(campaign.driver, context)


def _route_logs(log_file: Path) -> None:
    """Send Prefect's and tansaku's logs, and Python warnings, to ``log_file`` only."""
    os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(Path(__file__).with_name("logging.yml"))
    os.environ["PREFECT_LOGGING_HANDLERS_FILE_FILENAME"] = str(log_file.resolve())
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's default of 5 retries with exponential back-off spends about 70 s on each
    # call to a server that died; 2 retries still ride out a server restart (~4 s).
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "2")
    logging.captureWarnings(True)
    # A log line that cannot be written (a full disk) must not print a traceback.
    logging.raiseExceptions = False


@dataclass
class PrefectApi:
    """The Prefect server this run reports to: the user's, or tansaku's background one,
    which may still be starting.

    ``ui`` is its address for people, known at once; :meth:`wait` gives the API URL to
    use (``None``: the user's configured one) once the server answers.
    """

    ui: str | None
    starting: StartingServer | None

    def wait(self) -> str | None:
        if self.starting is None:
            return None
        if self.starting.started_here:
            # The server needs seconds more: import what the first model-based proposal
            # needs meanwhile, instead of after it.
            importlib.import_module("tansaku.proposer.model")
        return self.starting.wait().api_url


@contextmanager
def _prefect_api() -> Iterator[PrefectApi]:
    """The user's Prefect server, or tansaku's background one, started if needed but not
    waited for; a server this run started and never waited for is waited for on the way
    out, so the next run finds it up (``StartingServer``)."""
    from tansaku.flows.prefect_server import configured_api_url, prefect_home, start_server

    configured = configured_api_url()
    if configured:
        yield PrefectApi(configured.removesuffix("/api"), None)
        return
    with start_server(prefect_home()) as starting:
        yield PrefectApi(starting.state.url, starting)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so the driver is closed and the ledger notes the stop."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
