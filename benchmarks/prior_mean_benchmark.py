"""Physics as the prior: experiments to the optimum with a prior mean, right-ish or wrong.

Problem: the polymer-film model of ``campaigns/film-anneal-serial.yaml``
(``tansaku.simulators.film``), conductance in mS maximised over anneal_temp_c in
[60, 250] °C (continuous) and stir_rpm in [100, 1200] (integer); the optimum is
1.3 mS at 165 °C and 600 rpm. Each experiment reads the model plus Gaussian noise of
sd 0.01 mS (the example's ``noise_sd``); experiments are scored by the noise-free value.

Arms (``tansaku.proposer.Proposer``, one experiment at a time, the campaign's defaults
otherwise):
- default: no prior mean (BoTorch's constant mean);
- right-ish: ``model: {prior_mean: tansaku.simulators.film:film_prior_ms}``, a textbook
  estimate with the optimum at 175 °C instead of 165, a peak 60 °C wide instead of 40,
  and no stirring effect;
- wrong: a prior of the same shape with its optimum at the far edge, 250 °C
  (:func:`wrong_prior_ms`).
Each arm runs with the default initial design (5 Sobol points) and with 2, where a prior
has more to give; the Sobol points of a seed are the same in every arm.

Reported: experiments until one lies within 1 % of the optimum (median and quartiles
over seeds; a run that never gets there counts as budget + 1), how many runs got there,
and the median gap to the optimum (% of it) of the best experiment after 5, 10 and 20.

Usage: ``nice -n 5 .venv/bin/python benchmarks/prior_mean_benchmark.py [--seeds 20]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import torch
from reporting import Spread, command_line, markdown_table, package_versions, versions_text

from tansaku.campaign.schema import Campaign
from tansaku.proposer import Observation, Proposer
from tansaku.simulators.film import film_conductance_ms

OPTIMUM_MS = 1.3
"""The film model's largest conductance, at 165 °C and 600 rpm."""
WITHIN = 0.01
"""An experiment within this fraction of the optimum counts as having found it."""
NOISE_SD = 0.01
CHECKPOINTS = (5, 10, 20)

ARMS: dict[str, str | None] = {
    "default": None,
    "right-ish": "tansaku.simulators.film:film_prior_ms",
    # The campaign names a prior by module; run as a script, this file is importable
    # as `prior_mean_benchmark` from its own folder, which is first on sys.path.
    "wrong": "prior_mean_benchmark:wrong_prior_ms",
}


def wrong_prior_ms(parameters: Mapping[str, float | int | str]) -> float:
    """A prior as confident as ``film_prior_ms`` but with the optimum at 250 °C, the far
    edge of the space (85 °C from the truth's)."""
    temperature_c = float(parameters["anneal_temp_c"])
    return 1.15 * math.exp(-(((temperature_c - 250.0) / 60.0) ** 2))


def film_campaign(
    seed: int, prior_mean: str | None, initial: int, settings: argparse.Namespace
) -> Campaign:
    spec: dict = {
        "name": "prior-mean-benchmark",
        "seed": seed,
        "budget": {"experiments": settings.budget},
        "space": [
            {"name": "anneal_temp_c", "type": "continuous", "bounds": [60, 250]},
            {"name": "stir_rpm", "type": "integer", "bounds": [100, 1200]},
        ],
        "objectives": [{"name": "conductance_ms", "goal": "maximize"}],
        "proposer": {
            "initial": {"n": initial},
            "num_restarts": settings.num_restarts,
            "raw_samples": settings.raw_samples,
        },
        "driver": {"type": "simulated"},
    }
    if prior_mean is not None:
        spec["model"] = {"prior_mean": prior_mean}
    return Campaign.model_validate(spec)


def run(
    seed: int, prior_mean: str | None, initial: int, settings: argparse.Namespace
) -> list[float]:
    """The noise-free conductance of each experiment of one campaign, in order."""
    proposer = Proposer(film_campaign(seed, prior_mean, initial, settings))
    noise = np.random.default_rng(seed)
    observations: list[Observation] = []
    values: list[float] = []
    while len(values) < settings.budget:
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=len(values))
        value = film_conductance_ms(proposal.parameters)
        observations.append(
            Observation(proposal.parameters, value + NOISE_SD * float(noise.standard_normal()))
        )
        values.append(value)
    return values


def experiments_to_optimum(values: Sequence[float], budget: int) -> int:
    """The 1-based index of the first experiment within ``WITHIN`` of the optimum, or
    ``budget + 1`` when none is."""
    for index, value in enumerate(values, start=1):
        if value >= (1 - WITHIN) * OPTIMUM_MS:
            return index
    return budget + 1


def gap_percent(values: Sequence[float], k: int) -> float:
    """How far the best of the first ``k`` experiments lies below the optimum, in %."""
    return 100 * (OPTIMUM_MS - max(values[:k])) / OPTIMUM_MS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--initial", default="5,2", help="initial design sizes to run")
    parser.add_argument("--num-restarts", type=int, default=4)
    parser.add_argument("--raw-samples", type=int, default=128)
    settings = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    started = time.perf_counter()
    results: dict[tuple[int, str], list[list[float]]] = {}
    for initial in (int(n) for n in settings.initial.split(",")):
        for arm in settings.arms.split(","):
            runs = results.setdefault((initial, arm), [])
            for seed in range(settings.seeds):
                runs.append(run(seed, ARMS[arm], initial, settings))
                found = experiments_to_optimum(runs[-1], settings.budget)
                print(
                    f"initial {initial} {arm} seed {seed}: optimum at experiment {found}",
                    file=sys.stderr,
                    flush=True,
                )
    report(settings, results, time.perf_counter() - started)
    return 0


def report(
    settings: argparse.Namespace,
    results: dict[tuple[int, str], list[list[float]]],
    total: float,
) -> None:
    versions = versions_text(package_versions(("torch", "botorch", "gpytorch")))
    print(f"## Physics as the prior (film model), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"`{command_line()}`; {os.cpu_count()} CPUs; {versions}; ")
    print(
        f"seeds 0..{settings.seeds - 1}; budget {settings.budget}; noise sd {NOISE_SD} mS; "
        f"num_restarts {settings.num_restarts}, raw_samples {settings.raw_samples}; took "
        f"{total / 60:.1f} min.\n"
    )
    checkpoints = [k for k in CHECKPOINTS if k <= settings.budget]
    headers = [
        "Initial",
        "Prior mean",
        f"Experiments to within {WITHIN:.0%} [IQR]",
        "Got there",
        *(f"Gap after {k} (%) [IQR]" for k in checkpoints),
    ]
    rows = []
    for (initial, arm), runs in results.items():
        found = Spread.of([experiments_to_optimum(r, settings.budget) for r in runs])
        reached = sum(experiments_to_optimum(r, settings.budget) <= settings.budget for r in runs)
        cells = []
        for k in checkpoints:
            gap = Spread.of([gap_percent(r, k) for r in runs])
            cells.append(f"{gap.median:.1f} [{gap.q1:.1f}, {gap.q3:.1f}]")
        rows.append(
            [
                str(initial),
                arm,
                f"{found.median:g} [{found.q1:g}, {found.q3:g}]",
                f"{reached}/{len(runs)}",
                *cells,
            ]
        )
    print(markdown_table(headers, rows))
    print(
        f"\nA run that never came within {WITHIN:.0%} counts as {settings.budget + 1} experiments."
    )


if __name__ == "__main__":
    sys.exit(main())
