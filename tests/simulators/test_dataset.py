"""The dataset emulator answers from the real table: replicates averaged, nearest first."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from tansaku.simulators.dataset import DatasetSimulator, read_header

REPO = Path(__file__).resolve().parents[2]
AGNP = REPO / "simulators" / "data" / "pvlab" / "AgNP_dataset.csv"
AGNP_COLUMNS = {
    "a": "QAgNO3(%)",
    "p": "Qpva(%)",
    "t": "Qtsc(%)",
    "s": "Qseed(%)",
    "q": "Qtot(uL/min)",
}


def test_a_measured_recipe_returns_the_mean_of_its_replicates() -> None:
    import pandas as pd

    table = pd.read_csv(AGNP)
    first = table.iloc[0]
    replicates = table[
        (table[list(AGNP_COLUMNS.values())] == first[list(AGNP_COLUMNS.values())]).all(axis=1)
    ]
    assert len(replicates) > 1
    simulator = DatasetSimulator(AGNP, AGNP_COLUMNS, "loss")
    point = {name: float(first[column]) for name, column in AGNP_COLUMNS.items()}
    assert math.isclose(simulator(point), replicates["loss"].mean())


def test_a_point_between_measurements_gets_the_nearest_or_a_weighted_mean(
    tmp_path: Path,
) -> None:
    table = tmp_path / "t.csv"
    table.write_text("x,solvent,y\n0,water,1\n10,water,3\n0,oil,100\n")
    nearest = DatasetSimulator(
        table, {"x": "x", "solvent": "solvent"}, "y", categorical=frozenset({"solvent"})
    )
    assert nearest({"x": 2.0, "solvent": "water"}) == 1.0
    assert nearest({"x": 2.0, "solvent": "oil"}) == 100.0
    blended = DatasetSimulator(
        table,
        {"x": "x", "solvent": "solvent"},
        "y",
        categorical=frozenset({"solvent"}),
        neighbors=2,
    )
    assert math.isclose(blended({"x": 5.0, "solvent": "water"}), 2.0)


def test_missing_measurements_and_unknown_categories(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("x,solvent,y\n0,water,\n10,water,3\n")
    simulator = DatasetSimulator(
        table, {"x": "x", "solvent": "solvent"}, "y", categorical=frozenset({"solvent"})
    )
    assert math.isnan(simulator({"x": 0.0, "solvent": "water"}))
    with pytest.raises(LookupError, match=re.escape("no measurement with {'solvent': 'acetone'}")):
        simulator({"x": 0.0, "solvent": "acetone"})


def test_the_header_is_read_without_its_byte_order_mark() -> None:
    header = read_header(REPO / "simulators" / "data" / "pvlab" / "Perovskite_dataset.csv")
    assert header[0] == "CsPbI"
