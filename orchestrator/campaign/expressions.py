"""Constraint expressions from campaign files, parsed without eval.

Campaign files are written by people and shared between labs, so the text is walked as a
Python AST that admits only numbers, known names, ``+ - * /``, parentheses and one
comparison: nothing in a constraint can run code. The module imports no torch, so that
``tansaku validate`` stays fast; callers turn the coefficients into whatever their
optimiser wants.
"""

from __future__ import annotations

import ast
import difflib
import itertools
import keyword
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from tansaku.errors import InputError

Sense = Literal["<=", ">=", "=="]
_Linear = tuple[dict[str, float], float]  # (coefficient per name, constant term)

_EXAMPLE = {"parameter": "'a + 2*b <= 10'", "outcome": "'stability >= 0.8'"}
_SENSES: dict[type[ast.cmpop], Sense] = {ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "=="}
_REFUSED = {
    ast.Lt: "'<' is not supported; use '<='", ast.Gt: "'>' is not supported; use '>='",
    ast.NotEq: "'!=' cannot be a constraint; use '<=', '>=' or '=='",
}  # fmt: skip
_ALLOWED = (
    ast.Expression, ast.Compare, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.UAdd, ast.USub, *_SENSES, *_REFUSED,
)  # fmt: skip
_OPERATORS = {
    ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitAnd: "&",
    ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~",
    ast.Not: "not", ast.And: "and", ast.Or: "or", ast.In: "in", ast.NotIn: "not in",
    ast.Is: "is", ast.IsNot: "is not",
}  # fmt: skip
_DESCRIPTIONS = {
    ast.Call: "a function call", ast.Attribute: "attribute access", ast.Subscript: "indexing",
    ast.BoolOp: "'and'/'or'", ast.IfExp: "a conditional", ast.Lambda: "a lambda",
}  # fmt: skip
# A keyword that is also a known name ("yield" is a fine objective) cannot be parsed as
# Python, so it is renamed before parsing and named back in results and messages.
_MANGLE = "__tansaku_kw_"
_TOO_DEEP = "it is too long or too deeply nested"
_IMPLICIT_PRODUCT = re.compile(r"(?<![\w.])\d+(?:\.\d*)?(?![eE][+-]?\d)[A-Za-z_]")


class ExpressionError(InputError, ValueError):
    """A constraint that cannot be used; the message says what is wrong and what is expected."""


@dataclass(frozen=True)
class LinearConstraint:
    """``sum(coefficients[v] * v) <sense> rhs``, every variable moved to the left."""

    coefficients: dict[str, float] = field(hash=False)
    sense: Sense
    rhs: float
    text: str

    def violation(self, point: Mapping[str, float]) -> float:
        """How far ``point`` is outside the constraint, so callers can rank infeasible points."""
        lhs = math.fsum(c * float(point[name]) for name, c in self.coefficients.items())
        if self.sense == "<=":
            return max(0.0, lhs - self.rhs)
        if self.sense == ">=":
            return max(0.0, self.rhs - lhs)
        return abs(lhs - self.rhs)

    def is_satisfied(self, point: Mapping[str, float], tolerance: float = 1e-9) -> bool:
        """Whether ``point`` is feasible, allowing for rounding in equality constraints."""
        return self.violation(point) <= tolerance


@dataclass(frozen=True)
class OutcomeConstraint:
    """A threshold on one measured outcome: ``name <sense> bound``."""

    name: str
    sense: Literal["<=", ">="]
    bound: float
    text: str

    def is_satisfied(self, values: Mapping[str, float]) -> bool:
        """Whether measured ``values`` meet the bound (a missing value does not)."""
        value = values.get(self.name)
        if value is None:
            return False
        return value <= self.bound if self.sense == "<=" else value >= self.bound


