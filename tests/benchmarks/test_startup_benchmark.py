"""Smoke test of benchmarks/startup_benchmark.py: one sample of a run on a stopped and on
a running server, two campaigns validated."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "startup_benchmark.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_one_sample_reports_each_situation_asked_for() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--samples",
            "1",
            "--situations",
            "stopped,running",
            "--campaigns",
            "branin*.yaml",
        ],
        capture_output=True,
        text=True,
        timeout=170,
        check=True,
        # Not Prefect's default port, which another test may be starting a server on.
        env={**os.environ, "PREFECT_SERVER_API_PORT": str(free_port())},
    )
    report = completed.stdout
    assert report.startswith("## Start-up, ")
    for row in (
        r"\| `tansaku validate`, each of the 3 example campaigns \| 3 \| [0-9.]+ \|",
        r"\| `tansaku run` → first proposal, server stopped \(the run starts it\) \| 1 \| [0-9.]+",
        r"\| `tansaku run` → first proposal, server running \| 1 \| [0-9.]+",
        r"\| `tansaku server start`, server stopped \| 1 \| [0-9.]+",
    ):
        assert re.search(row, report), row
    assert "Prefect home never used" not in report
    assert re.search(r"medians: [0-9.]+ s \(stopped\)\.", report)
    assert "branin-currin.yaml" in report and "hartmann6.yaml" not in report.split("`validate`")[-1]
