"""Prior data: earlier measurements are read strictly and seed the proposer, apart from
the campaign's own experiments."""

from __future__ import annotations

from pathlib import Path

from tansaku.campaign.loading import load_campaign
from tansaku.proposer import Observation, Proposer
from tests.conftest import campaign_beside, campaign_problems

EARLIER = """\
temp_c,solvent,yield (%)
40,dmf,12.5
60,dmso,30.1
80,dmf,55.0
100,dmso,41.2
"""

CAMPAIGN = """
name: with-history
seed: 2
budget: {experiments: 10}
prior_data: {path: earlier.csv, columns: {temperature: temp_c, yield_pct: "yield (%)"}}
space:
  - {name: temperature, type: continuous, bounds: [20, 120]}
  - {name: solvent, type: categorical, values: [dmf, dmso]}
objectives:
  - {name: yield_pct, goal: maximize}
proposer: {initial: {n: 6}, num_restarts: 2, raw_samples: 32}
driver:
  type: simulated
  simulator: {type: function, function: "math:sin"}
"""


def write(tmp_path: Path, table: str = EARLIER, **replace: str) -> Path:
    return campaign_beside(tmp_path, CAMPAIGN, "earlier.csv", table, **replace)


def test_rows_are_read_with_their_lines_and_mapped_columns(tmp_path: Path) -> None:
    prior = load_campaign(write(tmp_path)).prior()
    assert [(p.line, p.parameters, p.values) for p in prior[:2]] == [
        (2, {"temperature": 40.0, "solvent": "dmf"}, {"yield_pct": 12.5}),
        (3, {"temperature": 60.0, "solvent": "dmso"}, {"yield_pct": 30.1}),
    ]


def test_a_missing_column_is_named_with_the_columns_there_are(tmp_path: Path) -> None:
    message = campaign_problems(write(tmp_path, **{'yield_pct: "yield (%)"': "yield_pct: yield"}))
    assert f"{tmp_path / 'campaign.yaml'}:4:" in message and "prior_data.columns" in message
    assert "earlier.csv lacks columns for 'yield_pct' (column 'yield')" in message
    assert "its columns: temp_c, solvent, yield (%)" in message


def test_bad_rows_are_listed_by_line(tmp_path: Path) -> None:
    table = EARLIER + "130,dmf,60\n50,water,20\n70,dmf,n/a\n"
    message = campaign_problems(write(tmp_path, table=table))
    assert "line 6: temperature 130 is outside the bounds [20.0, 120.0]" in message
    assert "line 7: solvent 'water' is not one of: dmf, dmso" in message
    assert "line 8: yield_pct 'n/a' is not a finite number" in message


def test_prior_measurements_shorten_the_initial_design(tmp_path: Path) -> None:
    loaded = load_campaign(write(tmp_path))
    prior = [Observation(p.parameters, p.values["yield_pct"]) for p in loaded.prior()]
    proposer = Proposer(loaded.campaign, prior=prior)

    # Six initial experiments, four of them already made: two Sobol points, then the model.
    methods = []
    observations: list[Observation] = []
    for step in range(3):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=step)
        methods.append(proposal.method)
        observations.append(Observation(proposal.parameters, 20.0 + step))
    assert methods == ["sobol", "sobol", "gp"]
    assert proposal.details["observations"] == 4 + 2


def test_a_pool_row_measured_before_is_not_proposed(tmp_path: Path) -> None:
    (tmp_path / "pool.csv").write_text("temp_c,solvent\n40,dmf\n60,dmso\n80,dmf\n90,dmso\n")
    path = write(
        tmp_path,
        **{
            "prior_data:": "candidates: {path: pool.csv, columns: {temperature: temp_c}}\n"
            "prior_data:",
            "{initial: {n: 6}": "{initial: {n: 2}",
        },
    )
    loaded = load_campaign(path)
    prior = [Observation(p.parameters, p.values["yield_pct"]) for p in loaded.prior()]
    proposer = Proposer(loaded.campaign, loaded.candidates(), prior=prior)

    (proposal,) = proposer.suggest(1, [], proposed_so_far=0)
    assert proposal.method == "gp"  # four earlier measurements already exceed two
    assert proposal.parameters == {"temperature": 90.0, "solvent": "dmso"}
    assert proposer.suggest(1, [Observation(proposal.parameters, 1.0)], proposed_so_far=1) == []
