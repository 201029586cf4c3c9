"""Reading protocol files, and checking each protocol against the campaign it serves.

Every problem is placed where the person has to fix it: a protocol file's own line and
column, or the campaign's line for a protocol written inline.
"""

from __future__ import annotations

import string
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from tansaku.documents import (
    BOOLEAN_AS_NUMBER,
    DocumentError,
    FileTooLargeError,
    Location,
    Problem,
    YamlDocument,
    booleans_taken_as_values,
    read_text,
)
from tansaku.drivers.base import CampaignContext, ParameterValue
from tansaku.drivers.serial.protocol import (
    TEMPLATE_ERRORS,
    ParameterCommand,
    Protocol,
    as_number,
    field_root,
    template_fields,
    within,
)
from tansaku.errors import InputError

Found = Problem | tuple[Location, str]
"""A problem placed in a protocol file, or a location inside the campaign's driver section."""

MAX_PROTOCOL_BYTES = 1 << 20
"""A protocol file's largest size, 1 MiB: a protocol is a few kilobytes."""

# A value of each kind, for templates of a campaign that does not say which values it uses.
_EXAMPLES: dict[str, ParameterValue] = {"integer": 1, "categorical": "a"}


class ProtocolFileError(InputError):
    """A protocol file that cannot be read at all (missing, unreadable, not UTF-8)."""


@dataclass(frozen=True)
class ProtocolSource:
    """A device's protocol and where it is written, to place what is wrong with it."""

    device: str
    protocol: Protocol
    document: YamlDocument | None
    """The protocol file as read; ``None`` for a protocol written inline in the campaign."""

    def place(self, loc: Location, message: str) -> Found:
        """``message`` about ``loc`` (a location inside the protocol), on its line."""
        if self.document is None:
            return (("devices", self.device, "protocol", *loc), message)
        return self.document.problem(loc, message)


