"""Smoke tests of benchmarks/ax_baseline.py: one seed of short runs, and the same report
rendered again from its JSON.

The Ax arms need Ax (the ``bench`` extra) and are skipped where it is not installed, as in
CI; the tansaku arm runs with Ax hidden, so it is checked to need none.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from importlib import metadata
from itertools import pairwise
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ax_baseline.py"


def test_branin_one_seed_eight_evaluations(tmp_path: Path) -> None:
    pytest.importorskip("ax")
    output = tmp_path / "ax.json"
    command = [
        sys.executable,
        str(SCRIPT),
        "--seeds",
        "1",
        "--problems",
        "branin30",
        "--budget-override",
        "branin30=8",
        "--json",
        str(output),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)

    report = completed.stdout
    assert report.startswith("## Ax baseline, ")
    assert "| Branin/30 | Ax 1.3" in report
    assert "| Branin/30 | Sobol only | 1 | log10 regret |" in report

    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["problems"]["branin30"]["budget"] == 8
    runs = {run["arm"]: run for run in data["runs"]}
    assert len(runs) == 2 and "Sobol only" in runs
    for run in runs.values():
        assert run["seed"] == 0
        assert len(run["x"]) == len(run["y"]) == len(run["nodes"]) == 8
        # Best-so-far never rises; the final metric is log10(best - 0.397887).
        assert all(b <= a for a, b in pairwise(run["trace"]))
        assert run["final_metric"] == pytest.approx(math.log10(run["trace"][-1] - 0.397887))
    default = next(run for arm, run in runs.items() if arm != "Sobol only")
    assert default["nodes"][0] == "CenterOfSearchSpace"
    assert default["nodes"][-1] == "MBM"
    assert default["mbm_iterations"] == 3
    assert set(runs["Sobol only"]["nodes"]) == {"Sobol"}

    # The report rendered afterwards from the JSON is the live one, plus a line saying so.
    rendered = subprocess.run(
        [sys.executable, str(SCRIPT), "--report-from", str(output)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    extra = f"This report was rendered afterwards from `{output}` (`ax_baseline.py --report-from`)."
    assert rendered.replace(f"{extra}\n\n", "") == report


def without_ax(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import ax`` fails, whether or not Ax is installed."""
    hidden = tmp_path / "hidden" / "ax"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text('raise ImportError("Ax is hidden by the test")\n')
    path = os.pathsep.join(filter(None, [str(hidden.parent), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def test_tansaku_arms_run_without_ax(tmp_path: Path) -> None:
    env = without_ax(tmp_path)
    output = tmp_path / "tansaku.json"
    command = [
        sys.executable,
        str(SCRIPT),
        "--seeds",
        "1",
        "--problems",
        "branin30,branincurrin30",
        "--arms",
        "tansaku,tansaku_noise_free",
        "--budget-override",
        "branin30=8",
        "--budget-override",
        "branincurrin30=8",
        "--json",
        str(output),
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=True, env=env
    )

    arm = f"tansaku {metadata.version('tansaku')}"
    report = completed.stdout
    assert report.startswith("## Ax baseline, ")
    assert f"{arm}: tansaku's own proposer" in report
    assert "ax-platform" in report  # installed or not, the versions line says
    for row in (
        f"| Branin/30 | {arm} | 1 | log10 regret |",
        f"| BraninCurrin/30 | {arm} | 1 | log10 HV gap |",
        f"| BraninCurrin/30 | {arm} | ",  # the hypervolume table
    ):
        assert row in report
    assert report.count(f"| Branin/30 | {arm} |") == 3  # summary, per-seed metric and time

    exact = f"{arm}, noise_free"
    assert f"| Branin/30 | {exact} | 1 | log10 regret |" in report

    data = json.loads(output.read_text(encoding="utf-8"))
    assert sorted((run["problem"], run["arm"]) for run in data["runs"]) == [
        ("branin30", arm),
        ("branin30", exact),
        ("branincurrin30", arm),
        ("branincurrin30", exact),
    ]
    # Same seed, same Sobol start; only the model's noise differs.
    first = {(run["problem"], run["arm"]): run["x"][:5] for run in data["runs"]}
    assert first[("branin30", arm)] == first[("branin30", exact)]
    runs = {run["problem"]: run for run in data["runs"] if run["arm"] == arm}
    for run in runs.values():
        assert run["arm"] == arm and run["seed"] == 0
        assert len(run["x"]) == len(run["y"]) == len(run["gen_seconds"]) == 8
        # The default initial design, max(5, d + 1) = 5 Sobol points, then the GP.
        assert run["nodes"] == ["sobol"] * 5 + ["MBM"] * 3
        assert run["mbm_iterations"] == 3
        assert run["complete_seconds"] == [0.0] * 8
        assert math.isfinite(run["final_metric"])
        assert run["mbm_seconds_per_iteration"] > 0
    branin = runs["branin30"]
    assert all(b <= a for a, b in pairwise(branin["trace"]))
    assert branin["final_metric"] == pytest.approx(math.log10(branin["trace"][-1] - 0.397887))
    currin = runs["branincurrin30"]
    assert set(currin["y"][0]) == {"branin", "currin"}
    assert all(b >= a for a, b in pairwise(currin["trace"]))  # hypervolume never falls
    max_hv = data["problems"]["branincurrin30"]["max_hv"]
    assert currin["final_metric"] == pytest.approx(math.log10(max_hv - currin["trace"][-1]))

    rendered = subprocess.run(
        [sys.executable, str(SCRIPT), "--report-from", str(output)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    ).stdout
    extra = f"This report was rendered afterwards from `{output}` (`ax_baseline.py --report-from`)."
    assert rendered.replace(f"{extra}\n\n", "") == report


def test_ax_arms_without_ax_say_what_is_missing(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--arms", "tansaku,sobol", "--problems", "branin30"],
        capture_output=True,
        text=True,
        timeout=60,
        env=without_ax(tmp_path),
    )
    assert completed.returncode == 2
    assert "every arm but the tansaku arms needs Ax" in completed.stderr


def test_a_noisy_variant_tells_the_noise_and_scores_the_true_values(tmp_path: Path) -> None:
    output = tmp_path / "noisy.json"
    command = [
        sys.executable,
        str(SCRIPT),
        "--seeds",
        "2",
        "--problems",
        "branin30_noise5",
        "--arms",
        "tansaku,tansaku_noisy",
        "--budget-override",
        "branin30_noise5=7",
        "--json",
        str(output),
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=True, env=without_ax(tmp_path)
    )
    assert "| Branin/30, noise 5 % | tansaku " in completed.stdout
    data = json.loads(output.read_text(encoding="utf-8"))
    # 5 % of Branin's range over the box (about 308 - 0.4).
    assert data["problems"]["branin30_noise5"]["noise_sd"] == pytest.approx(15.2, abs=0.3)
    runs = {(run["arm"], run["seed"]): run for run in data["runs"]}
    assert len(runs) == 4
    for run in runs.values():
        told = [y["f"] for y in run["y"]]
        true = [y["f"] for y in run["true_y"]]
        assert len(told) == len(true) == 7 and told != true
        assert run["final_value"] == min(true)
    # The same noise for every arm of a seed (the same Sobol start, so the same values
    # told), different noise for another seed.
    auto = f"tansaku {metadata.version('tansaku')}"
    noisy = f"{auto}, noise_free: false"
    first = {key: [y["f"] for y in run["y"][:5]] for key, run in runs.items()}
    assert first[(auto, 0)] == first[(noisy, 0)] != first[(auto, 1)]
    assert runs[(auto, 0)]["nodes"][-1] == "MBM"
