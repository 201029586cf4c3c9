"""Transfer between element sets: an earlier system's measurements steer the first
proposals of a campaign on other elements, and one that says nothing true is given
little weight."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tansaku.campaign.loading import load_campaign
from tansaku.campaign.transfer import TransferMeasurement, TransferSet
from tansaku.proposer import Observation, Proposer
from tests.conftest import campaign_beside

CAMPAIGN = """
name: metals
seed: 3
budget: {experiments: 10}
candidates: {path: pool.csv}
space:
  - {name: ni, type: continuous, bounds: [0, 1]}
  - {name: fe, type: continuous, bounds: [0, 1]}
  - {name: co, type: continuous, bounds: [0, 1]}
mixtures:
  - components: [ni, fe, co]
    total: 1
    elements: {ni: Ni, fe: Fe, co: Co}
transfer_from:
  - path: earlier.csv
    elements: {ni: Ni, mn: Mn, la: La}
model: {transfer: prior_mean}
proposer: {initial: {n: 2}}
objectives:
  - {name: activity, goal: maximize}
driver:
  type: simulated
  simulator: {type: dataset, path: pool.csv, output: activity}
"""


def activity(nickel: float) -> float:
    """Both systems: the more nickel, the more active."""
    return 1.0 + 2.0 * nickel


def compositions(step: float = 0.1) -> list[tuple[float, float, float]]:
    n = round(1 / step)
    return [
        (i * step, j * step, (n - i - j) * step) for i in range(n + 1) for j in range(n + 1 - i)
    ]


def write(tmp_path: Path, mode: str = "prior_mean") -> Path:
    pool = "ni,fe,co,activity\n" + "".join(
        f"{a:.1f},{b:.1f},{c:.1f},{activity(a)}\n" for a, b, c in compositions()
    )
    earlier = "ni,mn,la,activity\n" + "".join(
        f"{a:.1f},{b:.1f},{c:.1f},{activity(a)}\n" for a, b, c in compositions()
    )
    (tmp_path / "earlier.csv").write_text(earlier)
    return campaign_beside(
        tmp_path, CAMPAIGN, "pool.csv", pool, **{"transfer: prior_mean": f"transfer: {mode}"}
    )


def shuffled(source: TransferSet) -> TransferSet:
    values = [row.value for row in source.rows]
    random.Random(0).shuffle(values)
    return TransferSet(
        source.name,
        [
            TransferMeasurement(row.line, row.composition, row.parameters, value)
            for row, value in zip(source.rows, values, strict=True)
        ],
    )


def start(rows: list[dict]) -> list[Observation]:
    """Three nickel-poor compositions (0, 0.1 and 0.2 nickel), measured."""
    chosen = [next(r for r in rows if r["ni"] == nickel) for nickel in (0.0, 0.1, 0.2)]
    return [Observation(r, activity(float(r["ni"]))) for r in chosen]


@pytest.mark.parametrize("mode", ["prior_mean", "tasks", "pooled"])
def test_an_earlier_system_with_the_same_trend_points_to_the_best_compositions(
    tmp_path: Path, mode: str
) -> None:
    # Three nickel-poor results hint at the trend; the earlier system, on other elements
    # but sharing nickel, shows it across the whole range.
    loaded = load_campaign(write(tmp_path, mode))
    rows = loaded.candidates() or []
    proposer = Proposer(loaded.campaign, rows, transfer=loaded.transfer())
    (proposal,) = proposer.suggest(1, start(rows), proposed_so_far=3)
    assert proposal.method == "gp"
    assert proposal.parameters["ni"] >= 0.8
    hyperparameters = proposal.details["hyperparameters"]
    if mode == "prior_mean":
        assert hyperparameters["prior_mean_scale"] > 0.5
    if mode == "tasks":
        assert len(hyperparameters["transfer_correlation"]) == 1


def test_the_model_knows_the_trend_where_the_campaign_has_not_measured(tmp_path: Path) -> None:
    loaded = load_campaign(write(tmp_path))
    rows = loaded.candidates() or []
    nickel = [{"ni": 1.0, "fe": 0.0, "co": 0.0}]
    told = Proposer(loaded.campaign, rows, transfer=loaded.transfer())
    alone = Proposer(loaded.campaign.model_copy(update={"transfer_from": []}), rows)
    predicted = {
        name: float(proposer.surrogate(start(rows)).predict(nickel).mean[0, 0])
        for name, proposer in (("told", told), ("alone", alone))
    }
    # Measured so far: at most 1.4; pure nickel is 3.
    assert predicted["told"] > 2.5
    assert predicted["alone"] < 2.0


def test_an_earlier_system_that_says_nothing_true_does_not_mislead(tmp_path: Path) -> None:
    # The earlier values shuffled among its compositions: the campaign's own twelve
    # results, which show the nickel trend, must still decide.
    path = write(tmp_path)
    loaded = load_campaign(path)
    rows = loaded.candidates() or []
    (source,) = loaded.transfer()
    proposer = Proposer(loaded.campaign, rows, transfer=[shuffled(source)])
    measured = random.Random(1).sample([r for r in rows if r["ni"] <= 0.5], 12)
    observations = [Observation(r, activity(float(r["ni"]))) for r in measured]
    (proposal,) = proposer.suggest(1, observations, proposed_so_far=12)
    assert proposal.parameters["ni"] >= 0.7


def test_without_transfer_the_proposer_is_told_to_pass_the_sources(tmp_path: Path) -> None:
    loaded = load_campaign(write(tmp_path))
    with pytest.raises(ValueError, match=r"LoadedCampaign\.transfer"):
        Proposer(loaded.campaign, loaded.candidates())
