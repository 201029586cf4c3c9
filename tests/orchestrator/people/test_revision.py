"""What a revised campaign may change mid-way, and what happens to experiments outside it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tansaku.campaign.loading import parse_campaign
from tansaku.campaign.prior import PriorDataSpec
from tansaku.campaign.schema import Campaign
from tansaku.flows.proposing import ask, learnable
from tansaku.ledger import ExperimentRecord
from tansaku.ledger.ledger import Status
from tansaku.people.revision import compare, experiment_ids, file_diff
from tansaku.proposer import Proposer
from tansaku.proposer.encoding import SpaceEncoding

START = datetime(2026, 12, 1, 9, tzinfo=UTC)

BASE = """
name: film
budget: {experiments: 8}
space:
  - {name: temp, type: continuous, bounds: [25, 250], unit: degC}
  - {name: minutes, type: integer, bounds: [1, 120]}
  - {name: ratio, type: discrete, values: [0.5, 1, 2, 5]}
  - {name: solvent, type: categorical, values: [chloroform, toluene, dcb]}
objectives:
  - {name: conductivity, goal: maximize, unit: S/cm}
outcomes:
  - {name: stability}
driver:
  type: simulated
  simulator: {type: function, function: "math:sin"}
"""


def revised(*edits: tuple[str, str]) -> Campaign:
    """The base campaign with each ``(old, new)`` text edit applied."""
    text = BASE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return parse_campaign(text, Path("film.yaml")).campaign


def record(
    experiment_id: int,
    status: Status = "done",
    temp: float = 100.0,
    solvent: str = "toluene",
    ratio: float = 1,
    minutes: int = 10,
    conductivity: float = 1.0,
    **values: float,
) -> ExperimentRecord:
    done = status == "done"
    return ExperimentRecord(
        id=experiment_id,
        batch=experiment_id,
        parameters={"temp": temp, "minutes": minutes, "ratio": ratio, "solvent": solvent},
        method="gp",
        proposer={},
        status=status,
        attempts=1,
        proposed_at=START,
        updated_at=START,
        objective=conductivity if done else None,
        values={"conductivity": conductivity, "stability": 0.9, **values} if done else None,
    )


OLD = revised()


def refusal(new: Campaign, records: list[ExperimentRecord] | None = None) -> str:
    revision = compare(OLD, new, records or [record(1)])
    assert not revision.allowed
    text = revision.refusal()
    assert text is not None
    return text


# Allowed --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "change"),
    [
        (("[25, 250]", "[50, 200]"), "space.temp.bounds: [25, 250] → [50, 200]"),
        (("[25, 250]", "[0, 300]"), "space.temp.bounds: [25, 250] → [0, 300]"),
        (("[1, 120]", "[1, 60]"), "space.minutes.bounds: [1, 120] → [1, 60]"),
        (("[0.5, 1, 2, 5]", "[0.5, 1, 2, 5, 10]"), "space.ratio.values: [0.5, 1, 2, 5] → "),
        (("toluene, dcb]", "toluene, dcb, thf]"), "space.solvent.values: "),
        (
            ("toluene, dcb]", "toluene, dcb], fixed: toluene"),
            "space.solvent.fixed: unset → toluene",
        ),
        (("experiments: 8", "experiments: 20"), "budget.experiments: 8 → 20"),
        (("name: film\n", "name: film\ndescription: narrowed\n"), "description: unset → narrowed"),
        (("name: film\n", "name: film\nseed: 7\n"), "seed: 0 → 7"),
        (("type: simulated\n", "type: simulated\n  retries: 5\n"), "driver.retries: "),
        (
            ("driver:", "proposer: {num_restarts: 4}\ndriver:"),
            "proposer.num_restarts: ",
        ),
        (
            ("driver:", "outcome_constraints: ['stability >= 0.8']\ndriver:"),
            "outcome_constraints: [] → [stability >= 0.8]",
        ),
        (("goal: maximize, unit", "goal: maximize, threshold: 10, unit"), "threshold: unset → 10"),
        (("name: film\n", "name: film\nconstraints: ['temp + minutes <= 300']\n"), "constraints"),
    ],
)
def test_changes_that_keep_past_experiments_meaningful_are_allowed(
    edit: tuple[str, str], change: str
) -> None:
    revision = compare(OLD, revised(edit), [record(1), record(2, "failed")])
    assert revision.allowed and revision.refusal() is None
    assert any(change in c for c in revision.changes), revision.changes


def test_reordering_parameters_is_a_change_of_order_only() -> None:
    new = revised(
        ("  - {name: minutes, type: integer, bounds: [1, 120]}\n", ""),
        ("objectives:", "  - {name: minutes, type: integer, bounds: [1, 120]}\nobjectives:"),
    )
    revision = compare(OLD, new, [record(1)])
    assert revision.allowed
    assert revision.changes == (
        "space: the parameters' order temp, minutes, ratio, solvent → temp, ratio, solvent, "
        "minutes",
    )


# Refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (("name: film", "name: movie"), "names campaign 'movie' where the run directory holds"),
        (("name: minutes,", "name: duration,"), "removes parameter 'minutes'; adds parameter"),
        (("  - {name: ratio, type: discrete, values: [0.5, 1, 2, 5]}\n", ""), "removes parameter"),
        (
            ("objectives:", "  - {name: pressure, type: continuous, bounds: [1, 2]}\nobjectives:"),
            "adds parameter 'pressure'",
        ),
        (
            ("{name: minutes, type: integer", "{name: minutes, type: continuous"),
            "turns parameter 'minutes' from integer into continuous",
        ),
        (("unit: degC", "unit: K"), "changes the unit of parameter 'temp' from degC to K"),
        (
            ("goal: maximize", "goal: minimize"),
            "turns objective 'conductivity' from maximize to minimize",
        ),
        (
            ("goal: maximize, unit: S/cm", "goal: maximize, unit: mS/cm"),
            "changes the unit of objective 'conductivity' from S/cm to mS/cm",
        ),
        (
            ("name: conductivity", "name: sheet_conductance"),
            "changes the objectives from conductivity to sheet_conductance",
        ),
        (
            ("  - {name: stability}", "  - {name: stability, unit: h}"),
            "changes the unit of outcome 'stability' from none to h",
        ),
    ],
)
def test_changes_that_redefine_past_experiments_are_refused(
    edit: tuple[str, str], reason: str
) -> None:
    text = refusal(revised(edit))
    assert reason in text
    assert "start the changed campaign in a new --run-dir" in text
    assert "prior data" in text


def test_a_moved_target_is_refused() -> None:
    old = revised(("goal: maximize,", "goal: target, target: 100,"))
    new = revised(("goal: maximize,", "goal: target, target: 120,"))
    revision = compare(old, new, [record(1)])
    assert revision.refused == ("moves the target of 'conductivity' from 100 to 120",)


def test_constraining_a_quantity_past_experiments_did_not_measure_is_refused() -> None:
    new = revised(
        ("  - {name: stability}", "  - {name: stability}\n  - {name: haze}"),
        ("driver:", "outcome_constraints: ['haze <= 0.1']\ndriver:"),
    )
    records = [record(1), record(2), record(3, "failed"), record(4, haze=0.05)]
    assert "constrains 'haze', which experiments #1-#2 did not measure" in refusal(new, records)
    # Declaring it without constraining it asks readings of it from now on only.
    measured = revised(("  - {name: stability}", "  - {name: stability}\n  - {name: haze}"))
    assert compare(OLD, measured, records).allowed


# Experiments outside the revised space ---------------------------------------------------


def test_points_outside_narrowed_bounds_are_listed_and_still_learned_from() -> None:
    records = [record(1, temp=30), record(2, temp=120), record(3, "failed", temp=240)]
    revision = compare(OLD, revised(("[25, 250]", "[50, 200]")), records)
    assert revision.allowed
    [misfit] = revision.misfits
    assert misfit.experiments == (1, 3) and misfit.learned
    assert str(misfit) == (
        "#1, #3: temp lies outside the new bounds [50, 200]; they stay in the ledger and in "
        "exports, and the model still learns from them"
    )


def test_a_dropped_value_leaves_its_experiments_out_of_the_model() -> None:
    records = [record(1, solvent="dcb"), record(2), record(3, "rejected", solvent="dcb")]
    new = revised(("toluene, dcb]", "toluene]"))
    revision = compare(OLD, new, records)
    [misfit] = revision.misfits
    assert misfit.experiments == (1, 3) and not misfit.learned
    assert "solvent = dcb, a value the revised space no longer has" in str(misfit)
    assert "the model no longer learns from them" in str(misfit)
    proposer = Proposer(new)
    assert [r.id for r in learnable(proposer, records)] == [2]


def test_off_grid_fixed_and_infeasible_points_are_listed() -> None:
    records = [record(1, ratio=5, minutes=100, temp=250), record(2)]
    new = revised(
        ("[0.5, 1, 2, 5]", "[0.5, 1, 2]"),
        ("[1, 120]}", "[1, 120], fixed: 10}"),
        ("name: film\n", "name: film\nconstraints: ['temp + minutes <= 300']\n"),
    )
    revision = compare(OLD, new, records)
    assert [(m.experiments, m.why, m.learned) for m in revision.misfits] == [
        ((1,), "minutes is now fixed at 10", True),
        ((1,), "ratio = 5, no longer one of its allowed values", True),
        ((1,), "breaks the constraint 'temp + minutes <= 300'", True),
    ]


def test_unfinished_experiments_outside_the_revised_space_hold_it_back() -> None:
    records = [record(1, temp=30), record(2, "proposed", temp=30), record(3, "running", temp=40)]
    revision = compare(OLD, revised(("[25, 250]", "[50, 200]")), records)
    assert not revision.allowed
    assert [m.experiments for m in revision.misfits] == [(1,)]
    text = revision.refusal()
    assert text is not None
    assert "#2-#3: temp lies outside the new bounds [50, 200]" in text
    assert "reject those not yet started, then revise" in text
    # Inside the revised space they are no obstacle.
    assert compare(OLD, revised(("[25, 250]", "[25, 200]")), records).allowed


def test_the_encoding_takes_points_outside_bounds_but_not_dropped_values() -> None:
    encoding = SpaceEncoding(revised(("[25, 250]", "[50, 200]"), ("dcb]", "thf]")).space)
    point: dict[str, Any] = {"temp": 10.0, "minutes": 500, "ratio": 7, "solvent": "toluene"}
    assert encoding.encodes(point)
    assert not encoding.encodes({**point, "solvent": "dcb"})
    log = SpaceEncoding(revised(("[25, 250], unit", "[25, 250], log_scale: true, unit")).space)
    assert not log.encodes({**point, "temp": 0.0})


# Helpers ---------------------------------------------------------------------------------


def test_the_diff_is_a_unified_diff_of_the_files() -> None:
    diff = file_diff("a: 1\nb: 2\n", "a: 1\nb: 3", "old.yaml", "new.yaml")
    assert diff.splitlines() == [
        "--- old.yaml",
        "+++ new.yaml",
        "@@ -1,2 +1,2 @@",
        " a: 1",
        "-b: 2",
        "+b: 3",
    ]


def test_experiment_ids_shorten_consecutive_runs() -> None:
    assert experiment_ids([7, 1, 2, 3, 5, 6]) == "#1-#3, #5-#7"
    assert experiment_ids([4]) == "#4"


def test_changed_prior_data_is_refused() -> None:
    new = OLD.model_copy(update={"prior_data": PriorDataSpec(path=Path("earlier.csv"))})
    assert "changes `prior_data`, which a run directory reads once" in refusal(new)


def test_the_proposer_asks_past_a_dropped_value() -> None:
    new = revised(
        ("toluene, dcb]", "toluene]"),
        ("driver:", "proposer: {initial: {n: 2}, num_restarts: 2, raw_samples: 32}\ndriver:"),
    )
    records = [
        record(1, solvent="dcb"),
        record(2, temp=60, conductivity=2.0),
        record(3, temp=200, minutes=90, conductivity=5.0),
    ]
    [proposal] = ask(Proposer(new), records, 1, pending=[])
    assert proposal.method == "gp" and proposal.parameters["solvent"] in ("chloroform", "toluene")
