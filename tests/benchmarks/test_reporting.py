"""Tests of benchmarks/reporting.py, the module every benchmark script reports through.

The scripts import it as ``reporting`` (their own folder is first on ``sys.path`` when run
as ``python benchmarks/X.py``); here it is loaded from its file.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_reporting() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reporting", BENCHMARKS / "reporting.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclass looks its own module up by name.
    sys.modules["reporting"] = module
    spec.loader.exec_module(module)
    return module


reporting = load_reporting()


def test_spread_table_and_floor() -> None:
    spread = reporting.Spread.of([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (spread.median, spread.low, spread.high, spread.q1, spread.q3) == (3, 1, 5, 2, 4)
    assert reporting.markdown_table(["a", "b"], [["1", "2"]]) == "| a | b |\n|---|---|\n| 1 | 2 |"
    assert reporting.log10_gap(0.0) == -12
    assert reporting.versions_text({"x": "1.0", "y": "not installed"}) == "x 1.0, y not installed"


def test_write_json_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "raw.json"
    reporting.write_json(path, {"runs": [1]})
    reporting.write_json(path, {"runs": [1, 2]})
    assert json.loads(path.read_text(encoding="utf-8")) == {"runs": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["raw.json"]


def test_loop_benchmark_finds_reporting_when_run_as_a_script() -> None:
    # The only script without a smoke run of its own: a full run takes minutes.
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "loop_benchmark.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--seeds" in completed.stdout
