"""``c.predict``: the campaign's own model at points a person names, extrapolation flagged."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tansaku
from tansaku.people.answers import AnswerError
from tansaku.people.prediction import (
    EXTRAPOLATION_SD_FRACTION,
    NoModelYetError,
    PointError,
)
from tansaku.proposer.surrogate import _through_bilog
from tests.conftest import write_campaign

LINE = """
    name: line
    seed: 1
    budget: {experiments: 20}
    space:
      - {name: temp_c, type: continuous, bounds: [0, 10], unit: degC}
      - {name: solvent, type: categorical, values: [water, ethanol], fixed: water}
    constraints: ["temp_c <= 9.5"]
    objectives:
      - {name: loss, goal: minimize, unit: mg}
    driver: {type: manual}
"""


def measured_in_one_corner(tmp_path: Path) -> tansaku.OpenCampaign:
    """A 1-D campaign measured only at temp_c in [0, 3]: the rest of its space is unknown."""
    campaign = tansaku.open(write_campaign(tmp_path, LINE), run_dir=tmp_path / "run")
    for x in np.linspace(0, 3, 7):
        campaign.add(temp_c=float(x), loss=float(5 + np.sin(2 * x)))
    return campaign


def test_near_the_data_the_model_is_sure_and_gives_the_values_in_their_units(
    tmp_path: Path,
) -> None:
    with measured_in_one_corner(tmp_path) as campaign:
        frame = campaign.predict(pd.DataFrame({"temp_c": [1.0, 1.5]}))
        assert list(frame.columns) == [
            "point", "temp_c", "solvent", "quantity", "unit", "mean", "sd",
            "extrapolating", "reason",
        ]  # fmt: skip
        assert list(frame["solvent"]) == ["water", "water"]  # the fixed value, left out
        assert list(frame["unit"]) == ["mg", "mg"]
        # A minimised objective is modelled negated; the prediction is the loss itself.
        truth = 5 + np.sin(2 * frame["temp_c"])
        assert np.all(np.abs(frame["mean"] - truth) < 0.1)
        assert not frame["extrapolating"].any()


def test_far_from_the_data_inside_the_bounds_the_uncertainty_flags_an_extrapolation(
    tmp_path: Path,
) -> None:
    with measured_in_one_corner(tmp_path) as campaign:
        frame = campaign.predict([{"temp_c": x} for x in (1.5, 9.0)])
        spread = np.std([5 + np.sin(2 * x) for x in np.linspace(0, 3, 7)], ddof=1)
        near, far = frame.to_dict("records")
        assert near["sd"] < 0.1 * spread and not near["extrapolating"]
        # The threshold is what decides, not the bounds: 9.0 lies inside them.
        assert far["sd"] > EXTRAPOLATION_SD_FRACTION * spread
        assert far["extrapolating"] and "measured spread" in far["reason"]


def test_outside_the_space_is_an_extrapolation_whatever_the_uncertainty(tmp_path: Path) -> None:
    with measured_in_one_corner(tmp_path) as campaign:
        frame = campaign.predict(
            [
                {"temp_c": -0.5},  # beyond a bound, next to the data
                {"temp_c": 1.0, "solvent": "ethanol"},  # off the fixed value
                {"temp_c": 9.8},  # breaks the constraint
            ]
        )
        reasons = list(frame["reason"])
        assert frame["extrapolating"].all()
        assert "outside its bounds [0, 10]" in reasons[0]
        assert "fixes it at water" in reasons[1]
        assert "breaks the constraint temp_c <= 9.5" in reasons[2]


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"temp_c": 1, "rpm": 3}, "rpm: not a parameter of this campaign"),
        ({"solvent": "water"}, "lacks temp_c"),
        ({"temp_c": "warm"}, "'warm' is not a number"),
        ({"temp_c": math.nan}, "give a finite number"),
        ({"temp_c": 1, "solvent": "acetone"}, "not one of its values (water, ethanol)"),
    ],
)
def test_a_point_the_model_cannot_take_is_refused_by_number_and_nothing_is_written(
    tmp_path: Path, point: dict, message: str
) -> None:
    with measured_in_one_corner(tmp_path) as campaign:
        before = campaign.ledger.version()
        with pytest.raises(PointError, match="point 2: ") as refused:
            campaign.predict([{"temp_c": 1.0}, point])
        assert message in str(refused.value) and refused.value.exit_code == 2
        assert campaign.ledger.version() == before


def test_next_to_a_failed_experiment_the_model_is_not_trusted(tmp_path: Path) -> None:
    with measured_in_one_corner(tmp_path) as campaign:
        campaign.add(temp_c=9.0, failed="the film peeled")
        near_failure, near_data = campaign.predict([{"temp_c": 8.8}, {"temp_c": 2.9}]).to_dict(
            "records"
        )
        # The model learned the worst result there, so it is sure of a value never measured.
        assert near_failure["extrapolating"]
        assert "the nearest experiment failed" in near_failure["reason"]
        assert not near_data["extrapolating"]


def test_points_must_be_rows(tmp_path: Path) -> None:
    with measured_in_one_corner(tmp_path) as campaign:
        with pytest.raises(AnswerError, match="no points to predict at"):
            campaign.predict([])
        with pytest.raises(TypeError, match=r"pass pd.DataFrame\(points\)"):
            campaign.predict({"temp_c": [1.0, 2.0]})
        assert len(campaign.predict(pd.DataFrame({"temp_c": [1.0, 2.0]}))) == 2


def test_before_two_results_there_is_no_model_to_ask(tmp_path: Path) -> None:
    with tansaku.open(write_campaign(tmp_path, LINE), run_dir=tmp_path / "run") as campaign:
        campaign.add(temp_c=1.0, loss=5.0)
        with pytest.raises(NoModelYetError, match="has 1 result; the model needs at least 2"):
            campaign.predict([{"temp_c": 2.0}])


def test_the_bilog_scale_of_screening_is_undone_exactly() -> None:
    """Quadrature of the bilog's inverse against a large Monte-Carlo sample."""
    mean, sd = np.array([[0.3, -2.0, 4.0]]), np.array([[0.5, 1.0, 0.2]])
    z = np.random.default_rng(0).normal(mean, sd, size=(400_000, 3))
    values = np.sign(z) * np.expm1(np.abs(z))
    expected_mean, expected_sd = _through_bilog(mean, sd)
    assert np.allclose(expected_mean, values.mean(0), rtol=0.01, atol=0.01)
    assert np.allclose(expected_sd, values.std(0), rtol=0.02)
