"""How honest ``tansaku predict`` is: the ±2 sd band's coverage and what extrapolation flags.

For Branin (2 inputs) and Hartmann6 (6 inputs), each seed records 30 experiments at
uniformly random points of the space (``OpenCampaign.add`` on a manual campaign: the
model is the campaign's own, as ``tansaku predict`` fits it), then predicts at 500 other
random points inside the bounds and 100 points beyond them (each input up to one range
outside), and reports, as Markdown on stdout, medians over seeds of:

- coverage: the fraction of points whose true value lies within mean ± 2 sd (95 % for a
  calibrated Gaussian);
- flagged: the fraction flagged as extrapolation;
- the coverage among flagged and unflagged points inside the bounds;
- beyond the bounds: the fraction flagged (it must be 1: outside the space); BoTorch
  evaluates the functions only inside their box, so there is no coverage there.

Usage: ``.venv/bin/python benchmarks/predict_calibration.py [--seeds 20] [--points 30]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import tansaku
from tansaku.simulators.benchmarks import BenchmarkSimulator

PROBLEMS = {
    "branin": [("x1", -5.0, 10.0), ("x2", 0.0, 15.0)],
    "hartmann6": [(f"x{i}", 0.0, 1.0) for i in range(1, 7)],
}


def campaign_text(problem: str, seed: int) -> str:
    space = "".join(
        f"  - {{name: {name}, type: continuous, bounds: [{low}, {high}]}}\n"
        for name, low, high in PROBLEMS[problem]
    )
    return (
        f"name: calibration-{problem}\nseed: {seed}\nbudget: {{experiments: 1000}}\n"
        f"space:\n{space}objectives:\n  - {{name: y, goal: minimize}}\n"
        "driver: {type: manual}\n"
    )


def one_seed(problem: str, seed: int, points: int, folder: Path) -> dict[str, float]:
    bounds = PROBLEMS[problem]
    names = [name for name, _, _ in bounds]
    low = np.array([b[1] for b in bounds])
    high = np.array([b[2] for b in bounds])
    simulator = BenchmarkSimulator(problem, names)
    rng = np.random.default_rng(seed)

    def truth(rows: np.ndarray) -> np.ndarray:
        return np.array([simulator(dict(zip(names, r, strict=True))) for r in rows])

    path = folder / f"{problem}-{seed}.yaml"
    path.write_text(campaign_text(problem, seed))
    design = low + (high - low) * rng.random((points, len(names)))
    with tansaku.open(path, run_dir=folder / f"{problem}-{seed}") as campaign:
        for row, y in zip(design, truth(design), strict=True):
            campaign.add({**dict(zip(names, map(float, row), strict=True)), "y": float(y)})
        inside = low + (high - low) * rng.random((500, len(names)))
        beyond = low + (high - low) * (3 * rng.random((100, len(names))) - 1)
        beyond = beyond[((beyond < low) | (beyond > high)).any(axis=1)]
        frame = campaign.predict([dict(zip(names, map(float, r), strict=True)) for r in inside])
        covered = np.abs(frame["mean"].to_numpy() - truth(inside)) <= 2 * frame["sd"].to_numpy()
        flagged = frame["extrapolating"].to_numpy()
        outside = campaign.predict([dict(zip(names, map(float, r), strict=True)) for r in beyond])
    return {
        "inside_coverage": covered.mean(),
        "inside_flagged": flagged.mean(),
        "coverage_unflagged": covered[~flagged].mean(),
        "coverage_flagged": covered[flagged].mean() if flagged.any() else np.nan,
        # BoTorch evaluates the functions only inside their box: no truth beyond it.
        "beyond_flagged": outside["extrapolating"].mean(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--points", type=int, default=30)
    args = parser.parse_args()
    columns = [
        "inside_coverage", "inside_flagged", "coverage_unflagged", "coverage_flagged",
        "beyond_flagged",
    ]  # fmt: skip
    print(f"{args.points} random experiments, {args.seeds} seeds; medians over seeds\n")
    print("| problem | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    with tempfile.TemporaryDirectory() as workdir:
        for problem in PROBLEMS:
            runs = []
            for seed in range(args.seeds):
                print(f"{problem} seed {seed}", file=sys.stderr)
                runs.append(one_seed(problem, seed, args.points, Path(workdir)))
            medians = [np.nanmedian([r[c] for r in runs]) for c in columns]
            print(f"| {problem} | " + " | ".join(f"{m:.2f}" for m in medians) + " |")


if __name__ == "__main__":
    main()
