"""What every benchmark script reports the same way: progress lines, spreads over seeds,
Markdown tables, package versions, load averages and JSON files of raw results.

The scripts are run as ``python benchmarks/X.py``, which puts this folder first on
``sys.path``, so they import it as ``reporting``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REGRET_FLOOR = 1e-12
"""Regrets and hypervolume gaps below this are reported as this: the known minima carry
~15 digits only."""


@dataclass(frozen=True)
class Spread:
    """Median, range and quartiles of a sample."""

    median: float
    low: float
    high: float
    q1: float
    q3: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        return cls(float(median), min(values), max(values), float(q1), float(q3))


def log(message: str) -> None:
    """Progress line on stderr, so stdout holds only the report."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def log10_gap(gap: float) -> float:
    """log10 of a regret or hypervolume gap, floored at ``REGRET_FLOOR``."""
    return math.log10(max(gap, REGRET_FLOOR))


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """The installed version of each package, or "not installed"."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def versions_text(versions: dict[str, str]) -> str:
    """Versions as a report prints them: ``name version, name version, ...``."""
    return ", ".join(f"{name} {version}" for name, version in versions.items())


def command_line() -> str:
    """How this script was invoked, as a report quotes it."""
    return " ".join(["python", *sys.argv])


def load_summary(loads: Sequence[float], occasions: str) -> str:
    """The 1-minute load averages taken before each of ``occasions``, summarised."""
    return (
        f"1-minute load average just before each of the {len(loads)} {occasions}: "
        f"median {np.median(loads):.2f}, max {max(loads):.2f}."
    )


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically, so a run interrupted mid-write keeps the last
    complete file (the scripts rewrite it after every run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    temporary.replace(path)
