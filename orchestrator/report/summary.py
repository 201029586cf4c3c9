"""What a campaign's ledger says, summarised for people: progress, best result, calendar."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tansaku.campaign.budget import UNCERTAINTY_DETAIL
from tansaku.campaign.expressions import OutcomeConstraint, parse_outcome_constraint
from tansaku.campaign.fidelities import AT_TARGET, FIDELITY
from tansaku.campaign.objectives import Objective
from tansaku.ledger import CampaignRecord, ExperimentRecord, Ledger, PriorRecord, RevisionRecord


@dataclass(frozen=True)
class CampaignSummary:
    """A campaign at a glance, read from its ledger alone (no campaign file needed)."""

    record: CampaignRecord
    experiments: list[ExperimentRecord]
    prior: list[PriorRecord] = field(default_factory=list)
    """Measurements made before the campaign (its prior data): not among ``experiments``."""
    revisions: list[RevisionRecord] = field(default_factory=list)
    """Changes to the campaign's settings made mid-campaign (``tansaku revise``)."""

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def budget(self) -> int:
        return int(self.record.snapshot["budget"]["experiments"])

    @property
    def objective(self) -> str:
        return str(self.record.snapshot["objectives"][0]["name"])

    @property
    def goal(self) -> str:
        """``maximize``, ``minimize`` or ``target 1.4``."""
        objective = self.record.snapshot["objectives"][0]
        if objective["goal"] == "target":
            return f"target {objective['target']:g}"
        return str(objective["goal"])

    @property
    def fidelities(self) -> dict[str, float]:
        """Source name → cost of a multi-fidelity campaign; empty for others."""
        sources = self.record.snapshot.get("fidelities") or {}
        return {name: float(source["cost"]) for name, source in sources.items()}

    @property
    def cost_spent(self) -> float:
        """Cost units the experiments counted against the budget used (rejected ones
        never reached an instrument)."""
        fidelities = self.fidelities
        dearest = max(fidelities.values(), default=0.0)
        return sum(
            fidelities.get(str(e.point.get(FIDELITY)), dearest)
            for e in self.experiments
            if e.status != "rejected"
        )

    @property
    def parameter_names(self) -> list[str]:
        return [p["name"] for p in self.record.snapshot["space"]]

    @property
    def counts(self) -> Counter[str]:
        """Experiments by status: proposed, running, done, failed."""
        return Counter(e.status for e in self.experiments)

    @property
    def finished(self) -> int:
        """Experiments with a result, failed ones included: what the budget counts."""
        return self.counts["done"] + self.counts["failed"]

    @property
    def objectives(self) -> list[Objective]:
        return [Objective.model_validate(o) for o in self.record.snapshot["objectives"]]

    @property
    def measured(self) -> list[str]:
        """Every quantity the instrument reports: objectives, then other outcomes."""
        outcomes = self.record.snapshot.get("outcomes", [])
        return [o.name for o in self.objectives] + [o["name"] for o in outcomes]

    @property
    def outcome_constraints(self) -> list[OutcomeConstraint]:
        return [
            parse_outcome_constraint(text, self.measured)
            for text in self.record.snapshot.get("outcome_constraints", [])
        ]

    @property
    def feasible(self) -> list[ExperimentRecord]:
        """Successful experiments that meet every outcome constraint."""
        return feasible_experiments(self.experiments, self.outcome_constraints)

    @property
    def best(self) -> ExperimentRecord | None:
        """The best feasible experiment by the first objective (the earliest, on ties)."""
        return best_experiment(self.experiments, self.objectives[0], self.outcome_constraints)

    @property
    def pareto_front(self) -> list[ExperimentRecord]:
        """Feasible experiments no other feasible one beats on every objective at once."""
        objectives = self.objectives
        feasible = self.feasible
        scores = {
            e.id: [o.score(float((e.values or {})[o.name])) for o in objectives] for e in feasible
        }

        def dominated(e: ExperimentRecord) -> bool:
            return any(
                all(a >= b for a, b in zip(scores[other.id], scores[e.id], strict=True))
                and scores[other.id] != scores[e.id]
                for other in feasible
            )

        return [e for e in feasible if not dominated(e)]

    @property
    def best_prior(self) -> PriorRecord | None:
        """The best prior measurement by the first objective, constraints ignored."""
        if not self.prior:
            return None
        objective = self.objectives[0]
        return max(self.prior, key=lambda p: objective.score(p.values[objective.name]))

    @property
    def uncertainties(self) -> list[tuple[int, float]]:
        """``(experiment id, relative sd)`` of each proposal of a learning campaign, in
        the order proposed: the model's standard deviation averaged over the space, as a
        fraction of the measured values' standard deviation, when it chose that experiment
        (what ``stop.uncertainty_below`` reads). Empty before the first model-based one."""
        return [
            (e.id, float(value))
            for e in self.experiments
            if isinstance(value := e.proposer.get(UNCERTAINTY_DETAIL), int | float)
        ]

    @property
    def acquisitions(self) -> Counter[str]:
        """How many proposals each acquisition function chose (``qLogNoisyExpected
        Improvement``, ``IntegratedVariance``...); initial-design proposals record none."""
        return Counter(
            str(name) for e in self.experiments if (name := e.proposer.get("acquisition"))
        )

    @property
    def calendar(self) -> tuple[datetime, datetime] | None:
        """Instrument clock at the campaign's start and at its latest result."""
        ends = [e.finished_at for e in self.experiments if e.finished_at is not None]
        return (self.record.clock_start, max(ends)) if ends else None

    @property
    def instrument_time(self) -> timedelta:
        """Time the instrument spent on experiments (its own clock)."""
        return sum(
            (
                e.finished_at - e.started_at
                for e in self.experiments
                if e.finished_at is not None and e.started_at is not None
            ),
            timedelta(0),
        )


