"""End-to-end benchmark of the tansaku loop, run through the real ``tansaku`` CLI.

Reports, as Markdown tables on stdout (progress goes to stderr):

(a) final simple regret of tansaku and of a Sobol-only design on Branin (30 experiments)
    and Hartmann6 (35 experiments), one dry run per seed, next to reference figures;
(b) the time of each model-based iteration split into proposer, driver and orchestration
    (Prefect and the ledger), at about 30 and about 200 observations;
(c) start-up: ``tansaku validate`` wall time, and the time from launching ``tansaku run``
    to the first proposal in the ledger, with the background Prefect server cold and warm.

Every campaign is a YAML file derived from ``campaigns/*.yaml`` and run as
``tansaku run FILE --dry-run --run-dir DIR`` in a subprocess; results are read back from
the run's ledger. All runs share one Prefect home (and so one background Prefect server),
which the script stops at the end.

Usage: ``.venv/bin/python benchmarks/loop_benchmark.py [--seeds N] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from reporting import (
    Spread,
    load_summary,
    log,
    log10_gap,
    markdown_table,
    package_versions,
    versions_text,
)

from tansaku.campaign.loading import parse_campaign
from tansaku.flows.prefect_server import stop_server
from tansaku.ledger import ExperimentRecord, Ledger
from tansaku.simulators.benchmarks import BENCHMARKS

REPO = Path(__file__).resolve().parents[1]
TANSAKU = Path(sys.executable).with_name("tansaku")
VALIDATE_REPEATS = 5

VERSIONED = ("tansaku", "torch", "botorch", "gpytorch", "prefect")
"""The packages that shape the figures, whose versions the report gives."""

ORCHESTRATION_TARGET_MS = 100.0
VALIDATE_TARGET_S = 1.0
FIRST_PROPOSAL_TARGET_S = 5.0


@dataclass(frozen=True)
class BenchmarkCase:
    """A benchmark campaign: its template file, simulator function and budget."""

    label: str
    template: Path
    function: str
    budget: int


CASES = (
    BenchmarkCase("Branin/30", REPO / "campaigns" / "branin.yaml", "branin", 30),
    BenchmarkCase("Hartmann6/35", REPO / "campaigns" / "hartmann6.yaml", "hartmann6", 35),
)

REFERENCES: dict[str, dict[str, float]] = {
    "Branin/30": {"plain BoTorch qLogEI loop": -2.14, "Ax 1.3 default": -2.30},
    "Hartmann6/35": {"plain BoTorch qLogEI loop": -1.14, "Ax 1.3 default": -1.19},
}
"""Median log10 simple regret over 10 seeds, measured by someone else on this machine."""
REFERENCE_SEEDS = 10

TIMING_DESIGNS = ((36, 28), (208, 198))
"""(budget, initial Sobol n) of the Hartmann6 runs timed in (b): GP at N=28..35, 198..207."""


@dataclass(frozen=True)
class CliRun:
    """One finished ``tansaku run`` subprocess and its ledger."""

    records: list[ExperimentRecord]
    launched_at: datetime
    wall_seconds: float
    load_before: float
    """The machine's 1-minute load average just before the launch."""

    @property
    def first_proposal_seconds(self) -> float:
        """From just before the subprocess started to the first proposal's ``proposed_at``."""
        return (self.records[0].proposed_at - self.launched_at).total_seconds()


@dataclass(frozen=True)
class IterationTime:
    """Seconds spent in one model-based iteration, between two consecutive proposals."""

    observations: int
    wall: float
    proposer: float
    fit: float
    acquisition: float
    driver: float

    @property
    def orchestration(self) -> float:
        """Prefect and the ledger: whatever the proposer and the driver do not account for."""
        return self.wall - self.proposer - self.driver


def campaign_text(template: Path, *, seed: int, budget: int, initial_n: int | None = None) -> str:
    """``template`` with another seed and budget and, if given, another initial Sobol size.

    The other proposer settings (num_restarts, raw_samples, ...) stay as the template has
    them. The text is checked with the product's own validation before it is returned.
    """
    data: dict[str, Any] = yaml.safe_load(template.read_text(encoding="utf-8"))
    data["seed"] = seed
    data["budget"] = {**data["budget"], "experiments": budget}
    if initial_n is not None:
        data["proposer"] = {
            **data.get("proposer", {}),
            "initial": {"method": "sobol", "n": initial_n},
        }
    text = yaml.safe_dump(data, sort_keys=False)
    parse_campaign(text, template)
    return text


