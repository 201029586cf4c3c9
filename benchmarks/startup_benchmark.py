"""How long a user waits: `tansaku validate`, and `tansaku run` to its first proposal.

Measures, through the installed ``tansaku`` command in subprocesses, as a user runs it:

- ``validate``: the wall time of ``tansaku validate`` on every example campaign in
  ``campaigns/`` (once each, after one unmeasured call that warms the disk cache);
- ``run`` to the first proposal: from just before ``tansaku run CAMPAIGN --dry-run``
  starts to the first experiment's ``proposed_at`` in the run's ledger, for a dry run of
  ``campaigns/hartmann6.yaml`` (budget cut to 2), in three situations of the background
  Prefect server: **new** (a Prefect home never used: the run starts the server, which
  first creates its database), **stopped** (the home's database exists, no server runs:
  after a reboot) and **running** (the server is up, every later run);
- for comparison, the time ``tansaku server start`` takes to bring the server up (new and
  stopped), so the sum of that and a "running" first proposal is what a run waiting for
  its server before doing anything else would take.

Each situation is measured ``--samples`` times (default 5), each sample in a fresh
Prefect home for "new"; every server the benchmark starts is stopped at the end. Output:
a Markdown report on stdout, progress on stderr. Usage, from the repository root:

    .venv/bin/python benchmarks/startup_benchmark.py [--samples N]
        [--situations new,stopped,running] [--campaigns GLOB]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TANSAKU = Path(sys.executable).parent / "tansaku"
CAMPAIGN = REPO / "campaigns" / "hartmann6.yaml"
VALIDATE_TARGET_S = 1.0
FIRST_PROPOSAL_TARGET_S = 3.0


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def tansaku(*args: str | Path, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [str(TANSAKU), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PREFECT_HOME": str(home)},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"tansaku {' '.join(map(str, args))} failed: {completed.stderr}")
    return completed


def short_campaign(folder: Path) -> Path:
    """The demo campaign with a budget of 2: its first proposal is what is timed."""
    text = CAMPAIGN.read_text(encoding="utf-8")
    lines = [
        "budget: {experiments: 2}" if line.startswith("budget:") else line
        for line in text.splitlines()
    ]
    path = folder / CAMPAIGN.name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def first_proposal_seconds(home: Path, work: Path, campaign: Path, name: str) -> float:
    """Seconds from launching a dry run to its first proposal in the ledger."""
    launched = datetime.now(UTC)
    tansaku("run", campaign, "--dry-run", "--run-dir", f"runs/{name}", home=home, cwd=work)
    with sqlite3.connect(work / "runs" / name / "ledger.sqlite") as ledger:
        (proposed,) = ledger.execute("SELECT min(proposed_at) FROM experiments").fetchone()
    return (datetime.fromisoformat(proposed).replace(tzinfo=UTC) - launched).total_seconds()


def server_start_seconds(home: Path, work: Path) -> float:
    started = time.perf_counter()
    tansaku("server", "start", home=home, cwd=work)
    return time.perf_counter() - started


def validate_seconds(work: Path, pattern: str) -> dict[str, float]:
    home = work / "prefect-validate"
    campaigns = sorted((REPO / "campaigns").glob(pattern))
    tansaku("validate", campaigns[0], home=home, cwd=REPO)
    seconds = {}
    for path in campaigns:
        started = time.perf_counter()
        tansaku("validate", path, home=home, cwd=REPO)
        seconds[path.name] = time.perf_counter() - started
    return seconds


def measure(samples: int, work: Path, situations: Sequence[str]) -> dict[str, list[float]]:
    """First-proposal and server-start seconds, ``samples`` of each, for ``situations``
    (some of ``SITUATIONS``)."""
    campaign = short_campaign(work)
    times: dict[str, list[float]] = {key: [] for key in RUN_ROWS}
    home = work / "prefect-reused"
    for i in range(samples):
        if "new" in situations:
            new_home = work / f"prefect-new-{i}"
            log(f"sample {i + 1}/{samples}: new Prefect home")
            times["new"].append(first_proposal_seconds(new_home, work, campaign, f"new-{i}"))
            tansaku("server", "stop", home=new_home, cwd=work)
            times["server new"].append(server_start_seconds(work / f"prefect-start-{i}", work))
            tansaku("server", "stop", home=work / f"prefect-start-{i}", cwd=work)
        if "stopped" in situations:
            log(f"sample {i + 1}/{samples}: server stopped")
            tansaku("server", "stop", home=home, cwd=work)
            times["stopped"].append(first_proposal_seconds(home, work, campaign, f"stopped-{i}"))
            tansaku("server", "stop", home=home, cwd=work)
            times["server stopped"].append(server_start_seconds(home, work))
        if "running" in situations:
            log(f"sample {i + 1}/{samples}: server running")
            tansaku("server", "start", home=home, cwd=work)
            times["running"].append(first_proposal_seconds(home, work, campaign, f"running-{i}"))
    tansaku("server", "stop", home=home, cwd=work)
    return {key: values for key, values in times.items() if values}


SITUATIONS = ("new", "stopped", "running")


RUN_ROWS = {
    "new": "`tansaku run` → first proposal, Prefect home never used (the run starts the server)",
    "stopped": "`tansaku run` → first proposal, server stopped (the run starts it)",
    "running": "`tansaku run` → first proposal, server running",
    "server new": "`tansaku server start`, Prefect home never used",
    "server stopped": "`tansaku server start`, server stopped",
}


def report(validate: dict[str, float], times: dict[str, list[float]], command: str) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"## Start-up, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{command}`; {os.cpu_count()} CPUs, 1-minute load at the end {load:.2f}.",
        "",
        "| Measurement | Samples | Median (s) | Max (s) | Target (s) |",
        "|---|---|---|---|---|",
        f"| `tansaku validate`, each of the {len(validate)} example campaigns | "
        f"{len(validate)} | {statistics.median(validate.values()):.2f} | "
        f"{max(validate.values()):.2f} | < {VALIDATE_TARGET_S:g} |",
    ]
    for key, label in RUN_ROWS.items():
        if key not in times:
            continue
        values = times[key]
        target = "" if key.startswith("server") else f"≤ {FIRST_PROPOSAL_TARGET_S:g}"
        lines.append(
            f"| {label} | {len(values)} | {statistics.median(values):.2f} | "
            f"{max(values):.2f} | {target} |"
        )
    running = statistics.median(times["running"]) if "running" in times else None
    waited = [
        f"{statistics.median(times[f'server {situation}']) + running:.2f} s ({situation})"
        for situation in ("new", "stopped")
        if f"server {situation}" in times and running is not None
    ]
    if waited:
        lines += [
            "",
            "A run that waited for its server before anything else would take the server's "
            "start plus a running-server first proposal, medians: " + ", ".join(waited) + ".",
        ]
    lines += [
        "",
        "`validate` per campaign (s): "
        + ", ".join(f"{name} {value:.2f}" for name, value in validate.items()),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=5, help="samples per situation")
    parser.add_argument(
        "--situations",
        default=",".join(SITUATIONS),
        help=f"comma-separated subset of {','.join(SITUATIONS)} (default: all)",
    )
    parser.add_argument(
        "--campaigns", default="*.yaml", help="which example campaigns to validate (a glob)"
    )
    args = parser.parse_args(argv)
    situations = [s.strip() for s in args.situations.split(",") if s.strip()]
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    if not situations or set(situations) - set(SITUATIONS):
        parser.error(f"--situations: expected some of {','.join(SITUATIONS)}")
    if not list((REPO / "campaigns").glob(args.campaigns)):
        parser.error(f"--campaigns {args.campaigns!r} matches no file in campaigns/")
    with tempfile.TemporaryDirectory(prefix="tansaku-startup-") as folder:
        work = Path(folder)
        log("validate")
        validate = validate_seconds(work, args.campaigns)
        times = measure(args.samples, work, situations)
    print(report(validate, times, " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])))


if __name__ == "__main__":
    main()