def parse_linear_constraints(text: str, variables: Collection[str]) -> list[LinearConstraint]:
    """Parse one constraint, or a chain such as ``0 <= a + b <= 1`` into one per comparison.

    A chain must repeat one operator: ``0 <= a >= 1`` is far more likely a typo than intent.
    """
    source, tree = _parse(text, variables, "parameter")
    ops = [type(op) for op in tree.ops]
    if len(set(ops)) > 1:
        raise _error(text, "a chained comparison must use one operator throughout")
    sides = [tree.left, *tree.comparators]
    sense = _SENSES[ops[0]]
    constraints = []
    for left, right in itertools.pairwise(sides):
        (lcoef, lconst), (rcoef, rconst) = _linear(left, source, text), _linear(right, source, text)
        coefficients = _add(lcoef, rcoef, -1.0)
        rhs = rconst - lconst + 0.0  # + 0.0 turns -0.0 into 0.0
        if not coefficients:
            named = any(isinstance(n, ast.Name) for side in (left, right) for n in ast.walk(side))
            problem = "its parameters cancel out" if named else "it names no parameter"
            raise _error(text, f"{problem}; expected e.g. {_EXAMPLE['parameter']}")
        if not all(map(math.isfinite, [*coefficients.values(), rhs])):
            raise _error(text, "its numbers are too large to compute with")
        piece = f"{_segment(source, left)} {sense} {_segment(source, right)}"
        constraints.append(
            LinearConstraint(coefficients, sense, rhs, piece if len(sides) > 2 else text)
        )
    return constraints


def parse_linear_constraint(text: str, variables: Collection[str]) -> LinearConstraint:
    """Parse one linear constraint on the named parameters, e.g. ``a + 2*b <= 10``."""
    constraints = parse_linear_constraints(text, variables)
    if len(constraints) > 1:
        raise _error(text, f"it holds {len(constraints)} comparisons; write one per constraint")
    return constraints[0]


def parse_outcome_constraint(text: str, outcomes: Collection[str]) -> OutcomeConstraint:
    """Parse a threshold such as ``stability >= 0.8``; ``0.8 <= stability`` means the same."""
    source, tree = _parse(text, outcomes, "outcome")
    if len(tree.ops) > 1:
        raise _error(text, f"a threshold is one comparison, e.g. {_EXAMPLE['outcome']}")
    sense = _SENSES[type(tree.ops[0])]
    if sense == "==":
        raise _error(text, "an outcome cannot be held equal to a number; use '<=' or '>='")
    left, right = tree.left, tree.comparators[0]
    (lcoef, lconst), (rcoef, rconst) = _linear(left, source, text), _linear(right, source, text)
    if lcoef and rcoef:
        raise _error(text, "it names outcomes on both sides; compare one outcome with a number")
    if not lcoef and not rcoef:
        raise _error(text, f"it names no outcome; expected e.g. {_EXAMPLE['outcome']}")
    named, bound = (left, rconst) if lcoef else (right, lconst)
    if not isinstance(named, ast.Name):
        raise _error(text, f"put the outcome by itself on one side, e.g. {_EXAMPLE['outcome']}")
    if not math.isfinite(bound):
        raise _error(text, "its bound is too large to compute with")
    if named is right:
        sense = "<=" if sense == ">=" else ">="
    return OutcomeConstraint(_unmangle(named.id), sense, bound + 0.0, text)


def _error(text: str, problem: str) -> ExpressionError:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return ExpressionError(f"constraint {shown!r}: {problem}")


def _unmangle(source: str) -> str:
    return source.replace(_MANGLE, "")


def _segment(source: str, node: ast.AST) -> str:
    return _unmangle(ast.get_source_segment(source, node) or ast.unparse(node))