def read_protocol(device: str, source: Protocol | Path, base_dir: Path) -> ProtocolSource:
    """The protocol of ``device``, inline or read from a file relative to ``base_dir``.

    Raises :class:`ProtocolFileError` for a file that cannot be read, and
    :class:`~tansaku.documents.DocumentError`, every problem placed in the file, for
    one that is not a valid protocol.
    """
    if isinstance(source, Protocol):
        return ProtocolSource(device, source, None)
    path = source if source.is_absolute() else base_dir / source
    try:
        text = read_text(path, MAX_PROTOCOL_BYTES)
    except FileTooLargeError:
        raise ProtocolFileError(
            f"the protocol file {path} is larger than 1 MiB, far more than a protocol needs; "
            "give the path of the instrument's protocol file"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise ProtocolFileError(
            f"cannot read the protocol file {path} ({reason}); give a protocol file's path, "
            "relative to the campaign file"
        ) from None
    document = YamlDocument.parse(text, path)
    if not isinstance(document.data, dict):
        raise DocumentError(
            [
                Problem(
                    path,
                    1,
                    1,
                    "",
                    "expected a mapping of protocol keys (line, setup, parameters, start, "
                    "wait, objectives, errors, safe_state, keepalive)",
                )
            ]
        )
    problems = list(document.problems)
    try:
        protocol = Protocol.model_validate(document.data)
    except ValidationError as error:
        problems += [document.problem(e["loc"], _explain(e)) for e in error.errors()]
    else:
        problems += [
            document.problem(location, BOOLEAN_AS_NUMBER)
            for location in booleans_taken_as_values(document.data, protocol)
        ]
    if problems:
        raise DocumentError(problems)
    return ProtocolSource(device, protocol, document)


def _explain(error: Any) -> str:
    """Pydantic's message, reworded to say what the protocol should contain instead."""
    kind, loc, message = error["type"], error["loc"], error["msg"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        allowed = _keys_at(loc[:-1])
        hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {loc[-1]!r}{hint}"
    message = message.removeprefix("Value error, ")
    given = error.get("input")
    if kind != "value_error" and isinstance(given, str | int | float):
        message += f" (got {given!r})"
    return message


def _keys_at(loc: Location) -> list[str]:
    """The keys the protocol section at ``loc`` may hold."""
    annotation: Any = Protocol
    for part in loc:
        annotation = _section_type(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif get_args(annotation):
            annotation = get_args(annotation)[-1]  # an item of a list, a value of a dict
        else:
            return []
    annotation = _section_type(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _section_type(annotation: Any) -> Any:
    # `X | None` holds an X; other unions here are of plain values, with no keys.
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return members[0] if len(members) == 1 else None
    return annotation


def check_against_campaign(source: ProtocolSource, context: CampaignContext) -> list[Found]:
    """What in one device's protocol does not fit the campaign it serves."""
    found: list[Found] = []
    for parameter, rule in source.protocol.parameters.items():
        found += _parameter_problems(source, parameter, rule, context)
    found += _poll_problems(source, context)
    return found


def _parameter_problems(
    source: ProtocolSource, parameter: str, rule: ParameterCommand, context: CampaignContext
) -> list[Found]:
    at = ("parameters", parameter)
    if parameter not in context.parameters:
        return [
            source.place(
                at,
                f"applies {parameter!r}, which is not a campaign parameter; remove it, or "
                f"apply one of: {', '.join(context.parameters)}",
            )
        ]
    found: list[Found] = []
    unknown = sorted(template_fields(rule.send) - set(context.parameters))
    for name in unknown:
        found.append(
            source.place(
                (*at, "send"),
                f"template {rule.send!r} names {name!r}, which is not a campaign parameter; "
                f"name one of: {', '.join(context.parameters)}",
            )
        )
    if not unknown:
        found += _template_problems(source, parameter, rule, context)
    found += _map_problems(source, parameter, rule)
    found += _domain_problems(source, parameter, rule, context)
    return found


def _template_problems(
    source: ProtocolSource, parameter: str, rule: ParameterCommand, context: CampaignContext
) -> list[Found]:
    """Fill each field of the template with the values the campaign may give it."""
    samples = {name: _samples(name, context) for name in context.parameters}
    if rule.map is not None:
        mapped = [rule.map[str(value)] for value in samples[parameter] if str(value) in rule.map]
        samples[parameter] = mapped or list(rule.map.values())
    base = {name: values[0] for name, values in samples.items()}
    for _, name, spec, conversion in string.Formatter().parse(rule.send):
        if name is None:
            continue
        root = field_root(name)
        piece = f"{{{name}{f'!{conversion}' if conversion else ''}{f':{spec}' if spec else ''}}}"
        for sample in samples[root]:
            try:
                piece.format(**{**base, root: sample})
            except TEMPLATE_ERRORS as error:
                what = (
                    "a word of its map"
                    if root == parameter and rule.map is not None
                    else f"a {context.parameters[root]} parameter"
                )
                return [
                    source.place(
                        ("parameters", parameter, "send"),
                        f"template {rule.send!r} cannot format {root}={sample!r} ({what}): "
                        f"{error}; use a format that suits it, e.g. {_suggestion(root, sample)}",
                    )
                ]
    return []


def _suggestion(name: str, value: ParameterValue) -> str:
    if isinstance(value, int):
        return f"{{{name}:d}}"
    if isinstance(value, float):
        return f"{{{name}:.1f}}"
    return f"{{{name}}}"


def _map_problems(source: ProtocolSource, parameter: str, rule: ParameterCommand) -> list[Found]:
    if rule.map is None or rule.limits is None:
        return []
    low, high = rule.limits
    return [
        source.place(
            ("parameters", parameter, "map", key),
            f"maps {key!r} to {word!r}, "
            + ("outside" if as_number(word) is not None else "which is not a number within")
            + f" the hard limits [{low:g}, {high:g}] of parameters.{parameter}.limits; "
            "change the map entry or the limits",
        )
        for key, word in rule.map.items()
        if not within(word, rule.limits)
    ]


def _domain_problems(
    source: ProtocolSource, parameter: str, rule: ParameterCommand, context: CampaignContext
) -> list[Found]:
    """The campaign's values for ``parameter`` against the map and the hard limits."""
    domain = context.domains.get(parameter)
    if domain is None:
        return []
    at = ("parameters", parameter)
    if rule.map is not None:
        # What the map sends is checked against the limits entry by entry (above).
        missing = [value for value in domain.values if str(value) not in rule.map]
        if not missing:
            return []
        return [
            source.place(
                (*at, "map"),
                f"has no entry for {_listed(missing)} of the campaign's {domain.where}; add "
                "the missing entries, or every experiment with them is refused",
            )
        ]
    if rule.limits is None:
        return []
    low, high = rule.limits
    if domain.bounds is not None:
        reach = []
        if domain.bounds[0] < low:
            reach.append(f"down to {domain.bounds[0]:g}")
        if domain.bounds[1] > high:
            reach.append(f"up to {domain.bounds[1]:g}")
        shown = f"values {' and '.join(reach)}" if reach else ""
    else:
        outside = [value for value in domain.values if not within(value, rule.limits)]
        shown = _listed(outside) if outside else ""
    if not shown:
        return []
    return [
        source.place(
            (*at, "limits"),
            f"the campaign's {domain.where} allows {shown}, beyond these hard limits "
            f"[{low:g}, {high:g}]; keep {domain.where} within them, or every experiment "
            "beyond them is refused",
        )
    ]


def _poll_problems(source: ProtocolSource, context: CampaignContext) -> list[Found]:
    poll = source.protocol.wait.poll
    if poll is None or poll.target is None or as_number(poll.target) is not None:
        return []
    target, at = poll.target, ("wait", "poll", "target")
    if target not in context.parameters:
        return [
            source.place(
                at,
                f"{target!r} is neither a campaign parameter nor a number; name one of: "
                f"{', '.join(context.parameters)}, or give a number",
            )
        ]
    words = [value for value in _samples(str(target), context) if as_number(value) is None]
    if not words:
        return []
    return [
        source.place(
            at,
            f"names {target!r}, whose values are not all numbers (e.g. {words[0]!r}); name "
            "a numeric parameter, or give a number",
        )
    ]


def _samples(name: str, context: CampaignContext) -> list[ParameterValue]:
    """Values the campaign may give parameter ``name``: all listed ones, or a range's ends."""
    domain = context.domains.get(name)
    kind = context.parameters[name]
    if domain is not None and domain.values:
        return list(domain.values)
    if domain is not None and domain.bounds is not None:
        low, high = domain.bounds
        return [round(low), round(high)] if kind == "integer" else [low, high]
    return [_EXAMPLES.get(kind, 1.0)]


def _listed(values: Sequence[ParameterValue]) -> str:
    shown = [f"{value:g}" if isinstance(value, float) else repr(value) for value in values[:5]]
    return ", ".join(shown) + (f" and {len(values) - 5} more" if len(values) > 5 else "")
