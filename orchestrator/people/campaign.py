"""Ask and tell: a campaign worked by hand, from a notebook or the ``tansaku`` commands.

>>> c = tansaku.open("campaigns/film.yaml", run_dir="runs/film")
>>> [s] = c.suggest()                       # recorded as running: waiting for you
>>> c.tell(s.id, conductivity=812, stability=0.91)
>>> c.observations()                          # a DataFrame, one row per experiment

Each call opens the ledger for the moment it writes and checks what it is told against
the campaign first, so a notebook, ``tansaku tell`` in a shell and a waiting
``tansaku run`` can all work on one campaign.
"""

from __future__ import annotations

import getpass
import logging
import socket
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tansaku.campaign import LoadedCampaign, load_campaign
from tansaku.campaign.fingerprint import fingerprint
from tansaku.campaign.loading import parse_campaign
from tansaku.drivers.base import CampaignContext
from tansaku.errors import InputError
from tansaku.flows.decisions import Decision, Propose, Stop, Submit, Wait, next_step
from tansaku.flows.proposing import FOR_PERSON
from tansaku.ledger import (
    CampaignRecord,
    ExperimentRecord,
    ExperimentStateError,
    Ledger,
    LedgerChangedError,
    LedgerMissingError,
    PriorRecord,
    RunDirectoryBusyError,
    RunDirectoryLock,
    RunDirectoryUnwritableError,
    is_held,
)
from tansaku.people.answers import AnswerError, Result, check_failure, check_point, check_result
from tansaku.values import ParameterValue

if TYPE_CHECKING:
    import pandas as pd

    from tansaku.proposer import Proposer
    from tansaku.proposer.surrogate import Surrogate

logger = logging.getLogger("tansaku.people")

SUGGEST_ATTEMPTS = 3
"""How often ``suggest`` proposes again when another process wrote to the ledger while it
was proposing (its proposals would not have known of that write)."""


class DryRunLedgerError(InputError):
    """People were about to tell results to a dry run, whose results are simulated."""


@dataclass(frozen=True)
class Suggestion:
    """An experiment to run, recorded in the ledger as waiting for its result."""

    id: int
    parameters: dict[str, ParameterValue]
    method: str
    """``sobol``/``random`` (the initial design) or the acquisition that chose it."""


@dataclass(frozen=True)
class Suggested:
    """What ``suggest`` gave: new experiments, or why the campaign gives no more."""

    experiments: list[Suggestion]
    stop_reason: str | None = None
    """Why nothing more was proposed (the budget is spent, a stop rule held)."""


def default_run_dir(loaded: LoadedCampaign) -> Path:
    """The campaign's ``run_dir`` (relative to its file), or ``runs/<name>``."""
    declared = loaded.campaign.run_dir
    return loaded.base_dir / declared if declared else Path("runs") / loaded.campaign.name


def waits_for_person(record: ExperimentRecord, *, manual: bool, approve: bool) -> bool:
    """Whether ``record`` waits for a person, in a live campaign.

    Args:
        record: an experiment of the campaign.
        manual: the campaign's driver is ``manual``: a person measures everything.
        approve: the campaign's ``driver.approve``.

    Returns:
        ``True`` for an experiment in a person's hands waiting for its result (any of a
        manual campaign, one asked for with ``suggest`` otherwise) and for a proposal
        waiting for approval; an instrument's experiments are the instrument's to answer.
    """
    if record.status == "running":
        return manual or bool(record.proposer.get(FOR_PERSON))
    return record.status == "proposed" and approve and record.approved is None


