"""Constraints written in campaign files parse to the intended numbers, or fail saying why."""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tansaku.campaign.expressions import (
    ExpressionError,
    LinearConstraint,
    OutcomeConstraint,
    Sense,
    parse_linear_constraint,
    parse_linear_constraints,
    parse_outcome_constraint,
)

NAMES = ["a", "b", "c", "x1", "x2", "x3", "anneal_temp_c", "anneal_min"]


@pytest.mark.parametrize(
    ("text", "coefficients", "sense", "rhs"),
    [
        ("anneal_temp_c + 2 * anneal_min <= 400", {"anneal_temp_c": 1, "anneal_min": 2}, "<=", 400),
        ("x1 + x2 + x3 == 1", {"x1": 1, "x2": 1, "x3": 1}, "==", 1),
        ("0.5*a - b >= -3", {"a": 0.5, "b": -1}, ">=", -3),
        ("a <= b", {"a": 1, "b": -1}, "<=", 0),
        ("2*(a + b) - c/4 <= 10", {"a": 2, "b": 2, "c": -0.25}, "<=", 10),
        ("a * 3 + 1e2 <= 2.5E3 - b", {"a": 3, "b": 1}, "<=", 2400),
        ("-(a - 2*b) >= +1", {"a": -1, "b": 2}, ">=", 1),
        ("a + b - a + 1 <= c", {"b": 1, "c": -1}, "<=", -1),
        ("(a + 3)/2 == 4", {"a": 0.5}, "==", 2.5),
        ("  a\n  + b\n<= 1\n", {"a": 1, "b": 1}, "<=", 1),
    ],
)
def test_spellings_parse_to_coefficients_with_variables_on_the_left(
    text: str, coefficients: dict[str, float], sense: Sense, rhs: float
) -> None:
    constraint = parse_linear_constraint(text, NAMES)
    assert constraint == LinearConstraint(coefficients, sense, rhs, text)


def test_a_satisfied_point_has_no_violation_and_an_unsatisfied_one_says_by_how_much() -> None:
    budget = parse_linear_constraint("a + 2*b <= 10", NAMES)
    assert budget.is_satisfied({"a": 4, "b": 3}) and budget.violation({"a": 4, "b": 3}) == 0
    assert not budget.is_satisfied({"a": 6, "b": 3}) and budget.violation({"a": 6, "b": 3}) == 2
    floor = parse_linear_constraint("a >= 1", NAMES)
    assert floor.violation({"a": 0.25}) == 0.75 and floor.is_satisfied({"a": 1})
    mixture = parse_linear_constraint("x1 + x2 + x3 == 1", NAMES)
    assert mixture.is_satisfied({"x1": 0.1, "x2": 0.2, "x3": 0.7})  # 0.1 + 0.2 is not 0.3
    assert mixture.violation({"x1": 0.5, "x2": 0.5, "x3": 0.5}) == 0.5
    assert not mixture.is_satisfied({"x1": 0.5, "x2": 0.5, "x3": 0.0001}, tolerance=1e-6)


def test_a_chained_comparison_gives_one_constraint_per_comparison() -> None:
    low, high = parse_linear_constraints("0 <= a + b <= 1", NAMES)
    assert (low.coefficients, low.sense, low.rhs, low.text) == (
        {"a": -1, "b": -1},
        "<=",
        0,
        "0 <= a + b",
    )
    assert (high.coefficients, high.sense, high.rhs, high.text) == (
        {"a": 1, "b": 1},
        "<=",
        1,
        "a + b <= 1",
    )
    assert parse_linear_constraints("a <= 1", NAMES) == [parse_linear_constraint("a <= 1", NAMES)]
    with pytest.raises(ExpressionError, match="2 comparisons; write one per constraint"):
        parse_linear_constraint("0 <= a <= 1", NAMES)
    with pytest.raises(ExpressionError, match="must use one operator throughout"):
        parse_linear_constraints("0 <= a >= 1", NAMES)