def run_cli(campaign: str, folder: Path, env: dict[str, str]) -> CliRun:
    """Write ``campaign`` to ``folder``, dry-run it with ``tansaku run``, read its ledger."""
    folder.mkdir(parents=True)
    campaign_file = folder / "campaign.yaml"
    campaign_file.write_text(campaign, encoding="utf-8")
    run_dir = folder / "run"
    command = [str(TANSAKU), "run", str(campaign_file), "--dry-run", "--run-dir", str(run_dir)]
    with (folder / "output.txt").open("wb") as output:
        load_before = os.getloadavg()[0]
        launched_at = datetime.now(UTC)
        started = time.perf_counter()
        completed = subprocess.run(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {completed.returncode}; see {folder / 'output.txt'}"
        )
    ledger = Ledger.open(run_dir, create=False)
    try:
        records = ledger.experiments()
    finally:
        ledger.close()
    return CliRun(records, launched_at, wall, load_before)


def time_validate(env: dict[str, str]) -> float:
    """Wall seconds of one ``tansaku validate campaigns/hartmann6.yaml``."""
    command = [str(TANSAKU), "validate", str(REPO / "campaigns" / "hartmann6.yaml")]
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def log10_regret(records: Sequence[ExperimentRecord], minimum: float) -> float:
    """log10 of (best objective found - global minimum), for a minimised objective."""
    best = min(r.objective for r in records if r.status == "done" and r.objective is not None)
    return log10_gap(best - minimum)


def gp_iterations(records: Sequence[ExperimentRecord]) -> list[IterationTime]:
    """The time split of every model-based proposal after the previous experiment's result.

    The wall time runs from the previous proposal's ``proposed_at`` to this one's; in it
    the previous experiment is measured (its ``driver_seconds``) and this proposal is
    computed (its ``suggest_seconds``). Assumes one experiment per batch, as in these runs.
    """
    times = []
    for previous, current in pairwise(records):
        if current.method != "gp":
            continue
        assert previous.driver_seconds is not None, "the previous experiment has a result"
        details = current.proposer
        times.append(
            IterationTime(
                observations=int(details["observations"]),
                wall=(current.proposed_at - previous.proposed_at).total_seconds(),
                proposer=float(details["suggest_seconds"]),
                fit=float(details["fit_seconds"]),
                acquisition=float(details["acquisition_seconds"]),
                driver=previous.driver_seconds,
            )
        )
    return times


def verdict(met: bool) -> str:
    """How a target reads in the report."""
    return "met" if met else "NOT met"


def regret_section(
    regrets: dict[tuple[str, str], list[float]],
    walls: dict[tuple[str, str], list[float]],
    seeds: int,
) -> str:
    """Tables for (a): the spread per problem and arm, references, and every seed's value."""
    summary_rows = []
    seed_rows = []
    for case in CASES:
        for arm in (a for label, a in regrets if label == case.label):
            values = regrets[case.label, arm]
            spread = Spread.of(values)
            summary_rows.append(
                [
                    case.label,
                    arm,
                    str(seeds),
                    f"{spread.median:.2f}",
                    f"[{spread.low:.2f}, {spread.high:.2f}]",
                    f"[{spread.q1:.2f}, {spread.q3:.2f}]",
                    f"{np.median(walls[case.label, arm]):.1f}",
                ]
            )
            seed_rows.append([case.label, arm, *(f"{value:.2f}" for value in values)])
        for name, value in REFERENCES[case.label].items():
            summary_rows.append(
                [
                    case.label,
                    f"{name} (reference)",
                    str(REFERENCE_SEEDS),
                    f"{value:.2f}",
                    "n/a",
                    "n/a",
                    "n/a",
                ]
            )
    summary = markdown_table(
        [
            "Problem",
            "Arm",
            "Seeds",
            "Median log10 regret",
            "[Min, max]",
            "IQR [Q1, Q3]",
            "Median run wall (s)",
        ],
        summary_rows,
    )
    per_seed = markdown_table(
        ["Problem", "Arm", *(f"seed {seed}" for seed in range(seeds))], seed_rows
    )
    return (
        "### (a) Final simple regret, log10(best found - global minimum)\n\n"
        f"{summary}\n\n"
        "References: measured by someone else on this machine, 10 seeds, median only.\n\n"
        f"Per seed:\n\n{per_seed}"
    )


