"""Smoke test of benchmarks/facility_scale.py, so the facility benchmark cannot rot.

Three dry-run campaigns of four experiments (after one alone) through a process work pool
and two real ``prefect worker``s, a Prefect server and the ledgers on PostgreSQL: every
check of the full benchmark must pass.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "facility_scale.py"


@pytest.mark.timeout(300)
def test_three_campaigns_through_one_pool(tmp_path: Path, postgres_server: str) -> None:
    report = tmp_path / "facility.md"
    completed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--campaigns", "3",
            "--experiments", "4",
            "--postgres", postgres_server,
            "--output", str(report),
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    text = report.read_text()
    assert "**FAIL**" not in text
    assert "| pass | 4 of 4 campaigns sound |" in text
    assert "4 schemas, 16 result rows in all (expected 4, 16)" in text
    assert "peak 3 RUNNING" in text
    assert "Overhead ratio" in text