def feasible_experiments(
    experiments: Sequence[ExperimentRecord], constraints: Sequence[OutcomeConstraint]
) -> list[ExperimentRecord]:
    """Successful experiments that meet every outcome constraint; in a multi-fidelity
    campaign, those made at the target source (a cheap simulation's value is not the
    objective's)."""
    return [
        e
        for e in experiments
        if e.status == "done"
        and e.objective is not None
        and e.proposer.get(AT_TARGET, True) is not False
        and all(c.is_satisfied(e.values or {}) for c in constraints)
    ]


def best_experiment(
    experiments: Sequence[ExperimentRecord],
    objective: Objective,
    constraints: Sequence[OutcomeConstraint],
) -> ExperimentRecord | None:
    """The best feasible experiment by ``objective``, the earliest on ties.

    The one definition of "best" that the stop rules, ``status``, ``export`` and reports
    share: an experiment that misses an outcome constraint is never the best.
    """
    feasible = feasible_experiments(experiments, constraints)
    if not feasible:
        return None
    return max(feasible, key=lambda e: (objective.score(float(e.objective or 0.0)), -e.id))


def summarize(ledger: Ledger) -> CampaignSummary | None:
    """The summary of the campaign in ``ledger``; ``None`` before it is recorded."""
    record = ledger.campaign()
    if record is None:
        return None
    return CampaignSummary(record, ledger.experiments(), ledger.prior(), ledger.revisions())


def experiment_rows(summary: CampaignSummary) -> list[dict[str, Any]]:
    """One flat row per experiment: parameters, measured values, status, times, how chosen."""
    pareto = {e.id for e in summary.pareto_front} if len(summary.objectives) > 1 else set()
    # A learning campaign's proposals say how unsure the model was; others have no column.
    uncertain = bool(summary.uncertainties)
    rows = []
    for e in summary.experiments:
        row: dict[str, Any] = {
            "experiment": e.id,
            "batch": e.batch,
            "method": e.method,
            "status": e.status,
            "attempts": e.attempts,
        }
        # The point really measured; a proposal a person did differently keeps its own.
        row.update({name: e.point.get(name) for name in summary.parameter_names})
        if summary.fidelities:
            # Which source measured it, and what it cost (multi-fidelity campaigns).
            source = e.point.get(FIDELITY)
            row[FIDELITY] = source
            row["cost"] = summary.fidelities.get(str(source))
        row.update({name: (e.values or {}).get(name) for name in summary.measured})
        if len(summary.objectives) > 1:
            row["pareto_optimal"] = e.id in pareto
        row.update(
            {
                "failure": e.failure,
                "proposed_as": None if e.actual is None else _as_text(e.parameters),
                "rejected_because": e.decision_reason if e.status == "rejected" else None,
                "proposed_at": e.proposed_at,
                "started_at": e.started_at,
                "finished_at": e.finished_at,
                "driver_seconds": e.driver_seconds,
                "acquisition": e.proposer.get("acquisition"),
                "acquisition_value": e.proposer.get("acquisition_value"),
            }
        )
        if uncertain:
            row[UNCERTAINTY_DETAIL] = e.proposer.get(UNCERTAINTY_DETAIL)
        rows.append(row)
    return rows


def _as_text(point: dict[str, Any]) -> str:
    return " ".join(f"{name}={value}" for name, value in point.items())