def test_a_parameter_named_like_a_python_keyword_can_still_be_constrained() -> None:
    constraint = parse_linear_constraint("yield + 2*lambda <= 3", ["yield", "lambda"])
    assert constraint.coefficients == {"yield": 1, "lambda": 2}
    threshold = parse_outcome_constraint("0.8 <= yield", ["yield"])
    assert (threshold.name, threshold.sense, threshold.bound) == ("yield", ">=", 0.8)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a * b <= 1", "'a \\* b' multiplies two variables; multiply only by numbers"),
        ("(a + 1) * (b - 1) <= 1", "multiplies two variables"),
        ("a / b <= 1", "'a / b' divides by a variable; divide only by numbers"),
        ("a / (2 - 2) <= 1", "divides by zero"),
        ("a ** 2 <= 1", "powers \\('\\*\\*'\\) are not linear"),
        ("a < 1", "'<' is not supported; use '<='"),
        ("a > 1", "'>' is not supported; use '>='"),
        ("a != 1", "'!=' cannot be a constraint; use '<=', '>=' or '=='"),
        ("1 <= 2", "it names no parameter; expected e.g. 'a \\+ 2\\*b <= 10'"),
        ("a - a <= 1", "its parameters cancel out"),
        ("a + b", "it is not a comparison; expected e.g."),
        ("a = 1", "write '==' for equality"),
        ("2a <= 1", "write multiplication explicitly, e.g. '2\\*a'"),
        ("a <= ", "not a valid expression"),
        ("abs(a) <= 1", "a function call \\('abs\\(a\\)'\\) is not allowed"),
        ("a.real <= 1", "attribute access \\('a.real'\\) is not allowed"),
        ("a[0] <= 1", "indexing \\('a\\[0\\]'\\) is not allowed"),
        ("a <= 'ten'", "'ten' is not a number; use only numbers, parameter names, \\+ - \\* /"),
        ("a + True <= 1", "True is not a number"),
        ("a % 2 <= 1", "operator '%' is not allowed"),
        ("a and b <= 1", "'and'/'or'"),
        ("(a <= 1) + 1 <= 2", "a comparison may not sit inside an expression"),
        ("a <= 1e999", "too large"),
        ("1e300 * 1e300 * a <= 1", "too large"),
        ("", "non-empty string"),
        ("a + " * 3000 + "a <= 1", "too long or too deeply nested"),
        ("a * 1 * " * 600 + "a <= 1", "too long or too deeply nested"),
    ],
)
def test_each_kind_of_mistake_is_named_with_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message) as caught:
        parse_linear_constraint(text, NAMES)
    assert isinstance(caught.value, ValueError)
    assert len(str(caught.value)) < 300  # a pathological input is not echoed in full


def test_an_unknown_name_is_named_with_a_suggestion_and_the_known_parameters() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_linear_constraint("anneal_temp + anneal_min + oops <= 400", NAMES)
    message = str(caught.value)
    assert "unknown parameter 'anneal_temp' (did you mean 'anneal_temp_c'?), 'oops';" in message
    assert "the parameters are: a, anneal_min, anneal_temp_c, b, c, x1, x2, x3" in message


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch pwned') <= 1",
        "open('pwned', 'w').write('x') <= 1",
        "a.__class__.__bases__[0].__subclasses__() <= 1",
        "[x for x in ().__class__.__base__.__subclasses__()] <= a",
        "(lambda: open('pwned', 'w'))() <= a",
        "(pwned := 1) <= a",
    ],
)
def test_code_in_a_constraint_is_rejected_and_never_run(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExpressionError, match=r"not allowed|not a valid expression"):
        parse_linear_constraint(text, NAMES)
    with pytest.raises(ExpressionError):
        parse_outcome_constraint(text, ["a"])
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stability >= 0.8", OutcomeConstraint("stability", ">=", 0.8, "stability >= 0.8")),
        ("cost <= 12.5", OutcomeConstraint("cost", "<=", 12.5, "cost <= 12.5")),
        ("0.8 <= stability", OutcomeConstraint("stability", ">=", 0.8, "0.8 <= stability")),
        ("-2 >= cost", OutcomeConstraint("cost", "<=", -2, "-2 >= cost")),
        ("cost <= 1e-3", OutcomeConstraint("cost", "<=", 0.001, "cost <= 1e-3")),
    ],
)
def test_outcome_thresholds_normalise_to_name_sense_bound(
    text: str, expected: OutcomeConstraint
) -> None:
    assert parse_outcome_constraint(text, ["stability", "cost"]) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stability == 1", "cannot be held equal to a number; use '<=' or '>='"),
        ("stability > 0.8", "'>' is not supported; use '>='"),
        ("2 * stability >= 1", "put the outcome by itself on one side, e.g. 'stability >= 0.8'"),
        ("stability >= cost", "names outcomes on both sides; compare one outcome with a number"),
        ("1 <= 2", "it names no outcome"),
        ("0 <= cost <= 1", "a threshold is one comparison"),
        ("stab >= 0.8", "unknown outcome 'stab' \\(did you mean 'stability'\\?\\); the outcomes"),
        ("stability ** 2 >= 1", "powers"),
    ],
)
def test_outcome_threshold_mistakes_are_named(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        parse_outcome_constraint(text, ["stability", "cost"])


def test_parsing_constraints_does_not_import_torch() -> None:
    code = "import sys, tansaku.campaign.expressions; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


@dataclass(frozen=True)
class Expr:
    """Generated source text with its value and its magnitude, both computed without parsing."""

    text: str
    level: int  # 1 sum, 2 product, 3 unary, 4 atom: where the text needs parentheses
    value: Callable[[dict[str, float]], float]
    size: Callable[[dict[str, float]], float]  # the same sum with every term made positive


def _number(x: float) -> Expr:
    return Expr(repr(x), 3 if x < 0 else 4, lambda p: x, lambda p: abs(x))


def _name(n: str) -> Expr:
    return Expr(n, 4, lambda p: p[n], lambda p: abs(p[n]))


def _wrap(e: Expr, needed: bool) -> str:
    return f"({e.text})" if needed else e.text


def _binary(left: Expr, op: str, right: Expr) -> Expr:
    level = 1 if op in "+-" else 2
    text = f"{_wrap(left, left.level < level)} {op} {_wrap(right, right.level <= level)}"
    lv, rv, ls, rs = left.value, right.value, left.size, right.size
    value = {
        "+": lambda p: lv(p) + rv(p),
        "-": lambda p: lv(p) - rv(p),
        "*": lambda p: lv(p) * rv(p),
        "/": lambda p: lv(p) / rv(p),
    }[op]
    size = {
        "+": lambda p: ls(p) + rs(p),
        "-": lambda p: ls(p) + rs(p),
        "*": lambda p: ls(p) * rs(p),
        "/": lambda p: ls(p) / rs(p),
    }[op]
    return Expr(text, level, value, size)


def _negate(e: Expr) -> Expr:
    return Expr(f"-{_wrap(e, e.level < 3)}", 3, lambda p: -e.value(p), e.size)


VARIABLES = ["x", "y", "z"]
numbers = st.floats(-1e3, 1e3, allow_nan=False).map(float) | st.integers(-50, 50).map(float)
divisors = numbers.filter(lambda v: abs(v) >= 1e-2)


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.builds(_binary, children, st.sampled_from("+-"), children),
        st.builds(_binary, numbers.map(_number), st.just("*"), children),
        st.builds(_binary, children, st.just("*"), numbers.map(_number)),
        st.builds(_binary, children, st.just("/"), divisors.map(_number)),
        st.builds(_negate, children),
    )