def timing_section(timings: dict[tuple[int, int], list[IterationTime]]) -> str:
    """The table for (b), and whether orchestration met its target at ~200 observations."""

    def cell(values: Sequence[float]) -> str:
        return f"{1000 * float(np.median(values)):.0f} ({1000 * max(values):.0f})"

    rows = []
    for (budget, initial), times in timings.items():
        observations = [t.observations for t in times]
        rows.append(
            [
                f"{budget} / {initial}",
                f"{min(observations)}..{max(observations)}",
                str(len(times)),
                cell([t.wall for t in times]),
                cell([t.proposer for t in times]),
                cell([t.fit for t in times]),
                cell([t.acquisition for t in times]),
                cell([t.driver for t in times]),
                cell([t.orchestration for t in times]),
            ]
        )
    table = markdown_table(
        [
            "Budget / initial n",
            "N observations",
            "GP iterations",
            "Wall",
            "Proposer",
            "of which fit",
            "of which acquisition",
            "Driver",
            "Orchestration",
        ],
        rows,
    )
    worst = max(t.orchestration for t in timings[TIMING_DESIGNS[-1]]) * 1000
    return (
        "### (b) Per-iteration time of model-based iterations (Hartmann6 dry runs, seed 0)\n\n"
        "Milliseconds, median (max). Wall: between consecutive `proposed_at`; proposer: "
        "`suggest_seconds`; driver: previous experiment's `driver_seconds`; "
        "orchestration = wall - proposer - driver.\n\n"
        f"{table}\n\n"
        f"Target orchestration < {ORCHESTRATION_TARGET_MS:.0f} ms per iteration at ~200 "
        f"observations: {verdict(worst < ORCHESTRATION_TARGET_MS)} "
        f"(worst iteration {worst:.0f} ms)."
    )


def startup_section(
    validate_cold: float,
    validate_warm: Sequence[float],
    first_cold: float,
    first_warm: Sequence[float],
    cold_label: str,
) -> str:
    """The table for (c), and whether validation and the first proposal met their targets."""
    rows = [
        [
            "`tansaku validate campaigns/hartmann6.yaml`",
            "cold (stopped)",
            "1",
            f"{validate_cold:.2f}",
            f"{validate_cold:.2f}",
            f"< {VALIDATE_TARGET_S:.0f}",
        ],
        [
            "`tansaku validate campaigns/hartmann6.yaml`",
            "warm (running)",
            str(len(validate_warm)),
            f"{np.median(validate_warm):.2f}",
            f"{max(validate_warm):.2f}",
            f"< {VALIDATE_TARGET_S:.0f}",
        ],
        [
            f"`tansaku run` launch → first `proposed_at` ({cold_label})",
            "cold (stopped)",
            "1",
            f"{first_cold:.2f}",
            f"{first_cold:.2f}",
            f"< {FIRST_PROPOSAL_TARGET_S:.0f}",
        ],
        [
            "`tansaku run` launch → first `proposed_at` (every other run of (a))",
            "warm (running)",
            str(len(first_warm)),
            f"{np.median(first_warm):.2f}",
            f"{max(first_warm):.2f}",
            f"< {FIRST_PROPOSAL_TARGET_S:.0f}",
        ],
    ]
    table = markdown_table(
        ["Measurement", "Prefect server", "Samples", "Median (s)", "Max (s)", "Target (s)"],
        rows,
    )
    validate_met = float(np.median(validate_warm)) < VALIDATE_TARGET_S
    first_met = float(np.median(first_warm)) < FIRST_PROPOSAL_TARGET_S
    return (
        "### (c) Start-up\n\n"
        f"{table}\n\n"
        f"Target validate < {VALIDATE_TARGET_S:.0f} s (warm, median of {len(validate_warm)}): "
        f"{verdict(validate_met)}; cold: {validate_cold:.2f} s.\n"
        f"Target first proposal < {FIRST_PROPOSAL_TARGET_S:.0f} s (warm, median): "
        f"{verdict(first_met)}; cold start: {first_cold:.2f} s "
        f"({verdict(first_cold < FIRST_PROPOSAL_TARGET_S)})."
    )


