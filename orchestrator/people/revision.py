"""Revising a campaign mid-way (``tansaku revise``): which changes keep the past meaningful.

Scientists learn as a campaign goes: a region is hopeless (narrow its bounds), a
precursor is out of stock (drop the value), a new one arrived (add it), a parameter is
settled (fix it), the budget is short (raise it), a property must stay above a floor (an
outcome constraint). Each of these keeps every past experiment what it was: the same
point of the same parameters, the same readings of the same quantities, so the model
keeps learning from them.

A change that would make past experiments mean something else makes a new campaign
instead, and is refused: a parameter renamed, removed, added, given another type or
unit; the objectives changed, an objective turned around, its target moved or its unit
changed; the campaign renamed; an outcome constraint on a quantity past experiments did
not measure; other prior data (read once, when a campaign first runs). The new campaign
can learn from this one's results as its prior data.

Experiments the revised space no longer holds (outside narrowed bounds, a dropped value,
off a parameter now fixed, breaking a new constraint) stay in the ledger and in exports.
The model keeps learning from them where it can encode them: a GP takes normalised
inputs outside [0, 1]. A dropped categorical value has no encoding left, so those
experiments no longer teach the model (:func:`tansaku.flows.proposing.learnable`).
Experiments still waiting to run or for their results must lie inside the revised space:
they would otherwise be sent to the instrument, or measured, outside it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tansaku.campaign.constraints import campaign_constraints
from tansaku.campaign.expressions import LinearConstraint
from tansaku.campaign.fields import shown
from tansaku.campaign.parameters import CategoricalParameter, DiscreteParameter, Parameter
from tansaku.campaign.schema import Campaign
from tansaku.ledger import ExperimentRecord
from tansaku.proposer.encoding import SpaceEncoding
from tansaku.values import ParameterValue

UNFINISHED = ("proposed", "running")
"""Statuses of experiments not yet measured: they must fit the revised space."""

FEASIBILITY_TOLERANCE = 1e-6
"""Violation of a constraint still counted as meeting it, relative to its scale: the
optimisers' precision, as the proposer's own feasibility check allows."""

NEW_CAMPAIGN = (
    "keep this run as it is and start the changed campaign in a new --run-dir, with this "
    "run's done experiments as its prior data (`tansaku export` them to a CSV and name it "
    "under `prior_data:`)"
)


@dataclass(frozen=True)
class Misfit:
    """Experiments that the revised space no longer holds, for one reason."""

    experiments: tuple[int, ...]
    why: str
    """What no longer fits, e.g. ``x1 lies outside the new bounds [0, 10]``."""
    learned: bool
    """Whether the model still learns from them (:meth:`SpaceEncoding.encodes`)."""

    def __str__(self) -> str:
        fate = (
            "the model still learns from them"
            if self.learned
            else "the model no longer learns from them: the revised space cannot encode them"
        )
        return (
            f"{experiment_ids(self.experiments)}: {self.why}; they stay in the ledger and in "
            f"exports, and {fate}"
        )


@dataclass(frozen=True)
class Revision:
    """What a revised campaign file changes, and whether the run can take it."""

    changes: tuple[str, ...]
    """Every setting that changes, ``path: old → new``, in the file's order."""
    refused: tuple[str, ...]
    """Changes that make a new campaign, each as a clause (``removes parameter 'x1'``)."""
    misfits: tuple[Misfit, ...]
    """Finished experiments that the revised space no longer holds."""
    blocking: tuple[Misfit, ...]
    """Unfinished experiments outside the revised space: they hold the revision back."""

    @property
    def allowed(self) -> bool:
        """Whether the run may take the revision."""
        return not self.refused and not self.blocking

    def refusal(self) -> str | None:
        """Why the run cannot take the revision, in one sentence; ``None`` if it can."""
        if self.refused:
            return (
                f"this revision {'; '.join(self.refused)}, so past experiments would mean "
                f"something else: {NEW_CAMPAIGN}"
            )
        if self.blocking:
            waiting = "; ".join(f"{experiment_ids(m.experiments)}: {m.why}" for m in self.blocking)
            return (
                f"experiments not yet measured lie outside the revised space ({waiting}); "
                "let them finish (`tansaku run`), tell their results, or reject those not "
                "yet started, then revise"
            )
        return None


