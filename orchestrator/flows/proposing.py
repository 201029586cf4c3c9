"""Ask the proposer for the next experiments from what the ledger holds.

One path for the Prefect flow and for ``tansaku suggest``: the same observations (at the
point really measured), the same failures (rejected proposals among them) and the same
pending experiments, so a campaign asked by hand follows the rules of one that runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tansaku.campaign import LoadedCampaign
from tansaku.ledger import ExperimentRecord, PriorRecord
from tansaku.proposer import Observation, Proposal, Proposer
from tansaku.values import ParameterValue

if TYPE_CHECKING:
    from tansaku.proposer.surrogate import Surrogate


def ask(
    proposer: Proposer,
    records: Sequence[ExperimentRecord],
    n: int,
    pending: Sequence[Mapping[str, ParameterValue]],
) -> list[Proposal]:
    """Up to ``n`` new experiments, knowing every result and the ``pending`` ones.

    Failed and rejected experiments teach the proposer alike (a region to avoid); a
    rejected point is never proposed again as it was. Experiments at a point the space
    no longer has (see :func:`learnable`) stay in the ledger but teach nothing.
    """
    observations, failed = taught(proposer, records)
    rejected = {_key(r.parameters) for r in records if r.status == "rejected"}
    proposals = proposer.suggest(
        n, observations, pending, proposed_so_far=len(records), failed=failed
    )
    kept = [p for p in proposals if _key(p.parameters) not in rejected]
    if len(kept) < len(proposals):
        # Only a space of few discrete points can hit a rejected point exactly; ask once
        # more with it pending, which the acquisition steers away from.
        again = proposer.suggest(
            len(proposals) - len(kept),
            observations,
            [*pending, *(p.parameters for p in proposals)],
            proposed_so_far=len(records) + len(proposals),
            failed=failed,
        )
        kept += [p for p in again if _key(p.parameters) not in rejected]
    return kept


def surrogate(proposer: Proposer, records: Sequence[ExperimentRecord]) -> Surrogate | None:
    """The model the campaign's next proposal would use, fitted to what ``records`` teach;
    ``None`` before two results."""
    observations, failed = taught(proposer, records)
    return proposer.surrogate(observations, failed, proposed_so_far=len(records))


def taught(
    proposer: Proposer, records: Sequence[ExperimentRecord]
) -> tuple[list[Observation], list[Mapping[str, ParameterValue]]]:
    """What ``records`` teach the proposer: the results, and the failed or rejected points."""
    learned = learnable(proposer, records)
    observations = [
        Observation(r.point, r.objective, dict(r.values or {}))
        for r in learned
        if r.status == "done" and r.objective is not None
    ]
    failed = [r.point for r in learned if r.status in ("failed", "rejected")]
    return observations, failed


def learnable(proposer: Proposer, records: Sequence[ExperimentRecord]) -> list[ExperimentRecord]:
    """The experiments the proposer's model can learn from: those whose point it encodes.

    After a revision dropped a categorical value, the experiments made with it have no
    column value left to encode; points outside narrowed bounds are kept, since the GP
    learns from inputs outside its normalised [0, 1] as well.
    """
    return [r for r in records if proposer.encoding.encodes(r.point)]


def pending(records: Sequence[ExperimentRecord]) -> list[Mapping[str, ParameterValue]]:
    """Points proposed or in flight without a result yet: new proposals must know them."""
    return [r.point for r in records if r.status in ("proposed", "running")]


def build_proposer(loaded: LoadedCampaign, prior: Sequence[PriorRecord]) -> Proposer:
    """The campaign's proposer, knowing its candidates, descriptors and prior data."""
    if loaded.campaign.fidelities is not None:
        from tansaku.proposer.fidelity import MultiFidelityProposer

        return MultiFidelityProposer(loaded.campaign)
    objective = loaded.campaign.objective.name
    return Proposer(
        loaded.campaign,
        loaded.candidates(),
        loaded.descriptors(),
        prior=[Observation(r.parameters, r.values[objective], r.values) for r in prior],
        transfer=loaded.transfer(),
    )


FOR_PERSON = "for_person"
"""Marks, in an experiment's proposer details, one handed to a person (by ``suggest``, or
by a manual campaign): whatever the campaign's instrument, its result comes from a
person, and no instrument takes it over."""


def as_rows(proposals: Sequence[Proposal], for_person: bool = False) -> list[dict[str, Any]]:
    """Proposals in the form :meth:`~tansaku.ledger.Ledger.record_proposals` takes;
    ``for_person`` marks them as a person's to measure."""
    mark = {FOR_PERSON: True} if for_person else {}
    return [
        {"parameters": p.parameters, "method": p.method, "proposer": {**p.details, **mark}}
        for p in proposals
    ]


def _key(point: Mapping[str, ParameterValue]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, str(value)) for name, value in point.items()))
