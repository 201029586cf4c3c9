"""Candidate pools: rows are read strictly, and the proposer picks only rows still free."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tansaku.campaign.loading import CampaignError, load_campaign
from tansaku.proposer import Observation, Proposer

POOL = """\
temp,solvent,ratio,label
100,dmf,0.1,a
120,dmf,0.2,b
140,dmso,0.3,c
160,dmso,0.4,d
180,dmf,0.5,e
200,dmso,0.6,f
220,dmf,0.7,g
240,dmso,0.8,h
100,dmf,0.1,a-again
"""

CAMPAIGN = """
name: pool
seed: 3
budget: {{experiments: 20}}
candidates: {{path: pool.csv, columns: {{temperature: temp}}}}
{purpose}
space:
  - {{name: temperature, type: continuous, bounds: [50, 300]}}
  - {{name: solvent, type: categorical, values: [dmf, dmso]}}
  - {{name: ratio, type: continuous, bounds: [0.01, 1], log_scale: true}}
objectives:
  - {{name: y, goal: maximize}}
proposer: {{initial: {{n: 3}}, num_restarts: 2, raw_samples: 32}}
driver:
  type: simulated
  simulator: {{type: function, function: "math:sin"}}
"""


def pool_campaign(tmp_path: Path, pool: str = POOL, purpose: str = "", **replace: str):
    (tmp_path / "pool.csv").write_text(pool)
    text = CAMPAIGN.format(purpose=purpose)
    for old, new in replace.items():
        text = text.replace(old, new)
    (tmp_path / "pool.yaml").write_text(textwrap.dedent(text))
    return load_campaign(tmp_path / "pool.yaml")


def response(point: dict) -> float:
    return point["ratio"] + (0.3 if point["solvent"] == "dmso" else 0.0)


def test_the_proposer_picks_only_rows_not_measured_pending_or_failed(tmp_path: Path) -> None:
    loaded = pool_campaign(tmp_path)
    rows = loaded.candidates()
    assert len(rows) == 8, "a repeated row is one candidate"
    proposer = Proposer(loaded.campaign, rows)
    initial = [p.parameters for p in proposer.suggest(3, [])]
    assert all(point in rows for point in initial) and len({str(p) for p in initial}) == 3
    observations = [Observation(p, response(p)) for p in initial[:2]]
    chosen = []
    for step in range(5):
        (proposal,) = proposer.suggest(
            1,
            observations,
            pending=[initial[2]],
            proposed_so_far=3 + step,
            failed=chosen[:1],
        )
        assert proposal.method == "gp"
        assert proposal.details["acquisition"] == "qUpperConfidenceBound"
        assert proposal.parameters in rows
        assert proposal.parameters not in initial + chosen
        chosen.append(proposal.parameters)
        if step:
            observations.append(Observation(proposal.parameters, response(proposal.parameters)))
    assert proposer.suggest(5, observations, pending=[initial[2]], failed=chosen[:1]) == []


def test_a_declared_purpose_overrides_screening(tmp_path: Path) -> None:
    loaded = pool_campaign(tmp_path, purpose="purpose: optimize")
    proposer = Proposer(loaded.campaign, loaded.candidates())
    initial = [p.parameters for p in proposer.suggest(3, [])]
    (proposal,) = proposer.suggest(1, [Observation(p, response(p)) for p in initial], [], 3)
    assert proposal.details["acquisition"] == "qLogNoisyExpectedImprovement"


def test_the_initial_rows_follow_the_seed_and_are_kept_across_calls(tmp_path: Path) -> None:
    loaded = pool_campaign(tmp_path)
    proposer = Proposer(loaded.campaign, loaded.candidates())
    whole = [p.parameters for p in proposer.suggest(3, [])]
    first = [p.parameters for p in proposer.suggest(1, [])]
    rest = [p.parameters for p in proposer.suggest(2, [], pending=first, proposed_so_far=1)]
    assert whole == first + rest


@pytest.mark.parametrize(
    ("pool", "replace", "message"),
    [
        (POOL.replace("temp,", "t,"), {}, "lacks columns for 'temperature' (column 'temp')"),
        (POOL.replace("160,dmso", "360,dmso"), {}, "line 5: temperature 360 is outside"),
        (POOL.replace("140,dmso", "140,water"), {}, "line 4: solvent 'water' is not one of"),
        (POOL.replace("0.5,e", "half,e"), {}, "line 6: ratio 'half' is not a number"),
        ("temp,solvent,ratio\n", {}, "has no candidate rows"),
        (
            POOL,
            {"temperature: temp": "heat: temp"},
            "'heat' is not one of: temperature, solvent, ratio",
        ),
        (
            POOL,
            {"objectives:": 'constraints: ["temperature <= 200"]\nobjectives:'},
            "a candidate pool lists its feasible points itself",
        ),
    ],
)
def test_unusable_pools_are_refused_at_validation(tmp_path, pool, replace, message) -> None:
    with pytest.raises(CampaignError) as caught:
        pool_campaign(tmp_path, pool=pool, **replace)
    assert message in str(caught.value)
