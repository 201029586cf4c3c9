"""``proposer.acquisition``: each type computes its textbook formula, an explicit choice is
used and recorded, the purposes' defaults are unchanged, and mistakes are refused."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import mpmath
import pytest
import torch
from scipy.stats import norm

from tansaku.campaign.proposer_settings import (
    ExpectedImprovement,
    NoisyExpectedImprovement,
    ProbabilityOfImprovement,
    UpperConfidenceBound,
)
from tansaku.campaign.schema import Campaign
from tansaku.proposer import Observation, Proposer
from tansaku.proposer.acquisition import best_and_spread, build_acquisition
from tansaku.proposer.model import fit_model
from tests.conftest import REPO, campaign_problems, tansaku, write_campaign

# Eight results of a bumpy function on [0, 1]^2 in large units, and three points to score.
TRAIN_X = torch.rand(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
TRAIN_Y = (torch.sin(6 * TRAIN_X[:, :1]) + TRAIN_X[:, 1:] ** 2) * 40.0
POINTS = torch.tensor([[0.2, 0.3], [0.55, 0.9], [0.95, 0.05]], dtype=torch.float64)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return fit_model(TRAIN_X, TRAIN_Y, torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64))


def posterior_at(model: torch.nn.Module, points: torch.Tensor) -> zip:
    """(mean, standard deviation) of the model at each point."""
    with torch.no_grad():
        # One point at a time, as an analytic acquisition asks for them.
        posterior = model.posterior(points.unsqueeze(-2))
    means, variances = posterior.mean[:, 0, 0], posterior.variance[:, 0, 0]
    return zip(means.tolist(), variances.sqrt().tolist(), strict=True)


def values_at(acquisition: torch.nn.Module, points: torch.Tensor) -> list[float]:
    with torch.no_grad():
        return acquisition(points.unsqueeze(-2)).tolist()


@pytest.mark.parametrize("xi", [0.0, 0.01, 0.5])
def test_ei_is_the_textbook_closed_form_with_xi_in_standard_deviations_of_the_results(
    model: torch.nn.Module, xi: float
) -> None:
    acquisition = build_acquisition(ExpectedImprovement(type="ei", xi=xi), model, TRAIN_X, TRAIN_Y)
    assert type(acquisition).__name__ == "LogExpectedImprovement"
    f_best, spread = float(TRAIN_Y.max()), float(TRAIN_Y.std())
    assert best_and_spread(TRAIN_Y) == pytest.approx((f_best, spread))
    for (mu, sigma), log_ei in zip(
        posterior_at(model, POINTS), values_at(acquisition, POINTS), strict=True
    ):
        margin = mu - f_best - xi * spread
        z = margin / sigma
        textbook = margin * norm.cdf(z) + sigma * norm.pdf(z)
        # In float64 the textbook sum cancels where z < 0, so the exact value is computed
        # to 40 digits; BoTorch's log form approximates erfcx there, to about 1e-6.
        with mpmath.workdps(40):
            exact = float(margin * mpmath.ncdf(z) + sigma * mpmath.npdf(z))
        assert textbook == pytest.approx(exact, rel=1e-6)
        assert math.exp(log_ei) == pytest.approx(exact, rel=1e-5)


def test_a_batch_of_ei_uses_the_monte_carlo_version_with_the_same_shifted_incumbent(
    model: torch.nn.Module,
) -> None:
    spec = ExpectedImprovement(type="ei", xi=0.1)
    batch = build_acquisition(spec, model, TRAIN_X, TRAIN_Y, q=2)
    assert type(batch).__name__ == "qLogExpectedImprovement"
    f_best, spread = best_and_spread(TRAIN_Y)
    assert float(batch.best_f) == pytest.approx(f_best + 0.1 * spread)
    # For one point the Monte-Carlo estimate agrees with the closed form where an
    # improvement is not a rare event (z > -1; past that, 512 samples rarely see one).
    closed = build_acquisition(spec, model, TRAIN_X, TRAIN_Y)
    grid = torch.rand(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    likely = [
        point
        for point, (mu, sigma) in zip(grid, posterior_at(model, grid), strict=True)
        if mu - batch.best_f > -sigma
    ]
    assert len(likely) >= 5
    points = torch.stack(likely)
    for mc, exact in zip(values_at(batch, points), values_at(closed, points), strict=True):
        assert math.exp(mc) == pytest.approx(math.exp(exact), rel=0.05)


@pytest.mark.parametrize("xi", [0.0, 0.2])
def test_pi_is_the_probability_of_beating_the_best_by_xi(model: torch.nn.Module, xi: float) -> None:
    acquisition = build_acquisition(
        ProbabilityOfImprovement(type="pi", xi=xi), model, TRAIN_X, TRAIN_Y
    )
    f_best, spread = float(TRAIN_Y.max()), float(TRAIN_Y.std())
    for (mu, sigma), log_pi in zip(
        posterior_at(model, POINTS), values_at(acquisition, POINTS), strict=True
    ):
        expected = norm.cdf((mu - f_best - xi * spread) / sigma)
        assert math.exp(log_pi) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("beta", [0.5, 2.0, 9.0])
def test_ucb_is_the_mean_plus_root_beta_standard_deviations(
    model: torch.nn.Module, beta: float
) -> None:
    acquisition = build_acquisition(
        UpperConfidenceBound(type="ucb", beta=beta), model, TRAIN_X, TRAIN_Y
    )
    # The Monte-Carlo UCB (the screening default's class) estimates it from 512
    # quasi-random samples.
    for (mu, sigma), value in zip(
        posterior_at(model, POINTS), values_at(acquisition, POINTS), strict=True
    ):
        assert value == pytest.approx(mu + math.sqrt(beta) * sigma, abs=0.01 * sigma)


def test_with_a_target_xi_is_measured_from_the_closest_result(model: torch.nn.Module) -> None:
    spec = ExpectedImprovement(type="ei", xi=0.5)
    acquisition = build_acquisition(spec, model, TRAIN_X, TRAIN_Y, target=10.0)
    assert type(acquisition).__name__ == "qLogExpectedImprovement"
    closest = -float((TRAIN_Y - 10.0).abs().min())
    assert float(acquisition.best_f) == pytest.approx(closest + 0.5 * float(TRAIN_Y.std()))


def branin_campaign(acquisition: dict | None = None, **proposer: object) -> Campaign:
    settings = {"initial": {"n": 4}, "num_restarts": 2, "raw_samples": 32, **proposer}
    if acquisition is not None:
        settings["acquisition"] = acquisition
    return Campaign.model_validate(
        {
            "name": "choice",
            "seed": 2,
            "budget": {"experiments": 20},
            "space": [
                {"name": "x1", "type": "continuous", "bounds": [-5, 10]},
                {"name": "x2", "type": "continuous", "bounds": [0, 15]},
            ],
            "constraints": ["x1 + x2 <= 15"],
            "objectives": [{"name": "y", "goal": "minimize"}],
            "proposer": settings,
            "driver": {"type": "simulated"},
        }
    )


def branin(point: dict) -> float:
    x1, x2 = point["x1"], point["x2"]
    return (
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )


def first_model_proposals(campaign: Campaign, n: int = 1) -> list:
    proposer = Proposer(campaign)
    observations = [
        Observation(p.parameters, branin(p.parameters)) for p in proposer.suggest(4, [])
    ]
    return proposer.suggest(n, observations, proposed_so_far=4)


@pytest.mark.parametrize(
    ("acquisition", "batch", "used"),
    [
        (None, 1, "qLogNoisyExpectedImprovement"),
        ({"type": "nei"}, 1, "qLogNoisyExpectedImprovement"),
        ({"type": "ei", "xi": 0.01}, 1, "LogExpectedImprovement"),
        ({"type": "ei", "xi": 0.01}, 2, "qLogExpectedImprovement"),
        ({"type": "logei"}, 1, "qLogExpectedImprovement"),
        ({"type": "pi", "xi": 0.01}, 1, "LogProbabilityOfImprovement"),
        ({"type": "pi"}, 2, "qProbabilityOfImprovement"),
        ({"type": "ucb", "beta": 4}, 1, "qUpperConfidenceBound"),
        ({"type": "thompson"}, 1, "MaxPosteriorSampling"),
        ({"type": "thompson"}, 3, "MaxPosteriorSampling"),
    ],
)
def test_the_chosen_acquisition_proposes_inside_the_constraints_and_is_recorded(
    acquisition: dict | None, batch: int, used: str
) -> None:
    proposals = first_model_proposals(branin_campaign(acquisition), batch)
    assert len(proposals) == batch
    assert {p.details["acquisition"] for p in proposals} == {used}
    points = {(p.parameters["x1"], p.parameters["x2"]) for p in proposals}
    assert len(points) == batch
    assert all(x1 + x2 <= 15 + 1e-6 and -5 <= x1 <= 10 and 0 <= x2 <= 15 for x1, x2 in points)


def test_the_purposes_defaults_are_unchanged() -> None:
    optimize = branin_campaign().proposer.acquisition_for("optimize")
    assert optimize == NoisyExpectedImprovement(type="nei")
    screen = branin_campaign(ucb_beta=3.5).proposer.acquisition_for("screen")
    assert screen == UpperConfidenceBound(type="ucb", beta=3.5)
    explicit = branin_campaign({"type": "ei"}).proposer
    assert explicit.acquisition_for("screen") == ExpectedImprovement(type="ei", xi=0.0)


def test_thompson_sampling_chooses_distinct_unmeasured_rows_of_a_pool(tmp_path: Path) -> None:
    from tansaku.campaign.loading import load_campaign

    rows = [(x / 20, (x * 7 % 20) / 20) for x in range(20)]
    (tmp_path / "pool.csv").write_text("a,b\n" + "".join(f"{a},{b}\n" for a, b in rows))
    path = write_campaign(
        tmp_path,
        """
        name: pool
        budget: {experiments: 20}
        candidates: {path: pool.csv}
        space:
          - {name: a, type: continuous, bounds: [0, 1]}
          - {name: b, type: continuous, bounds: [0, 1]}
        objectives:
          - {name: y, goal: maximize}
        proposer: {initial: {n: 4}, acquisition: {type: thompson}}
        driver:
          type: simulated
          simulator: {type: function, function: "math:hypot"}
        """,
    )
    loaded = load_campaign(path)
    proposer = Proposer(loaded.campaign, candidates=loaded.candidates())
    observations = [
        Observation(p.parameters, p.parameters["a"] - p.parameters["b"])
        for p in proposer.suggest(4, [])
    ]
    proposals = proposer.suggest(5, observations, proposed_so_far=4)
    chosen = [(p.parameters["a"], p.parameters["b"]) for p in proposals]
    measured = {(o.parameters["a"], o.parameters["b"]) for o in observations}
    assert len(set(chosen)) == 5 and not set(chosen) & measured
    assert set(chosen) <= set(rows)
    assert {p.details["acquisition"] for p in proposals} == {"MaxPosteriorSampling"}


MISTAKES = [
    (
        "{type: eii}",
        "8:3: proposer.acquisition: Input tag 'eii' found using 'type' does not match any "
        "of the expected tags: 'ei', 'logei', 'nei', 'pi', 'ucb', 'thompson'",
    ),
    (
        "{type: ei, xi: -0.1}",
        "8:27: proposer.acquisition.xi: Input should be greater than or equal to 0 (got -0.1)",
    ),
    (
        "{type: ucb, beta: 0}",
        "8:28: proposer.acquisition.beta: Input should be greater than 0 (got 0)",
    ),
    (
        "{type: ei, beta: 2}",
        "8:27: proposer.acquisition.beta: unknown key 'beta'; expected one of: type, xi",
    ),
    (
        "{type: nei, xi: 0.01}",
        "8:28: proposer.acquisition.xi: unknown key 'xi'; expected one of: type",
    ),
]


@pytest.mark.parametrize(("acquisition", "expected"), MISTAKES)
def test_a_mistaken_acquisition_is_named_at_its_line(
    tmp_path: Path, acquisition: str, expected: str
) -> None:
    path = write_campaign(tmp_path, CAMPAIGN.format(acquisition=acquisition, extra=""))
    problems = campaign_problems(path)
    assert f"{path}:{expected}" in problems, problems


CAMPAIGN = """
    name: demo
    budget: {{experiments: 3}}
    space:
      - {{name: x1, type: continuous, bounds: [-5, 10]}}
    objectives:
      - {{name: y, goal: minimize}}
    proposer:
      acquisition: {acquisition}{extra}
    driver:
      type: simulated
      simulator: {{type: function, function: "math:sin"}}