def compare(old: Campaign, new: Campaign, records: Sequence[ExperimentRecord]) -> Revision:
    """Classify the change from ``old`` (as run) to ``new`` (the revised file).

    Args:
        old: The campaign as its run directory holds it.
        new: The revised campaign.
        records: The run's experiments (``Ledger.experiments()``).

    Returns:
        The changes, the refused ones among them, and the experiments the revised space
        no longer holds (only where nothing is refused: a refused space has no common
        ground to compare points in).
    """
    refused = (*_redefinitions(old, new), *_unmeasured(new, records))
    changes = tuple(_changes(old, new))
    if refused:
        return Revision(changes, refused, (), ())
    finished = [r for r in records if r.status not in UNFINISHED]
    unfinished = [r for r in records if r.status in UNFINISHED]
    return Revision(changes, (), _misfits(new, finished), _misfits(new, unfinished))


def file_diff(old_text: str, new_text: str, old_name: str, new_name: str) -> str:
    """A unified diff of two campaign files, for people and for the ledger."""
    lines = difflib.unified_diff(
        old_text.splitlines(), new_text.splitlines(), old_name, new_name, lineterm=""
    )
    return "".join(f"{line}\n" for line in lines)


def experiment_ids(ids: Sequence[int]) -> str:
    """``#1-#4, #7``: experiment ids, consecutive runs shortened."""
    runs: list[list[int]] = []
    for i in sorted(ids):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"#{run[0]}" if len(run) == 1 else f"#{run[0]}-#{run[-1]}" for run in runs)


# Refusals --------------------------------------------------------------------------


def _redefinitions(old: Campaign, new: Campaign) -> Iterator[str]:
    """Changes after which a past experiment would mean something else."""
    if old.name != new.name:
        yield (
            f"names campaign {new.name!r} where the run directory holds {old.name!r} (is it "
            "the right run directory?)"
        )
    before = {p.name: p for p in old.space}
    after = {p.name: p for p in new.space}
    for name in before:
        if name not in after:
            yield f"removes parameter {name!r}"
    for name in after:
        if name not in before:
            yield f"adds parameter {name!r}"
    for name, was in before.items():
        now = after.get(name)
        if now is None:
            continue
        if was.type != now.type:
            yield f"turns parameter {name!r} from {was.type} into {now.type}"
        elif _unit(was) != _unit(now):
            yield _unit_change(f"parameter {name!r}", _unit(was), _unit(now))
    old_objectives = [o.name for o in old.objectives]
    new_objectives = [o.name for o in new.objectives]
    if old_objectives != new_objectives:
        yield (
            f"changes the objectives from {', '.join(old_objectives)} to "
            f"{', '.join(new_objectives)}"
        )
    else:
        for was, now in zip(old.objectives, new.objectives, strict=True):
            if was.goal != now.goal:
                yield f"turns objective {was.name!r} from {was.goal} to {now.goal}"
            elif was.target != now.target:
                assert was.target is not None and now.target is not None
                yield (
                    f"moves the target of {was.name!r} from {shown(was.target)} to "
                    f"{shown(now.target)}"
                )
            if was.unit != now.unit:
                yield _unit_change(f"objective {was.name!r}", was.unit, now.unit)
    outcomes = {o.name: o for o in new.outcomes}
    for was in old.outcomes:
        now = outcomes.get(was.name)
        if now is not None and was.unit != now.unit:
            yield _unit_change(f"outcome {was.name!r}", was.unit, now.unit)
    if old.prior_data != new.prior_data:
        yield "changes `prior_data`, which a run directory reads once, when the campaign first runs"


def _unmeasured(new: Campaign, records: Sequence[ExperimentRecord]) -> Iterator[str]:
    """Quantities the revised model fits that done experiments have no reading of: an
    outcome constraint on a newly declared outcome."""
    objectives = {o.name for o in new.objectives}
    done = [r for r in records if r.status == "done"]
    for name in new.modelled_quantities:
        lacking = [r.id for r in done if name not in (r.values or {})]
        if name not in objectives and lacking:
            yield (
                f"constrains {name!r}, which experiments {experiment_ids(lacking)} did not measure"
            )


