"""An emulator that answers from a table of real measurements.

Replicate rows (identical inputs) are averaged into one point. A query is answered with
the nearest measured point, or with an inverse-distance average of the ``neighbors``
nearest, after scaling each numeric input to [0, 1] over the table's range; categorical
inputs must match exactly. Missing measurements (empty or NaN cells) stay NaN, as they
would come back from a real instrument that gave no reading.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def read_header(path: Path) -> list[str]:
    """Column names of a CSV file, without loading it (a leading BOM is dropped)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


class DatasetSimulator:
    """Looks up the objective for a parameter mapping in a CSV table.

    Args:
        path: CSV file with a header row.
        columns: campaign parameter name → column in the table.
        output: the column holding the objective.
        categorical: parameter names whose values are labels, matched exactly.
        neighbors: how many nearest measured points are averaged, weighted by 1/distance.
    """

    def __init__(
        self,
        path: Path,
        columns: Mapping[str, str],
        output: str,
        categorical: frozenset[str] = frozenset(),
        neighbors: int = 1,
    ) -> None:
        import pandas as pd

        table = pd.read_csv(path, encoding="utf-8-sig")
        self._numeric = [name for name in columns if name not in categorical]
        self._categorical = [name for name in columns if name in categorical]
        keys = [columns[name] for name in (*self._numeric, *self._categorical)]
        grouped = table.groupby(keys, sort=False, dropna=False)[output].mean().reset_index()
        numeric = grouped[[columns[name] for name in self._numeric]].to_numpy(dtype=float)
        self._low = numeric.min(axis=0)
        span = np.ptp(numeric, axis=0)
        self._span = np.where(span > 0, span, 1.0)
        self._points = (numeric - self._low) / self._span
        self._labels = grouped[[columns[name] for name in self._categorical]].astype(str)
        self._values = grouped[output].to_numpy(dtype=float)
        self._neighbors = neighbors
        self._source = path.name

    def __call__(self, parameters: Mapping[str, float | int | str]) -> float:
        rows = np.ones(len(self._values), dtype=bool)
        for position, name in enumerate(self._categorical):
            rows &= (self._labels.iloc[:, position] == str(parameters[name])).to_numpy()
        if not rows.any():
            wanted = {name: parameters[name] for name in self._categorical}
            raise LookupError(f"{self._source} has no measurement with {wanted}")
        query = (np.array([float(parameters[n]) for n in self._numeric]) - self._low) / self._span
        distances = np.linalg.norm(self._points[rows] - query, axis=1)
        values = self._values[rows]
        nearest = np.argsort(distances, kind="stable")[: self._neighbors]
        if distances[nearest[0]] == 0.0:
            return float(values[nearest[0]])
        weights = 1.0 / distances[nearest]
        return float(np.sum(weights * values[nearest]) / np.sum(weights))