def who() -> str:
    """``user@host``: who told a result or decided, for the ledger."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def open_campaign(campaign: str | Path, run_dir: str | Path | None = None) -> OpenCampaign:
    """Open ``campaign`` (a campaign YAML file) in ``run_dir`` to ask and tell by hand.

    The run directory is created with its ledger on first use; later it must hold the
    same campaign (:class:`~tansaku.ledger.LedgerMismatchError` otherwise). Raises
    :class:`~tansaku.campaign.CampaignError` listing every problem of the file.
    """
    loaded = load_campaign(Path(campaign))
    where = default_run_dir(loaded) if run_dir is None else Path(run_dir)
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunDirectoryUnwritableError(
            f"cannot create the run directory {where} ({error.strerror or error}); "
            "choose another run_dir"
        ) from None
    ledger = Ledger.open(where)
    try:
        if ledger.campaign() is None:
            # Recorded under the lock, so a `tansaku run` starting now is told to wait.
            with RunDirectoryLock(where):
                _start(ledger, loaded, clock_start=datetime.now(UTC))
        else:
            # Only checked: the file as given is recorded when it is acted on (`ask`).
            ledger.check_same_campaign(
                name=loaded.campaign.name, fingerprint=fingerprint(loaded), mode="live"
            )
    except BaseException:
        ledger.close()
        raise
    return OpenCampaign(loaded, where, ledger)


def open_run(run_dir: str | Path) -> OpenCampaign:
    """The campaign a run directory holds, as it was last run or revised.

    For telling and deciding from a shell, where only the run directory is at hand.
    Raises :class:`~tansaku.ledger.LedgerMissingError` where no campaign ran.
    """
    where = Path(run_dir)
    ledger = Ledger.open(where, create=False)
    try:
        record = ledger.campaign()
        if record is None:
            raise LedgerMissingError(f"{where} holds no campaign yet")
        loaded = parse_campaign(record.source_text, Path(record.source_path))
    except BaseException:
        ledger.close()
        raise
    return OpenCampaign(loaded, where, ledger)


def _start(ledger: Ledger, loaded: LoadedCampaign, clock_start: datetime) -> None:
    campaign = loaded.campaign
    ledger.start_campaign(
        name=campaign.name,
        fingerprint=fingerprint(loaded),
        mode="live",
        source_path=str(loaded.path.resolve()),
        source_text=loaded.text,
        snapshot=campaign.model_dump(mode="json"),
        clock_start=clock_start,
    )
    if campaign.prior_data is not None:
        source = str(campaign.prior_data.resolved(loaded.base_dir).resolve())
        ledger.record_prior(
            [PriorRecord(m.line, m.parameters, m.values, source) for m in loaded.prior()]
        )


class OpenCampaign:
    """One campaign's ledger, to ask for experiments and tell their results.

    Made by :func:`tansaku.open`; use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, loaded: LoadedCampaign, run_dir: Path, ledger: Ledger) -> None:
        self.loaded = loaded
        self.run_dir = run_dir
        self.ledger = ledger
        self._proposer: Proposer | None = None
        self._dry_run: bool | None = None  # read from the ledger once it holds the campaign

    def __enter__(self) -> OpenCampaign:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the ledger (the context manager does it too)."""
        self.ledger.close()

    def __repr__(self) -> str:
        return f"<tansaku campaign {self.loaded.campaign.name!r} in {self.run_dir}>"

    # Asking --------------------------------------------------------------------------

    def suggest(self, n: int = 1) -> list[Suggestion]:
        """Propose up to ``n`` experiments and record them as waiting for their results.

        Experiments already waiting are pending: the new ones are chosen knowing them.
        Returns fewer (or none) where the budget, a stop rule or the candidate pool
        ends sooner; :meth:`ask` says why.
        """
        return self.ask(n).experiments

    def ask(self, n: int = 1) -> Suggested:
        """Like :meth:`suggest`, also saying why no more (or fewer) were proposed."""
        if n < 1:
            raise InputError(f"-n {n}: ask for at least one experiment")
        self._refuse_while_run()
        for _ in range(SUGGEST_ATTEMPTS):
            version = self.ledger.version()
            records = self.ledger.experiments()
            decision = self._next(records, n)
            if isinstance(decision, Stop):
                self._record_stop(decision.reason)
                return Suggested([], decision.reason)
            if isinstance(decision, Wait):
                return Suggested([], decision.stop_pending or "the campaign waits for approvals")
            if isinstance(decision, Submit):
                return Suggested([], self._refuse_queued(decision))
            assert isinstance(decision, Propose)
            from tansaku.flows import proposing

            with warnings.catch_warnings(record=True) as caught:
                # A fit's numerical warnings go to the log, as in `tansaku run`.
                proposals = proposing.ask(
                    self.proposer, records, decision.count, proposing.pending(records)
                )
            for warning in caught:
                logger.info("while proposing: %s", warning.message)
            if not proposals:
                return Suggested([], decision_reason(decision.if_pool_exhausted))
            rows = proposing.as_rows(proposals, for_person=True)
            try:
                with self._writing():
                    ids = self.ledger.record_proposals(
                        rows, status="running", unless_changed_since=version
                    )
                    # The file as given now governs: a raised budget lets a stopped
                    # campaign go on.
                    _start(self.ledger, self.loaded, clock_start=self._clock_start())
                    self.ledger.reopen()
            except LedgerChangedError:
                continue
            return Suggested(
                [
                    Suggestion(i, dict(p.parameters), p.method)
                    for i, p in zip(ids, proposals, strict=True)
                ]
            )
        raise RunDirectoryBusyError(
            f"{self.run_dir}: the ledger kept changing while proposing ({SUGGEST_ATTEMPTS} "
            "tries); nothing was recorded. Run it again."
        )

    @property
    def proposer(self) -> Proposer:
        """The campaign's proposer (built on first use: it loads torch)."""
        if self._proposer is None:
            from tansaku.flows.proposing import build_proposer

            self._proposer = build_proposer(self.loaded, self.ledger.prior())
        return self._proposer

    def _stored(self) -> CampaignRecord:
        record = self.ledger.campaign()
        assert record is not None, "open_campaign and open_run find the campaign recorded"
        return record

    def _clock_start(self) -> datetime:
        return self._stored().clock_start

    def _next(self, records: Sequence[ExperimentRecord], n: int) -> Decision:
        return next_step(
            self.loaded.campaign,
            records,
            free_slots=n,
            now=datetime.now(UTC),
            clock_start=self._clock_start(),
        )

    def _refuse_queued(self, decision: Submit) -> str:
        ids = ", ".join(f"#{i}" for i in decision.experiment_ids)
        return (
            f"proposals {ids} wait to be sent to the instrument by `tansaku run`; "
            "nothing new was proposed"
        )

    def _record_stop(self, reason: str) -> None:
        """Note in the ledger that the campaign ended, as `tansaku run` would."""
        record = self.ledger.campaign()
        if record is not None and record.stop_reason is None and not is_held(self.run_dir):
            with RunDirectoryLock(self.run_dir):
                self.ledger.record_stop(reason)

    def _writing(self) -> RunDirectoryLock:
        """Hold the run directory for one write; refused while a `tansaku run` holds it."""
        self._refuse_while_run()
        return RunDirectoryLock(self.run_dir)

    def _refuse_while_run(self) -> None:
        if is_held(self.run_dir):
            raise RunDirectoryBusyError(
                f"{self.run_dir} is being run by `tansaku run`, which proposes the next "
                "experiments itself; tell it results (`tansaku tell`) instead of asking."
            )

    # Telling -------------------------------------------------------------------------

    def tell(
        self,
        experiment_id: int,
        measured: Mapping[str, object] | None = None,
        /,
        *,
        failed: str | None = None,
        actual: Mapping[str, object] | None = None,
        by: str | None = None,
        via: str = "python",
        **values: object,
    ) -> ExperimentRecord:
        """Record the result of an experiment waiting for one.

        Args:
            experiment_id: the experiment, as :meth:`suggest` or ``tansaku status`` shows.
            failed: why it failed, instead of values.
            actual: the parameter values really used, where they differ from the proposal
                (the oven reached 143 °C, not 140); the model learns this point.
            by: who tells it (default: ``user@host``).
            via: how it was told, for the ledger (``python``, ``tell``, ``prompt``, ...).
            measured, **values: every measured quantity, by name, in the campaign's
                units: as keywords, or as a mapping (for a quantity named like one of
                the keywords above).

        Raises:
            AnswerError: a quantity unknown, missing, not a finite number or outside its
                valid range, or ``actual`` outside the space; nothing is written.
            ExperimentStateError: the experiment is not waiting for a result (or someone
                else told it first).
        """
        result = self._result({**(measured or {}), **values}, failed)
        point = None
        if actual:
            point = check_point(self._context(), actual, complete=False)
        experiment_id = _id(experiment_id)
        self._refuse_dry_run()
        record = next((r for r in self.ledger.experiments() if r.id == experiment_id), None)
        driver = self.loaded.campaign.driver

        def instruments(details: Mapping[str, Any]) -> str | None:
            # Decided in the ledger's write, where the flow cannot hand it over meanwhile.
            if driver.type == "manual" or details.get(FOR_PERSON):
                return None
            return (
                f"experiment #{experiment_id} is being measured by the {driver.type} "
                "instrument, whose result the run records; only experiments in a person's "
                "hands (a manual campaign's, or asked for with `tansaku suggest`) are told"
            )

        self.ledger.tell(
            experiment_id,
            objective=result.objective(self.loaded.campaign),
            values=result.values,
            failure=result.failure,
            actual=None if point is None or record is None else {**record.parameters, **point},
            by=by or who(),
            via=via,
            refuse=instruments,
        )
        return self.experiment(experiment_id)

    def add(
        self,
        values: Mapping[str, object] | None = None,
        /,
        *,
        failed: str | None = None,
        by: str | None = None,
        **more: object,
    ) -> ExperimentRecord:
        """Record an experiment nobody proposed: its parameters and its result at once.

        It counts against the budget and teaches the model like any other. ``values``
        and the keywords hold every parameter (fixed ones may be left out) and every
        measured quantity, or only the parameters with ``failed``.
        """
        given = {**(values or {}), **more}
        context = self._context()
        parameters = {k: v for k, v in given.items() if k in context.parameters}
        measured = {k: v for k, v in given.items() if k not in context.parameters}
        result = self._result(measured, failed)
        point = check_point(context, parameters, complete=True)
        self._refuse_dry_run()
        experiment_id = self.ledger.add(
            point,
            objective=result.objective(self.loaded.campaign),
            values=result.values,
            failure=result.failure,
            by=by or who(),
            # The budget the ledger holds: a file given to `tansaku.open` with another
            # is recorded only when it is acted on (`suggest`, `tansaku run`).
            budget=int(self._stored().snapshot["budget"]["experiments"]),
        )
        return self.experiment(experiment_id)

    def approve(self, experiment_id: int, *, by: str | None = None) -> ExperimentRecord:
        """Let a proposal go to the instrument (campaigns with ``driver.approve: true``)."""
        experiment_id = _id(experiment_id)
        self._refuse_without_approval(experiment_id)
        self.ledger.decide(experiment_id, approved=True, reason=None, by=by or who())
        return self.experiment(experiment_id)

    def reject(self, experiment_id: int, reason: str, *, by: str | None = None) -> ExperimentRecord:
        """Refuse a proposal: it never runs, and the proposer avoids it like a failure."""
        experiment_id = _id(experiment_id)
        self._refuse_without_approval(experiment_id)
        if not reason.strip():
            raise AnswerError("say why the proposal is rejected, e.g. --reason 'unsafe ratio'")
        self.ledger.decide(experiment_id, approved=False, reason=reason.strip(), by=by or who())
        return self.experiment(experiment_id)

    def _refuse_without_approval(self, experiment_id: int) -> None:
        self._refuse_dry_run()
        if not self.loaded.campaign.driver.approve:
            raise ExperimentStateError(
                f"{self.run_dir}: experiment #{experiment_id} needs no approval: this "
                "campaign sends its proposals without one (set driver.approve: true, then "
                "`tansaku revise`, to approve each)"
            )

    def waits_for_person(self, record: ExperimentRecord) -> bool:
        """Whether ``record`` waits for a person's result or approval, not an instrument.

        Never in a dry run, whose simulator answers everything.
        """
        if self._dry_run is None:
            stored = self.ledger.campaign()
            self._dry_run = stored is not None and stored.mode == "dry-run"
        driver = self.loaded.campaign.driver
        manual = driver.type == "manual"
        return not self._dry_run and waits_for_person(record, manual=manual, approve=driver.approve)

    def _result(self, values: Mapping[str, object], failed: str | None) -> Result:
        if failed is not None:
            if values:
                raise AnswerError(
                    "give either the measured values or --failed with a reason, not both"
                )
            return check_failure(failed)
        return check_result(self.loaded.campaign, values)

    def _context(self) -> CampaignContext:
        return self.loaded.context()

    def _refuse_dry_run(self) -> None:
        """Real results never join simulated ones in one ledger."""
        stored = self.ledger.campaign()
        if stored is not None and stored.mode == "dry-run":
            raise DryRunLedgerError(
                f"{self.run_dir} holds a dry run, whose results come from its simulator; "
                "run the campaign for real in another --run-dir to enter results"
            )

    # Reading -------------------------------------------------------------------------

    def experiments(self) -> list[ExperimentRecord]:
        """Every experiment in id order, with its result where there is one."""
        return self.ledger.experiments()

    def experiment(self, experiment_id: int) -> ExperimentRecord:
        """The experiment with this id, with its result where there is one."""
        found = next((r for r in self.ledger.experiments() if r.id == experiment_id), None)
        if found is None:
            raise AnswerError(f"{self.run_dir} holds no experiment #{experiment_id}")
        return found

    def waiting(self) -> list[ExperimentRecord]:
        """Experiments waiting for a person: a result (running) or a decision (proposed)."""
        return [r for r in self.ledger.experiments() if self.waits_for_person(r)]

    def observations(self) -> pd.DataFrame:
        """One row per experiment: parameters, measured values, status, times."""
        import pandas as pd

        from tansaku.report import experiment_rows, summarize

        summary = summarize(self.ledger)
        return pd.DataFrame(experiment_rows(summary) if summary else [])

    def best(self) -> ExperimentRecord | None:
        """The best feasible experiment by the first objective (``None`` before any)."""
        from tansaku.report import summarize

        summary = summarize(self.ledger)
        return None if summary is None else summary.best


    # Predicting -----------------------------------------------------------------------

    def surrogate(self) -> Surrogate | None:
        """The model the campaign would propose with now, fitted to every result so far
        (``None`` before two results). It loads torch."""
        from tansaku.flows.proposing import surrogate

        return surrogate(self.proposer, self.ledger.experiments())

    def predict(
        self, points: pd.DataFrame | Sequence[Mapping[str, object]]
    ) -> pd.DataFrame:
        """The model's mean and standard deviation of each modelled quantity at ``points``.

        Args:
            points: one row (or mapping) per point, a column per parameter; a fixed
                parameter may be left out.

        Returns:
            One row per point and quantity: ``point`` (its number, from 1), the
            parameters, ``quantity``, ``unit``,
            ``mean``, ``sd`` (the model's uncertainty about the property, in its unit),
            ``extrapolating`` and its ``reason``: outside the space, or an ``sd`` above
            ``EXTRAPOLATION_SD_FRACTION`` of the measured spread
            (``tansaku.people.prediction``).

        Raises:
            PointError: a parameter missing, unknown, not a number or a category the
                space lacks; nothing is predicted.
            TypeError: ``points`` is a mapping (of columns?): pass ``pd.DataFrame(points)``.
            NoModelYetError: fewer than two results to learn from.
        """
        import pandas as pd

        from tansaku.people.prediction import NoModelYetError, PointError, predictions, read_point

        if isinstance(points, pd.DataFrame):
            rows = points.to_dict("records")
        elif isinstance(points, Mapping):
            raise TypeError(
                "give the points as a DataFrame or a list of mappings; for a mapping of "
                "columns, pass pd.DataFrame(points)"
            )
        else:
            rows = list(points)
        if not rows:
            raise AnswerError("no points to predict at: give at least one")
        campaign = self.loaded.campaign
        named = []
        for number, row in enumerate(rows, start=1):
            try:
                named.append(read_point(campaign, row))
            except AnswerError as error:
                raise PointError(number, str(error)) from None
        model = self.surrogate()
        if model is None:
            done = sum(r.status == "done" for r in self.ledger.experiments())
            raise NoModelYetError(
                f"{self.run_dir} has {done} result{'s' * (done != 1)}; the model needs at "
                "least 2 before it predicts"
            )
        return predictions(campaign, model, named)


def _id(experiment_id: object) -> int:
    """An experiment id as a notebook may give it (``7`` or ``"7"``)."""
    try:
        return int(str(experiment_id))
    except ValueError:
        raise AnswerError(f"{experiment_id!r} is not an experiment id (a whole number)") from None


def decision_reason(decision: Stop | Wait) -> str:
    """Why a decision proposes nothing: its stop reason, or the one pending."""
    return decision.reason if isinstance(decision, Stop) else (decision.stop_pending or "")