def _unit(parameter: Parameter) -> str | None:
    return None if isinstance(parameter, CategoricalParameter) else parameter.unit


def _unit_change(what: str, was: str | None, now: str | None) -> str:
    return f"changes the unit of {what} from {was or 'none'} to {now or 'none'}"


# Changes ---------------------------------------------------------------------------


def _changes(old: Campaign, new: Campaign) -> Iterator[str]:
    """``path: old → new`` for every setting that differs (parameters by name)."""
    before, after = _settings(old), _settings(new)
    for path in dict.fromkeys([*before, *after]):
        was, now = before.get(path), after.get(path)
        if was != now:
            yield f"{path}: {_shown(was)} → {_shown(now)}"
    old_order = [p.name for p in old.space]
    new_order = [p.name for p in new.space]
    if old_order != new_order and sorted(old_order) == sorted(new_order):
        yield f"space: the parameters' order {', '.join(old_order)} → {', '.join(new_order)}"


def _settings(campaign: Campaign) -> dict[str, Any]:
    """Every setting by its dotted path; parameters, objectives and outcomes by name, so
    that reordering them is no change of theirs."""
    dumped = campaign.model_dump(mode="json")
    for section in ("space", "objectives", "outcomes"):
        dumped[section] = {entry["name"]: entry for entry in dumped[section]}
    return dict(_leaves(dumped, ""))


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            yield from _leaves(inner, f"{path}.{key}" if path else str(key))
    else:
        yield path, value


def _shown(value: Any) -> str:
    """A setting as a campaign file would write it."""
    if value is None or value == {}:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return shown(value)
    if isinstance(value, list):
        return f"[{', '.join(_shown(v) for v in value)}]"
    if isinstance(value, Mapping):
        return f"{{{', '.join(f'{k}: {_shown(v)}' for k, v in value.items())}}}"
    return str(value)


# Experiments outside the revised space -----------------------------------------------


def _misfits(campaign: Campaign, records: Sequence[ExperimentRecord]) -> tuple[Misfit, ...]:
    """The records outside ``campaign``'s space, grouped by reason."""
    encoding = SpaceEncoding(campaign.space)
    constraints = campaign_constraints(campaign)
    groups: dict[tuple[str, bool], list[int]] = {}
    for record in records:
        point = record.point
        learned = encoding.encodes(point)
        reasons = [_outside(p, point[p.name]) for p in campaign.space]
        reasons += [
            f"breaks the constraint {c.text!r}" for c in constraints if not _meets(c, point)
        ]
        for why in reasons:
            if why is not None:
                groups.setdefault((why, learned), []).append(record.id)
    return tuple(Misfit(tuple(ids), why, learned) for (why, learned), ids in groups.items())


def _outside(parameter: Parameter, value: ParameterValue) -> str | None:
    """Why ``value`` lies outside the revised ``parameter``, if it does."""
    name = parameter.name
    if parameter.fixed is not None:
        if _same(parameter, value, parameter.fixed):
            return None
        return f"{name} is now fixed at {_shown(parameter.fixed)}"
    if isinstance(parameter, CategoricalParameter):
        if any(_same(parameter, value, v) for v in parameter.values):
            return None
        return f"{name} = {value}, a value the revised space no longer has"
    if isinstance(parameter, DiscreteParameter):
        if any(_same(parameter, value, v) for v in parameter.allowed):
            return None
        return f"{name} = {_shown(value)}, no longer one of its allowed values"
    low, high = parameter.bounds
    if low <= float(value) <= high:
        return None
    return f"{name} lies outside the new bounds [{shown(low)}, {shown(high)}]"


def _same(parameter: Parameter, value: ParameterValue, declared: ParameterValue) -> bool:
    if isinstance(parameter, CategoricalParameter):
        # Compared as written, as the schema compares categorical values.
        return str(value) == str(declared)
    return math.isclose(float(value), float(declared), rel_tol=1e-9, abs_tol=1e-12)


def _meets(constraint: LinearConstraint, point: Mapping[str, ParameterValue]) -> bool:
    values = {name: float(point[name]) for name in constraint.coefficients}
    scale = max(1.0, abs(constraint.rhs), *(abs(c) for c in constraint.coefficients.values()))
    return constraint.violation(values) <= FEASIBILITY_TOLERANCE * scale