def benchmark(seeds: int, workdir: Path) -> str:
    """Run every measurement with the Prefect home in ``workdir``; returns the report.

    The background Prefect server these runs start is stopped before returning.
    """
    home = workdir / "prefect-home"
    try:
        return _measure(seeds, workdir, home)
    finally:
        log(f"stopped the background Prefect server: {stop_server(home)}")


def _measure(seeds: int, workdir: Path, home: Path) -> str:
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    stop_server(home)

    log("(c) validate with the Prefect server stopped")
    validate_cold = time_validate(env)

    regrets: dict[tuple[str, str], list[float]] = {}
    walls: dict[tuple[str, str], list[float]] = {}
    first_proposals: list[float] = []
    loads: list[float] = []
    for case in CASES:
        minimum = BENCHMARKS[case.function].minimum
        for seed in range(seeds):
            dim = BENCHMARKS[case.function].dim or 2
            arms = (
                ("tansaku", None),
                # The common 2 x parameters Sobol start, for comparison with the default.
                ("tansaku, 2d Sobol start", 2 * dim),
                ("Sobol only", case.budget),
            )
            for arm, initial_n in arms:
                text = campaign_text(
                    case.template, seed=seed, budget=case.budget, initial_n=initial_n
                )
                slug = "".join(c if c.isalnum() else "-" for c in arm)
                folder = workdir / "regret" / f"{case.function}-{slug}-{seed}"
                state = "cold" if not first_proposals else "warm"
                log(f"(a) {case.label} {arm} seed {seed} (Prefect server {state})")
                run = run_cli(text, folder, env)
                value = log10_regret(run.records, minimum)
                regrets.setdefault((case.label, arm), []).append(value)
                walls.setdefault((case.label, arm), []).append(run.wall_seconds)
                first_proposals.append(run.first_proposal_seconds)
                loads.append(run.load_before)
                log(
                    f"    log10 regret {value:.2f}, first proposal after "
                    f"{run.first_proposal_seconds:.2f} s, run {run.wall_seconds:.1f} s, "
                    f"load before {run.load_before:.2f}"
                )
    cold_label = f"first run of (a): {CASES[0].label} tansaku seed 0"

    log(f"(c) validate x{VALIDATE_REPEATS} with the Prefect server running")
    validate_warm = [time_validate(env) for _ in range(VALIDATE_REPEATS)]

    hartmann6 = CASES[1]
    timings: dict[tuple[int, int], list[IterationTime]] = {}
    for budget, initial in TIMING_DESIGNS:
        log(f"(b) Hartmann6 budget {budget}, initial Sobol n {initial}")
        text = campaign_text(hartmann6.template, seed=0, budget=budget, initial_n=initial)
        run = run_cli(text, workdir / "timing" / f"hartmann6-{budget}-{initial}", env)
        timings[budget, initial] = gp_iterations(run.records)
        loads.append(run.load_before)
        log(f"    run {run.wall_seconds:.1f} s, load before {run.load_before:.2f}")

    startup_text = startup_section(
        validate_cold, validate_warm, first_proposals[0], first_proposals[1:], cold_label
    )
    load_text = load_summary(loads, "`tansaku run` launches")
    return "\n\n".join(
        [load_text, regret_section(regrets, walls, seeds), timing_section(timings), startup_text]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep campaigns, ledgers and the Prefect home here (default: a temporary folder)",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="tansaku-bench-") as temporary:
            report = benchmark(args.seeds, Path(temporary))
    else:
        args.workdir.mkdir(parents=True, exist_ok=True)
        report = benchmark(args.seeds, args.workdir.resolve())
    versions = versions_text(package_versions(VERSIONED))
    print(
        f"## tansaku loop benchmark, {started_at:%Y-%m-%d %H:%M} UTC\n\n"
        f"{os.cpu_count()} CPUs; {versions}; seeds 0..{args.seeds - 1}.\n\n"
        f"{report}\n\n"
        f"Total benchmark wall time: {time.perf_counter() - started:.0f} s."
    )


if __name__ == "__main__":
    main()
