"""The proposer never leaves the space, is reproducible, and learns from observations."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tansaku.campaign.parameters import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Parameter,
)
from tansaku.campaign.schema import Campaign
from tansaku.proposer import Observation, Proposer
from tansaku.proposer.encoding import SpaceEncoding


def make_campaign(
    space: list[Parameter], initial: int = 4, batch: int = 1, seed: int = 0, goal: str = "minimize"
) -> Campaign:
    return Campaign.model_validate(
        {
            "name": "prop",
            "seed": seed,
            "budget": {"experiments": 100},
            "space": [p.model_dump() for p in space],
            "objectives": [{"name": "y", "goal": goal}],
            "proposer": {
                "initial": {"n": initial},
                "batch_size": batch,
                "num_restarts": 2,
                "raw_samples": 32,
            },
            "driver": {"type": "simulated"},
        }
    )


def assert_inside(space: list[Parameter], point: dict) -> None:
    assert list(point) == [p.name for p in space]
    for p in space:
        value = point[p.name]
        if isinstance(p, CategoricalParameter):
            assert value in p.values
        elif isinstance(p, IntegerParameter):
            assert isinstance(value, int)
            assert p.bounds[0] <= value <= p.bounds[1]
        else:
            assert isinstance(value, float) and math.isfinite(value)
            assert p.bounds[0] <= value <= p.bounds[1]


@st.composite
def spaces(draw: st.DrawFn) -> list[Parameter]:
    count = draw(st.integers(1, 4))
    space: list[Parameter] = []
    for i in range(count):
        kind = draw(st.sampled_from(["continuous", "log", "integer", "categorical"]))
        if kind == "categorical":
            values = draw(
                st.lists(
                    st.text("abcxyz", min_size=1, max_size=3), min_size=1, max_size=4, unique=True
                )
            )
            space.append(CategoricalParameter(type="categorical", name=f"p{i}", values=values))
        elif kind == "integer":
            low = draw(st.integers(-50, 50))
            space.append(
                IntegerParameter(
                    type="integer", name=f"p{i}", bounds=(low, low + draw(st.integers(1, 20)))
                )
            )
        else:
            # Rounded: a campaign refuses numbers as tiny as 1e-299, which floats() draws.
            low = round(draw(st.floats(1e-3, 1e3) if kind == "log" else st.floats(-1e3, 1e3)), 6)
            width = round(draw(st.floats(1e-3, 1e3)), 6)
            space.append(
                ContinuousParameter(
                    type="continuous",
                    name=f"p{i}",
                    bounds=(low, low + width),
                    log_scale=kind == "log",
                )
            )
    return space


def objective(point: dict) -> float:
    """Any deterministic function of the point will do: the bounds are what is tested."""
    return sum(
        (hash(str(v)) % 97) / 97 if isinstance(v, str) else math.sin(float(v))
        for v in point.values()
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    space=spaces(),
    n_observations=st.integers(2, 6),
    batch=st.integers(1, 2),
    seed=st.integers(0, 2**16),
)
def test_proposals_never_leave_the_space(
    space: list[Parameter], n_observations: int, batch: int, seed: int
) -> None:
    proposer = Proposer(make_campaign(space, initial=n_observations, batch=batch, seed=seed))
    initial = proposer.suggest(n_observations, [], proposed_so_far=0)
    assert [p.method for p in initial] == ["sobol"] * n_observations
    observations = [Observation(p.parameters, objective(p.parameters)) for p in initial]
    for proposal in initial:
        assert_inside(space, proposal.parameters)
    model_based = proposer.suggest(batch, observations, proposed_so_far=n_observations)
    assert [p.method for p in model_based] == ["gp"] * batch
    for proposal in model_based:
        assert_inside(space, proposal.parameters)


def test_an_integer_of_a_billion_values_is_proposed_whole_and_inside_its_bounds() -> None:
    space: list[Parameter] = [
        IntegerParameter(type="integer", name="n", bounds=(0, 10**9)),
        CategoricalParameter(type="categorical", name="s", values=["a", "b"]),
    ]
    proposer = Proposer(make_campaign(space, initial=3))
    initial = proposer.suggest(3, [], proposed_so_far=0)
    observations = [Observation(p.parameters, objective(p.parameters)) for p in initial]
    (proposal,) = proposer.suggest(1, observations, proposed_so_far=3)
    assert proposal.method == "gp"
    assert_inside(space, proposal.parameters)


def test_encoding_round_trips_every_kind_of_parameter() -> None:
    space: list[Parameter] = [
        ContinuousParameter(type="continuous", name="t", bounds=(20, 200)),
        ContinuousParameter(type="continuous", name="c", bounds=(1e-3, 1), log_scale=True),
        IntegerParameter(type="integer", name="n", bounds=(1, 5)),
        CategoricalParameter(type="categorical", name="s", values=["water", "ethanol", 3]),
    ]
    encoding = SpaceEncoding(space)
    point = {"t": 42.0, "c": 0.01, "n": 3, "s": 3}
    row = encoding.encode(point)
    assert row == [42.0, -2.0, 3.0, 2.0]
    assert encoding.decode(row) == point
    assert encoding.decode([500.0, 1.0, 9.6, -1.0]) == {"t": 200.0, "c": 1.0, "n": 5, "s": "water"}
    assert encoding.from_unit([0.0, 0.0, 0.999, 0.5]) == {
        "t": 20.0,
        "c": 0.001,
        "n": 5,
        "s": "ethanol",
    }


def branin_campaign(seed: int = 0) -> Campaign:
    return make_campaign(
        [
            ContinuousParameter(type="continuous", name="x1", bounds=(-5, 10)),
            ContinuousParameter(type="continuous", name="x2", bounds=(0, 15)),
        ],
        initial=5,
        seed=seed,
    )


def branin(point: dict) -> float:
    x1, x2 = point["x1"], point["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def run_loop(proposer: Proposer, steps: int) -> tuple[list[dict], list[Observation]]:
    observations: list[Observation] = []
    points = []
    for step in range(steps):
        (proposal,) = proposer.suggest(1, observations, proposed_so_far=step)
        points.append(proposal.parameters)
        observations.append(Observation(proposal.parameters, branin(proposal.parameters)))
    return points, observations


def test_seeded_runs_are_reproducible_and_seeds_differ() -> None:
    first, _ = run_loop(Proposer(branin_campaign(seed=1)), 8)
    again, _ = run_loop(Proposer(branin_campaign(seed=1)), 8)
    other, _ = run_loop(Proposer(branin_campaign(seed=2)), 8)
    assert first == again
    assert first[0] != other[0]


def test_the_model_improves_on_the_initial_design() -> None:
    _, observations = run_loop(Proposer(branin_campaign(seed=3)), 20)
    initial_best = min(o.value for o in observations[:5])
    assert min(o.value for o in observations) < min(initial_best, 2.0)


def test_proposal_details_record_the_model() -> None:
    proposer = Proposer(branin_campaign())
    _, observations = run_loop(proposer, 5)
    (proposal,) = proposer.suggest(1, observations, proposed_so_far=5)
    assert proposal.details["acquisition"] == "qLogNoisyExpectedImprovement"
    assert proposal.details["observations"] == 5
    assert len(proposal.details["hyperparameters"]["lengthscale"]) == 2
    assert proposal.details["fit_seconds"] > 0
    assert_inside(list(proposer.campaign.space), proposal.parameters)


def test_with_fewer_than_two_successes_sobol_continues() -> None:
    proposer = Proposer(branin_campaign())
    (proposal,) = proposer.suggest(1, [], proposed_so_far=9)
    assert proposal.method == "sobol" and proposal.details["sobol_index"] == 9