def _parse(text: str, known: Collection[str], kind: str) -> tuple[str, ast.Compare]:
    """Parse and vet the whole tree before any arithmetic, so every rejection is reported
    the same way whatever part of the expression it sits in."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"a constraint must be a non-empty string such as {_EXAMPLE[kind]}")
    source = " ".join(text.split())  # a YAML block scalar may break the line anywhere
    for name in known:
        if keyword.iskeyword(name):
            source = re.sub(rf"(?<![\w.]){re.escape(name)}(?!\w)", _MANGLE + name, source)
    try:
        body = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        hint = f"expected e.g. {_EXAMPLE[kind]}"
        if re.search(r"(?<![<>=!])=(?!=)", text):
            hint = "write '==' for equality and '<=' or '>=' for bounds"
        elif _IMPLICIT_PRODUCT.search(text):
            hint = "write multiplication explicitly, e.g. '2*a' rather than '2a'"
        reason = getattr(exc, "msg", None) or _TOO_DEEP
        raise _error(text, f"not a valid expression ({reason}); {hint}") from None
    allowed = f"use only numbers, {kind} names, + - * / and parentheses"
    for node in ast.walk(body):
        if isinstance(node, ast.Constant):
            _check_number(node, source, text, allowed)
        if isinstance(node, ast.Compare) and node is not body:
            raise _error(text, "a comparison may not sit inside an expression")
        if type(node) in _REFUSED:
            raise _error(text, _REFUSED[type(node)])
        if isinstance(node, _ALLOWED):
            continue
        if type(node) is ast.Pow:
            raise _error(text, "powers ('**') are not linear; only + - * / are allowed")
        if type(node) in _OPERATORS:
            raise _error(text, f"operator {_OPERATORS[type(node)]!r} is not allowed; {allowed}")
        what = _DESCRIPTIONS.get(type(node), "this expression")
        raise _error(text, f"{what} ({_segment(source, node)!r}) is not allowed; {allowed}")
    if not isinstance(body, ast.Compare):
        raise _error(text, f"it is not a comparison; expected e.g. {_EXAMPLE[kind]}")
    nodes = sorted(
        (n for n in ast.walk(body) if isinstance(n, ast.Name)), key=lambda n: n.col_offset
    )
    unknown = [name for name in dict.fromkeys(_unmangle(n.id) for n in nodes) if name not in known]
    if unknown:
        named = ", ".join(repr(name) + _guess(name, known) for name in unknown)
        listed = ", ".join(sorted(known)) or "none"
        raise _error(text, f"unknown {kind} {named}; the {kind}s are: {listed}")
    return source, body


def _guess(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_number(node: ast.Constant, source: str, text: str, allowed: str) -> None:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _error(text, f"{_segment(source, node)} is not a number; {allowed}")
    if (isinstance(value, int) and abs(value) > 2**1000) or not math.isfinite(value):
        raise _error(text, "a number in it is too large to compute with (the limit is 1e308)")


def _add(a: dict[str, float], b: dict[str, float], scale: float) -> dict[str, float]:
    """``a + scale*b``, dropping zero coefficients so cancelled variables vanish."""
    total = dict(a)
    for name, coefficient in b.items():
        total[name] = total.get(name, 0.0) + scale * coefficient
    return {name: c for name, c in total.items() if c != 0.0}


def _linear(node: ast.expr, source: str, text: str) -> _Linear:
    """Reduce a vetted expression to coefficients and a constant, refusing non-linear terms."""
    try:
        return _reduce(node, source, text)
    except RecursionError:
        raise _error(text, _TOO_DEEP) from None


def _reduce(node: ast.expr, source: str, text: str) -> _Linear:
    if isinstance(node, ast.Constant):
        return {}, float(node.value)
    if isinstance(node, ast.Name):
        return {_unmangle(node.id): 1.0}, 0.0
    if isinstance(node, ast.UnaryOp):
        coefficients, constant = _reduce(node.operand, source, text)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return _add({}, coefficients, sign), sign * constant
    assert isinstance(node, ast.BinOp), "_parse admits no other expression nodes"
    lcoef, lconst = _reduce(node.left, source, text)
    rcoef, rconst = _reduce(node.right, source, text)
    if isinstance(node.op, ast.Add | ast.Sub):
        sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
        return _add(lcoef, rcoef, sign), lconst + sign * rconst
    if isinstance(node.op, ast.Mult):
        if lcoef and rcoef:
            product = _segment(source, node)
            raise _error(text, f"{product!r} multiplies two variables; multiply only by numbers")
        if lcoef:
            return _add({}, lcoef, rconst), lconst * rconst
        return _add({}, rcoef, lconst), lconst * rconst
    if rcoef:
        quotient = _segment(source, node)
        raise _error(text, f"{quotient!r} divides by a variable; divide only by numbers")
    if rconst == 0.0:
        raise _error(text, f"{_segment(source, node)!r} divides by zero")
    return _add({}, lcoef, 1.0 / rconst), lconst / rconst