"""


def test_ucb_beta_beside_an_acquisition_is_refused(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path, CAMPAIGN.format(acquisition="{type: ucb, beta: 3}", extra="\n      ucb_beta: 3")
    )
    assert (
        f"{path}:7:1: proposer: ucb_beta sets the screening default's beta and `acquisition` "
        "replaces that default: remove ucb_beta (write `acquisition: {type: ucb, beta: ...}` "
        "for an upper confidence bound)"
    ) in campaign_problems(path)


def test_an_acquisition_other_than_nei_is_refused_with_outcome_constraints(
    tmp_path: Path,
) -> None:
    text = CAMPAIGN.format(acquisition="{type: thompson}", extra="").replace(
        "    proposer:",
        "    outcomes:\n      - {name: purity}\n    outcome_constraints: ['purity >= 0.9']\n"
        "    proposer:",
    )
    path = write_campaign(tmp_path, text)
    assert (
        "proposer: acquisition 'thompson' applies to one unconstrained objective; with outcome "
        "constraints the proposer maximises noisy expected (hypervolume) improvement: remove "
        "proposer.acquisition or write `acquisition: {type: nei}`"
    ) in campaign_problems(path)
    write_campaign(tmp_path, text.replace("{type: thompson}", "{type: nei}"))
    from tansaku.campaign.loading import load_campaign

    assert load_campaign(path).campaign.proposer.acquisition == NoisyExpectedImprovement(type="nei")


def test_validate_reports_a_mistaken_acquisition_and_exits_2_without_torch(
    tmp_path: Path,
) -> None:
    path = write_campaign(tmp_path, CAMPAIGN.format(acquisition="{type: ei, beta: 2}", extra=""))
    result = tansaku("validate", path, cwd=tmp_path)
    assert result.returncode == 2
    assert "proposer.acquisition.beta: unknown key 'beta'" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    probe = (
        "import sys; from tansaku.campaign.loading import load_campaign; "
        f"load_campaign({str(path.with_name('ok.yaml'))!r}); print('torch' in sys.modules)"
    )
    write_campaign(
        tmp_path, CAMPAIGN.format(acquisition="{type: pi, xi: 0.1}", extra=""), "ok.yaml"
    )
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert imported.stdout.strip() == "False", imported.stderr


@pytest.mark.usefixtures("prefect_server")
def test_an_example_campaign_dry_runs_with_an_acquisition_override(tmp_path: Path) -> None:
    text = (REPO / "campaigns" / "branin.yaml").read_text()
    text = text.replace("budget: {experiments: 30}", "budget: {experiments: 6}")
    text += (
        "proposer:\n  initial: {n: 4}\n  num_restarts: 2\n  raw_samples: 32\n"
        "  acquisition: {type: ei, xi: 0.01}\n"
    )
    campaign = tmp_path / "branin.yaml"
    campaign.write_text(text)
    run = tansaku("run", campaign, "--dry-run", "--run-dir", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    exported = tmp_path / "branin.csv"
    result = tansaku("export", tmp_path / "run", "--format", "csv", "-o", exported, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with exported.open() as file:
        rows = list(csv.DictReader(file))
    assert [row["acquisition"] for row in rows if row["method"] == "gp"] == [
        "LogExpectedImprovement"
    ] * 2


def test_an_acquisition_is_refused_when_the_purpose_is_to_learn(tmp_path: Path) -> None:
    text = CAMPAIGN.format(acquisition="{type: ucb}", extra="").replace(
        "    proposer:", "    purpose: learn\n    proposer:"
    )
    path = write_campaign(tmp_path, text)
    assert (
        "proposer: purpose learn chooses where the model is least sure of the objective, so "
        "proposer.acquisition would not be used: remove it, or use purpose optimize or screen"
    ) in campaign_problems(path)