names = st.sampled_from(VARIABLES).map(_name)
expressions = st.recursive(names | names | numbers.map(_number), _extend, max_leaves=12)
points = st.fixed_dictionaries({v: st.floats(-1e3, 1e3, allow_nan=False) for v in VARIABLES})


@settings(max_examples=300, deadline=None)
@given(
    expressions.filter(lambda e: any(v in e.text for v in VARIABLES)),
    st.sampled_from(["<=", ">=", "=="]),
    expressions,
    points,
)
def test_parsed_coefficients_compute_what_the_expression_computes(
    left: Expr, sense: str, right: Expr, point: dict[str, float]
) -> None:
    text = f"{left.text} {sense} {right.text}"
    direct = left.value(point) - right.value(point)
    try:
        constraint = parse_linear_constraint(text, VARIABLES)
    except ExpressionError as error:
        assert "cancel out" in str(error)
        origin = dict.fromkeys(VARIABLES, 0.0)  # cancelled out: the same value everywhere
        at_origin = left.value(origin) - right.value(origin)
        scale = left.size(point) + right.size(point) + 1
        assert math.isclose(direct, at_origin, rel_tol=1e-9, abs_tol=1e-9 * scale), text
        return
    assert constraint.sense == sense
    parsed = sum(c * point[v] for v, c in constraint.coefficients.items()) - constraint.rhs
    scale = left.size(point) + right.size(point) + 1
    assert math.isclose(parsed, direct, rel_tol=1e-9, abs_tol=1e-9 * scale), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab1.e+-*/()<=>!'_ ", max_size=40) | st.text(max_size=40))
def test_any_text_either_parses_or_raises_expression_error(text: str) -> None:
    with contextlib.suppress(ExpressionError):
        parse_linear_constraints(text, ["a", "b"])


@pytest.mark.parametrize("seed", range(5))
def test_constraints_on_separate_parameters_are_judged_as_the_solver_would(seed: int) -> None:
    import random

    from scipy.optimize import linprog

    from tansaku.campaign.constraints import _satisfiable
    from tansaku.campaign.parameters import ContinuousParameter

    rng = random.Random(seed)
    space = [
        ContinuousParameter(name=f"p{i}", type="continuous", bounds=sorted((rng.random(), 1.0)))
        for i in range(6)
    ]
    for _ in range(40):
        constraints = [
            LinearConstraint(
                {f"p{i}": rng.uniform(-2, 2) for i in group},
                rng.choice(["<=", ">=", "=="]),
                rng.uniform(-2, 3),
                "random",
            )
            for group in ((0, 1, 2), (3,), (4, 5))[: rng.randint(1, 3)]
        ]
        rows = [
            [c.coefficients.get(p.name, 0.0) * (-1 if c.sense == ">=" else 1) for p in space]
            for c in constraints
        ]
        equal = [c.sense == "==" for c in constraints]
        signed = [c.rhs * (-1 if c.sense == ">=" else 1) for c in constraints]
        solved = linprog(
            c=[0.0] * len(space),
            A_ub=[r for r, e in zip(rows, equal, strict=True) if not e] or None,
            b_ub=[b for b, e in zip(signed, equal, strict=True) if not e] or None,
            A_eq=[r for r, e in zip(rows, equal, strict=True) if e] or None,
            b_eq=[b for b, e in zip(signed, equal, strict=True) if e] or None,
            bounds=[tuple(p.bounds) for p in space],
            method="highs",
        )
        assert _satisfiable(constraints, space) is (solved.status == 0)
