"""The parallel loop's next step, decided from the ledger, the free slots and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tansaku.campaign.loading import parse_campaign
from tansaku.campaign.schema import Campaign
from tansaku.flows.decisions import (
    POOL_EXHAUSTED,
    Decision,
    Propose,
    Stop,
    Submit,
    Wait,
    next_step,
)
from tansaku.ledger import ExperimentRecord
from tansaku.ledger.ledger import Status

START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def campaign_with(
    budget: str = "{experiments: 5}", stop: str = "{}", proposer: str = "{}", slots: int = 3
) -> Campaign:
    text = f"""
name: decisions
budget: {budget}
stop: {stop}
proposer: {proposer}
space:
  - {{name: x, type: continuous, bounds: [0, 1]}}
objectives:
  - {{name: y, goal: maximize}}
driver:
  type: simulated
  slots: {slots}
  simulator: {{type: function, function: "math:sin"}}
"""
    return parse_campaign(text, Path("decisions.yaml")).campaign


def ledger(*experiments: float | str | None) -> list[ExperimentRecord]:
    """Experiments in id order: a number is a done one with that value, ``None`` a failed
    one, ``"running"`` one in flight on the instrument, ``"proposed"`` one not yet started.
    """
    return [
        ExperimentRecord(
            id=i,
            batch=i,
            parameters={"x": i / 10},
            method="gp",
            proposer={},
            status=_status(experiment),
            attempts=1,
            proposed_at=START,
            updated_at=START,
            objective=experiment if isinstance(experiment, float) else None,
            values={"y": experiment} if isinstance(experiment, float) else None,
        )
        for i, experiment in enumerate(experiments, start=1)
    ]


def _status(experiment: float | str | None) -> Status:
    if experiment is None:
        return "failed"
    return experiment if isinstance(experiment, str) else "done"


def decide(
    campaign: Campaign, records: list[ExperimentRecord], free_slots: int, now: datetime = START
) -> Decision:
    return next_step(campaign, records, free_slots=free_slots, now=now, clock_start=START)


BUDGET_REACHED = "budget reached: 5 of 5 experiments"
TARGET = "{objective_reaches: 0.9}"
TARGET_REACHED = "target reached: y = 0.95 at #2 (stop.objective_reaches 0.9)"
STALLED = "no improvement for 2 experiments: the best y is still 0.8 from #1"
DEADLINE_REACHED = "deadline reached: 2:00:00 on the instrument clock"


@pytest.mark.parametrize(
    ("campaign", "records", "free_slots", "expected"),
    [
        pytest.param(
            campaign_with(),
            ledger(),
            3,
            Propose(count=3, if_pool_exhausted=Stop(POOL_EXHAUSTED)),
            id="a new campaign fills every free slot",
        ),
        pytest.param(
            campaign_with(),
            ledger(0.1, 0.2, 0.3),
            3,
            Propose(count=2, if_pool_exhausted=Stop(POOL_EXHAUSTED)),
            id="budget reached mid-batch: only what the budget has left is proposed",
        ),
        pytest.param(
            campaign_with(),
            ledger(0.1, 0.2, 0.3, 0.4, 0.5),
            3,
            Stop(BUDGET_REACHED),
            id="budget used up and nothing in flight: stop",
        ),
        pytest.param(
            campaign_with(),
            ledger(0.1, 0.2, 0.3, "running", "running"),
            1,
            Wait(stop_pending=BUDGET_REACHED),
            id="budget used up with experiments in flight: wait for them, then stop",
        ),
        pytest.param(
            campaign_with(budget="{experiments: 10}"),
            ledger(0.1, "running", "running"),
            1,
            Propose(count=1, if_pool_exhausted=Wait(stop_pending=POOL_EXHAUSTED)),
            id="pool exhausted with experiments in flight: wait for them, then stop",
        ),
        pytest.param(
            campaign_with(budget="{experiments: 10}"),
            ledger(0.1, 0.2, None),
            3,
            Propose(count=3, if_pool_exhausted=Stop(POOL_EXHAUSTED)),
            id="pool exhausted and nothing in flight: the empty proposal stops the campaign",
        ),
        pytest.param(
            campaign_with(stop=TARGET),
            ledger(0.2, 0.95, "running", "running"),
            1,
            Wait(stop_pending=TARGET_REACHED),
            id="a stop rule fires while other slots are busy: wait for them, then stop",
        ),
        pytest.param(
            campaign_with(stop=TARGET),
            ledger(0.2, 0.95, "running", "running", "running"),
            0,
            Wait(),
            id="no slot free: wait, the stop rules are consulted once one frees",
        ),
        pytest.param(
            campaign_with(stop=TARGET),
            ledger(0.2, 0.95),
            3,
            Stop(TARGET_REACHED),
            id="a stop rule fires with nothing in flight: stop",
        ),
        pytest.param(
            campaign_with(stop="{no_improvement_for: 2}", budget="{experiments: 10}"),
            ledger(0.8, 0.5, None, "running"),
            2,
            Wait(stop_pending=STALLED),
            id="no improvement with an experiment in flight: wait for it",
        ),
        pytest.param(
            campaign_with(stop="{no_improvement_for: 2}", budget="{experiments: 10}"),
            ledger(0.8, 0.5, None, 0.9),
            2,
            Propose(count=2, if_pool_exhausted=Stop(POOL_EXHAUSTED)),
            id="the result waited for is a new best: the pending stop no longer holds",
        ),
        pytest.param(
            campaign_with(),
            ledger("running", "running"),
            1,
            Propose(count=1, if_pool_exhausted=Wait(stop_pending=POOL_EXHAUSTED)),
            id="resume with running experiments: propose only for the free slot",
        ),
        pytest.param(
            campaign_with(),
            ledger("running", "proposed", "proposed"),
            2,
            Submit(experiment_ids=(2, 3)),
            id="resume with experiments proposed but never submitted: submit those first",
        ),
        pytest.param(
            campaign_with(),
            ledger(0.1, 0.2, "proposed", "proposed", "proposed"),
            3,
            Submit(experiment_ids=(3, 4, 5)),
            id="proposed experiments start even though the budget is used up",
        ),
        pytest.param(
            campaign_with(proposer="{batch_size: 4}", slots=1),
            ledger(0.1),
            1,
            Propose(count=1, if_pool_exhausted=Stop(POOL_EXHAUSTED)),
            id="free slots smaller than the batch size: propose for the free slots",
        ),
        pytest.param(
            campaign_with(),
            ledger("proposed", "proposed", "proposed", "proposed"),
            2,
            Submit(experiment_ids=(1, 2)),
            id="more proposed than free slots: the earliest ones start",
        ),
        pytest.param(
            campaign_with(budget="{experiments: 10}"),
            ledger(0.1, 0.2, 0.3, 0.4),
            3,
            Propose(count=3, if_pool_exhausted=Stop(POOL_EXHAUSTED)),
            id="a batch that straddles the initial design is asked for whole",
        ),
    ],
)
def test_the_next_step(
    campaign: Campaign, records: list[ExperimentRecord], free_slots: int, expected: Decision
) -> None:
    assert decide(campaign, records, free_slots) == expected


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (ledger(0.1, "running"), Wait(stop_pending=DEADLINE_REACHED)),
        (ledger(0.1, 0.2), Stop(DEADLINE_REACHED)),
    ],
)
def test_the_deadline_waits_for_experiments_in_flight(
    records: list[ExperimentRecord], expected: Decision
) -> None:
    campaign = campaign_with(budget="{experiments: 10, wall_clock: 2h}")
    assert isinstance(decide(campaign, records, 2, now=START + timedelta(hours=1)), Propose)
    assert decide(campaign, records, 2, now=START + timedelta(hours=2)) == expected
