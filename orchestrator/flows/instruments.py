"""One instrument, many campaigns: a Prefect global concurrency limit per instrument.

Every campaign that names an instrument (``driver.instrument``, or the driver's default:
its serial port, its drop folder) holds one slot of the limit ``instrument-<name>`` for
each experiment it runs on it, so campaigns started from different shells, machines or
workers never run more experiments on the instrument at once than its ``slots``. The
``instrument-`` prefix keeps these limits apart from a lab's own limits and from
Prefect's ``tag:`` limits in the UI's list.

Each slot is held under a lease that a thread renews while the experiment runs: when the
holding process dies (``kill -9``, a power cut), the Prefect server takes the slot back
once the lease has run out (:data:`LEASE_VARIABLE`), and a waiting campaign goes on.
A campaign that is run again after its process died does not wait out its own leases:
the run directory notes the leases it holds (:data:`LEASES_FILE`), and the next run,
which holds the run directory's lock, gives back what the dead one left.
A waiting campaign says so in its flow run's logs in the Prefect UI and in the ledger,
where ``tansaku status`` shows it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.context import ConcurrencyContext
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_run_logger
from starlette import status

from tansaku.campaign import LoadedCampaign
from tansaku.errors import InputError
from tansaku.ledger import Ledger

logger = logging.getLogger("tansaku.flow")

LEASE_VARIABLE = "TANSAKU_INSTRUMENT_LEASE_SECONDS"
"""Seconds a slot outlives a holder that stopped renewing it (a killed process)."""
DEFAULT_LEASE_SECONDS = 120.0
"""Renewed every 90 s (Prefect renews at 75 % of the lease), so a server that misses one
renewal for up to half a minute keeps the slot held; a dead run's slot comes back within
about two and a quarter minutes (the lease, then the server's 15 s sweep)."""
MIN_LEASE_SECONDS = 60.0
"""The shortest lease a Prefect 3.9 server grants."""
POLL_SECONDS = 2.0
"""How often a campaign waiting for the instrument asks for a slot again."""
LEASES_FILE = "instrument-leases.json"
"""In the run directory: the leases this campaign's live run holds, by id."""


class LeaseSettingError(InputError):
    """``TANSAKU_INSTRUMENT_LEASE_SECONDS`` is no number Prefect accepts."""


def limit_name(instrument: str) -> str:
    """The Prefect global concurrency limit of ``instrument``."""
    return f"instrument-{instrument}"


def lease_seconds() -> float:
    """The lease of each slot: :data:`LEASE_VARIABLE`, else :data:`DEFAULT_LEASE_SECONDS`.

    Raises :class:`LeaseSettingError` for a value Prefect's server would refuse, before
    the campaign reaches its first experiment.
    """
    given = os.environ.get(LEASE_VARIABLE)
    if not given:
        return DEFAULT_LEASE_SECONDS
    try:
        seconds = float(given)
    except ValueError:
        seconds = float("nan")
    if not MIN_LEASE_SECONDS <= seconds <= 86400:
        raise LeaseSettingError(
            f"{LEASE_VARIABLE}={given!r}: the instrument's lease must be a number of seconds "
            f"from {MIN_LEASE_SECONDS:g} (Prefect's shortest) to 86400; unset it for the "
            f"default {DEFAULT_LEASE_SECONDS:g}"
        )
    return seconds


class Instrument:
    """The slots of one instrument, as one campaign run holds them.

    A synchronous driver holds a slot around each experiment (:meth:`hold`); an
    asynchronous one takes a slot for each experiment it submits and gives it back when
    the result comes (:meth:`take`, :meth:`give_back`). Leaving the ``with`` block gives
    back every slot still held: experiments a robot still runs when tansaku stops are
    taken up again by the next run. With no name (a dry run, a simulator nobody named,
    a driver without a default) nothing is held and nothing is asked of Prefect.
    """

    def __init__(
        self,
        name: str | None,
        slots: int,
        ledger: Ledger,
        session: int,
        flow_run_id: UUID | None = None,
        run_dir: Path | None = None,
    ) -> None:
        self.name, self.slots = name, slots
        self._ledger, self._session = ledger, session
        self._leases_file = None if run_dir is None else run_dir / LEASES_FILE
        self._lease_ids: dict[int, UUID] = {}
        self._holder = (
            None if flow_run_id is None else ConcurrencyLeaseHolder(type="flow_run", id=flow_run_id)
        )
        self._lease = DEFAULT_LEASE_SECONDS
        self._held: dict[int, ExitStack] = {}
        if name is not None:
            self._lease = lease_seconds()
            self._ensure_limit(name)
        self._release_dead_leases()

    def __enter__(self) -> Instrument:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for experiment_id in list(self._held):
            self.give_back(experiment_id)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold one slot for the block, waiting (visibly) until one is free."""
        with self._wait_for_slot():
            yield

    def take(self, experiment_id: int, wait: bool) -> bool:
        """Hold a slot for ``experiment_id`` until :meth:`give_back`; ``False`` when all
        are taken and ``wait`` is false. With ``wait``, waits (visibly) for one."""
        held = self._wait_for_slot() if wait else self._try_slot()
        if held is None:
            return False
        self._held[experiment_id] = held
        return True

    def give_back(self, experiment_id: int) -> None:
        """Free the slot ``experiment_id`` holds, if it holds one."""
        held = self._held.pop(experiment_id, None)
        if held is not None:
            held.close()

    def _wait_for_slot(self) -> ExitStack:
        """One slot, held until the returned stack is closed; waits until one is free.

        While it waits, the flow run's log (the Prefect UI) and the ledger (``tansaku
        status``) say for which instrument, from the first refusal to the slot.
        """
        held = self._try_slot()
        if held is not None:
            return held
        get_run_logger().info(
            "waiting for instrument %s, held by another campaign (%d slot%s; a run that "
            "died gives its slot back within %.0f s)",
            self.name,
            self.slots,
            "" if self.slots == 1 else "s",
            self._lease + 15,
        )
        self._ledger.set_waiting(self._session, self.name)
        try:
            while held is None:
                time.sleep(POLL_SECONDS)
                held = self._try_slot()
        finally:
            self._ledger.set_waiting(self._session, None)
        get_run_logger().info("instrument %s is free: going on", self.name)
        return held

    def _try_slot(self) -> ExitStack | None:
        """One slot, held until the returned stack is closed; ``None`` if all are taken."""
        held = ExitStack()
        if self.name is None:
            return held
        context = ConcurrencyContext.get()
        before = set(context.cleanup_lease_ids) if context else set()
        # Closed last in, first out: the slot is given back, then its note forgotten.
        held.callback(self._forget_lease, id(held))
        try:
            held.enter_context(
                concurrency(
                    limit_name(self.name),
                    occupy=1,
                    max_retries=0,
                    lease_duration=self._lease,
                    strict=True,
                    holder=self._holder,
                    # A failed renewal is logged; cancelling would break off a measurement.
                    raise_on_lease_renewal_failure=False,
                )
            )
        except ConcurrencySlotAcquisitionError as error:
            if _all_taken(error):
                return None
            raise
        # Prefect notes each lease it grants in the flow's concurrency context, to give
        # it back should the flow be cancelled; the run directory notes it for a run
        # that dies outright.
        for lease_id in set(context.cleanup_lease_ids) - before if context else ():
            self._note_lease(id(held), lease_id)
        return held

    def _note_lease(self, key: int, lease_id: UUID) -> None:
        self._lease_ids[key] = lease_id
        self._write_leases()

    def _forget_lease(self, key: int) -> None:
        self._lease_ids.pop(key, None)
        self._write_leases()

    def _write_leases(self) -> None:
        """Note the leases held now in the run directory (replaced whole, never half
        written); none held, no note."""
        if self._leases_file is None:
            return
        if not self._lease_ids:
            self._leases_file.unlink(missing_ok=True)
            return
        partial = self._leases_file.with_name(f".{LEASES_FILE}.partial")
        partial.write_text(json.dumps([str(i) for i in self._lease_ids.values()]))
        partial.replace(self._leases_file)

    def _release_dead_leases(self) -> None:
        """Give back the leases a run that died left in the run directory's note.

        Only one process runs a campaign (the run directory's lock), so the one that
        noted them is gone; a lease the server already took back is released as a no-op.
        """
        if self._leases_file is None or not self._leases_file.exists():
            return
        try:
            dead = [UUID(text) for text in json.loads(self._leases_file.read_text())]
        except (ValueError, TypeError) as error:
            logger.warning(
                "%s is unreadable (%s); its leases run out by themselves", self._leases_file, error
            )
            dead = []
        if dead:
            with get_client(sync_client=True) as client:
                for lease_id in dead:
                    client.release_concurrency_slots_with_lease(lease_id)
            logger.info("gave back %d instrument slot(s) a run that died still held", len(dead))
        self._leases_file.unlink()

    def _ensure_limit(self, name: str) -> None:
        """Create the instrument's limit on first use; never let it exceed ``slots``.

        Campaigns that disagree on the slots of one instrument get the smaller number:
        taking fewer experiments at once than the instrument could is slow, more is
        unsafe. A larger ``slots`` is then a person's change (the Prefect UI, or
        ``prefect gcl update instrument-<name> --limit N``), and the log says so.
        """
        limit = limit_name(name)
        with get_client(sync_client=True) as client:
            # Read first: the server logs a traceback for every refused duplicate create.
            try:
                existing = client.read_global_concurrency_limit_by_name(limit)
            except ObjectNotFound:
                try:
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=limit, limit=self.slots)
                    )
                    return
                except ObjectAlreadyExists:  # another campaign created it meanwhile
                    existing = client.read_global_concurrency_limit_by_name(limit)
            if existing.limit > self.slots:
                client.update_global_concurrency_limit(
                    limit, GlobalConcurrencyLimitUpdate(limit=self.slots)
                )
                logger.warning(
                    "instrument %s had %d slots in Prefect; this campaign says %d, so every "
                    "campaign on it now shares %d",
                    name,
                    existing.limit,
                    self.slots,
                    self.slots,
                )
            elif existing.limit < self.slots:
                logger.warning(
                    "instrument %s has %d slot%s in Prefect (set by another campaign or a "
                    "person); this campaign says %d and uses %d. To raise it: prefect gcl "
                    "update %s --limit %d",
                    name,
                    existing.limit,
                    "" if existing.limit == 1 else "s",
                    self.slots,
                    existing.limit,
                    limit,
                    self.slots,
                )


def _all_taken(error: ConcurrencySlotAcquisitionError) -> bool:
    """Whether a refused acquisition means "every slot is held" (HTTP 423), not a fault."""
    cause = error.__cause__
    return (
        isinstance(cause, httpx.HTTPStatusError)
        and cause.response.status_code == status.HTTP_423_LOCKED
    )


def for_run(
    loaded: LoadedCampaign, ledger: Ledger, session: int, *, dry_run: bool, flow_run_id: str
) -> Instrument:
    """The instrument whose slots a campaign run holds: none in a dry run, which
    reaches no instrument."""
    driver = loaded.campaign.driver
    name = None if dry_run else driver.instrument_name(loaded.base_dir)
    return Instrument(name, driver.slots, ledger, session, UUID(flow_run_id), ledger.run_dir)
