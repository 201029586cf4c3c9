"""Ask and tell from a notebook: ``tansaku.open`` and the campaign it opens."""

from __future__ import annotations

from pathlib import Path

import pytest

import tansaku
from tansaku.ledger import LedgerMismatchError
from tests.conftest import write_campaign

FILM = """
    name: {name}
    seed: 3
    budget: {{experiments: 4}}
    space:
      - {{name: temp_c, type: continuous, bounds: [60, 250], unit: degC}}
      - {{name: solvent, type: categorical, values: [water, ethanol]}}
    objectives:
      - {{name: g, goal: maximize, unit: mS}}
    proposer:
      initial: {{n: 2}}
      num_restarts: 2
      raw_samples: 64
    driver: {{type: manual, slots: 2}}
"""


def film(folder: Path, name: str = "film") -> Path:
    return write_campaign(folder, FILM.format(name=name), name=f"{name}.yaml")


def test_suggest_tell_then_observations_and_best(tmp_path: Path) -> None:
    with tansaku.open(film(tmp_path), run_dir=tmp_path / "run") as campaign:
        first, second = campaign.suggest(2)
        assert (first.id, second.id) == (1, 2) and first.method == "sobol"
        assert {e.status for e in campaign.waiting()} == {"running"}
        campaign.tell(first.id, g=3.0)
        told = campaign.tell(second.id, g=9.5)
        assert told.status == "done" and told.values == {"g": 9.5}
        assert campaign.waiting() == []
        frame = campaign.observations()
        assert {"experiment", "status", "temp_c", "solvent", "g"} <= set(frame.columns)
        assert list(frame["g"]) == [3.0, 9.5]
        best = campaign.best()
        assert best is not None and best.id == second.id


def test_a_result_told_with_the_point_really_made_teaches_that_point(tmp_path: Path) -> None:
    with tansaku.open(film(tmp_path), run_dir=tmp_path / "run") as campaign:
        [suggestion] = campaign.suggest()
        record = campaign.tell(suggestion.id, g=4.0, actual={"temp_c": 143})
        assert record.point == {**suggestion.parameters, "temp_c": 143.0}
        assert record.parameters == suggestion.parameters


def test_an_experiment_of_ones_own_is_manual_and_counts_against_the_budget(
    tmp_path: Path,
) -> None:
    with tansaku.open(film(tmp_path), run_dir=tmp_path / "run") as campaign:
        for temp in (80, 120, 160):
            record = campaign.add(temp_c=temp, solvent="water", g=temp / 10)
            assert record.method == "manual" and record.status == "done"
        failed = campaign.add(temp_c=200, solvent="ethanol", failed="spilled")
        assert failed.status == "failed" and failed.failure == "spilled"
        asked = campaign.ask(2)
        assert asked.experiments == []
        assert asked.stop_reason == "budget reached: 4 of 4 experiments"


def test_a_rejected_point_is_never_suggested_again(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        """
        name: solvents
        seed: 1
        budget: {experiments: 3}
        space:
          - {name: solvent, type: categorical, values: [water, ethanol, toluene]}
        objectives:
          - {name: g, goal: maximize}
        proposer:
          initial: {n: 1}
        driver: {type: manual, approve: true}
        """,
    )
    with tansaku.open(path, run_dir=tmp_path / "run") as campaign:
        # As `tansaku run` records a proposal that waits for approval.
        [proposal] = campaign.ledger.record_proposals(
            [{"parameters": {"solvent": "toluene"}, "method": "sobol", "proposer": {}}]
        )
        rejected = campaign.reject(proposal, "  toxic  ")
        assert rejected.status == "rejected" and rejected.decision_reason == "toxic"
        chosen = []
        for value in (1.0, 2.0, 3.0):  # a rejection spends no budget: three more to run
            [suggestion] = campaign.suggest()
            chosen.append(suggestion.parameters["solvent"])
            campaign.tell(suggestion.id, g=value)
        assert "toluene" not in chosen
        assert campaign.suggest() == []


def test_another_campaign_on_the_same_run_directory_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    tansaku.open(film(tmp_path), run_dir=run_dir).close()
    with pytest.raises(LedgerMismatchError) as refused:
        tansaku.open(film(tmp_path, name="other"), run_dir=run_dir)
    assert refused.value.exit_code == 2
    assert "holds campaign 'film'" in str(refused.value)


def test_a_raised_budget_counts_once_the_campaign_acts_on_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with tansaku.open(film(tmp_path), run_dir=run_dir) as campaign:
        for suggestion in campaign.suggest(2) + campaign.suggest(2):
            campaign.tell(suggestion.id, g=1.0 + suggestion.id)
        assert campaign.ask().stop_reason == "budget reached: 4 of 4 experiments"
    raised = tmp_path / "raised.yaml"
    raised.write_text(film(tmp_path).read_text().replace("experiments: 4", "experiments: 5"))
    with tansaku.open(raised, run_dir=run_dir) as campaign:
        # Opening writes nothing: the ledger still holds the budget it ran with.
        with pytest.raises(tansaku.InputError, match="budget of 4 experiments is spent"):
            campaign.add(temp_c=100, solvent="water", g=2.0)
        [fifth] = campaign.suggest()  # acting on the raised file records it
        assert fifth.id == 5
    with tansaku.open_run(run_dir) as campaign:
        assert campaign.loaded.campaign.budget.experiments == 5


def test_a_notebook_may_give_an_experiment_id_as_text(tmp_path: Path) -> None:
    with tansaku.open(film(tmp_path), run_dir=tmp_path / "run") as campaign:
        [suggestion] = campaign.suggest()
        assert campaign.tell(str(suggestion.id), g=2.0).status == "done"
        with pytest.raises(tansaku.InputError, match="is not an experiment id"):
            campaign.tell("first", g=2.0)
