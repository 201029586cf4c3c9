"""What publishing the Prefect artifacts costs the loop: a dry run with them and without.

Runs ``campaigns/branin.yaml`` (budget cut to ``--budget``) as a dry run, in this process,
against a background Prefect server of its own, alternating runs with artifacts and runs
with publishing switched off, ``--repeats`` times each. Prints, as Markdown, the median
wall time per experiment of each, their ratio, and the time spent publishing (table,
summary and progress calls together) per publication. The server is stopped at the end.

Usage: ``.venv/bin/python benchmarks/artifact_overhead.py [--repeats N] [--budget N]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4, help="runs of each kind")
    parser.add_argument("--budget", type=int, default=15, help="experiments per run")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tansaku-artifact-overhead-"))
    # A Prefect home of its own, set before Prefect is imported: the user's is not touched.
    os.environ["PREFECT_HOME"] = str(workdir / "prefect")
    for variable in ("PREFECT_API_URL", "PREFECT_PROFILE"):
        os.environ.pop(variable, None)

    from reporting import command_line, log, markdown_table

    from tansaku.campaign.loading import load_campaign
    from tansaku.flows import artifacts
    from tansaku.flows.prefect_server import ensure_server, stop_server
    from tansaku.flows.runner import deliver_prefect_backlog, run_campaign

    campaign = workdir / "branin.yaml"
    campaign.write_text(
        (REPO / "campaigns" / "branin.yaml")
        .read_text()
        .replace("budget: {experiments: 30}", f"budget: {{experiments: {args.budget}}}")
    )
    loaded = load_campaign(campaign)
    publishing: list[float] = []
    publish = artifacts.CampaignArtifacts.publish

    def timed_publish(self: artifacts.CampaignArtifacts) -> None:
        started = time.perf_counter()
        publish(self)
        publishing.append(time.perf_counter() - started)

    def no_publish(self: artifacts.CampaignArtifacts) -> None:
        del self

    log("starting the background Prefect server")
    ensure_server(workdir / "prefect")
    per_experiment: dict[str, list[float]] = {"with artifacts": [], "without": []}
    published_runs = 0.0
    try:
        # One run first, unmeasured: imports, torch and the server's first queries.
        run_campaign(loaded, workdir / "warm-up", dry_run=True)
        for repeat in range(args.repeats):
            for kind in per_experiment:
                artifacts.CampaignArtifacts.publish = (
                    timed_publish if kind == "with artifacts" else no_publish
                )
                started = time.perf_counter()
                outcome = run_campaign(loaded, workdir / f"{kind}-{repeat}", dry_run=True)
                seconds = time.perf_counter() - started
                assert outcome.stop_reason and "budget reached" in outcome.stop_reason
                per_experiment[kind].append(seconds / args.budget)
                if kind == "with artifacts":
                    published_runs += seconds
                log(f"{kind} #{repeat + 1}: {seconds:.1f} s")
        deliver_prefect_backlog()
    finally:
        artifacts.CampaignArtifacts.publish = publish
        stop_server(workdir / "prefect")

    with_, without = (statistics.median(v) for v in per_experiment.values())
    rows = [
        [kind, f"{statistics.median(v) * 1000:.0f}", " ".join(f"{s * 1000:.0f}" for s in v)]
        for kind, v in per_experiment.items()
    ]
    print(f"# Prefect artifacts: overhead per experiment\n\n`{command_line()}`\n")
    print(markdown_table(["dry run", "median ms / experiment", "each run (ms)"], rows))
    print(f"\nratio with / without: **{with_ / without:.3f}** (wall time: noisy on a busy machine)")
    print(
        f"\npublishing (ledger read, table, summary, progress): median "
        f"{statistics.median(publishing) * 1000:.1f} ms per publication, max "
        f"{max(publishing) * 1000:.1f} ms, {len(publishing)} publications in "
        f"{args.repeats * args.budget} experiments; load average {os.getloadavg()[0]:.1f}"
    )
    # Measured directly, so the machine's noise in whole-run times does not hide it.
    print(
        f"\nshare of the runs with artifacts spent publishing: "
        f"**{sum(publishing) / published_runs:.1%}**; one publication per result would "
        f"cost about {statistics.median(publishing) / without:.0%} of an experiment"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
