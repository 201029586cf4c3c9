"""Read a campaign file safely and report every problem with its file, line and field."""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from drivers.base import CampaignContext, DriverConfig, ParameterValue
from drivers.registry import UnknownDriverError, load_driver
from orchestrator.campaign.candidates import read_candidates
from orchestrator.campaign.descriptors import DescriptorTable, read_descriptors
from orchestrator.campaign.files import CampaignFileError, Location
from orchestrator.campaign.prior import PriorMeasurement, read_prior
from orchestrator.campaign.schema import Campaign, CategoricalParameter, campaign_model_for


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a campaign file."""

    file: Path
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        if not self.field:
            return f"{where}: {self.message}"
        return f"{where}: {self.field}: {self.message}"


class CampaignError(ValueError):
    """A campaign file that cannot be run; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass(frozen=True)
class LoadedCampaign:
    """A valid campaign and where it came from."""

    campaign: Campaign
    path: Path
    text: str
    """The file as written: the ledger keeps it, comments included."""

    @property
    def base_dir(self) -> Path:
        """Relative paths inside the campaign file start here."""
        return self.path.parent

    def candidates(self) -> list[dict[str, ParameterValue]] | None:
        """The candidate pool's rows, or ``None`` for a campaign that searches its space."""
        spec = self.campaign.candidates
        return None if spec is None else read_candidates(spec, self.campaign.space, self.base_dir)

    def prior(self) -> list[PriorMeasurement]:
        """The earlier measurements the campaign names (none without ``prior_data``)."""
        return [] if self.campaign.prior_data is None else read_prior(self.campaign, self.base_dir)

    def descriptors(self) -> dict[str, DescriptorTable]:
        """Parameter name → its values' descriptors, for categoricals that have a table."""
        return {
            parameter.name: read_descriptors(parameter, self.base_dir)
            for parameter in self.campaign.space
            if isinstance(parameter, CategoricalParameter) and parameter.descriptors is not None
        }

    def context(
        self, run_dir: Path | None = None, clock_start: datetime | None = None
    ) -> CampaignContext:
        """What the campaign's driver may know of it."""
        campaign = self.campaign
        return CampaignContext(
            name=campaign.name,
            parameters={parameter.name: parameter.type for parameter in campaign.space},
            objectives=tuple(campaign.measured),
            base_dir=self.base_dir,
            seed=campaign.seed,
            run_dir=run_dir,
            clock_start=clock_start,
        )


class _AnyDriver(DriverConfig):
    # Stands in while the driver type is unknown, so its other keys are not all
    # reported as unknown on top of the real mistake.
    model_config = ConfigDict(extra="allow", frozen=True)


def load_campaign(path: Path) -> LoadedCampaign:
    """Parse and validate ``path``; raise :class:`CampaignError` listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CampaignError([Problem(path, 1, 1, "", f"cannot read the file: {error}")]) from None
    return parse_campaign(text, path)


def parse_campaign(text: str, path: Path) -> LoadedCampaign:
    """Validate campaign ``text``; ``path`` names it in messages and anchors relative paths."""
    document = _YamlDocument.parse(text, path)
    data = document.data
    if not isinstance(data, dict):
        raise CampaignError(
            [
                Problem(
                    path,
                    1,
                    1,
                    "",
                    "expected a mapping of campaign keys "
                    "(name, budget, space, objectives, driver, ...)",
                )
            ]
        )

    problems = list(document.problems)
    driver_config = _driver_config_model(data.get("driver"), document, problems)
    model = campaign_model_for(driver_config)
    try:
        campaign = model.model_validate(data)
    except ValidationError as error:
        problems.extend(document.problem(e["loc"], _explain(e, model)) for e in error.errors())
        raise CampaignError(problems) from None
    if problems:
        raise CampaignError(problems)

    loaded = LoadedCampaign(campaign, path, text)
    context = loaded.context()
    cross_checks = [
        (("driver", *loc), message) for loc, message in campaign.driver.problems(context)
    ]
    if campaign.dry_run is not None:
        cross_checks += [
            (("dry_run", "simulator", *loc), message)
            for loc, message in campaign.dry_run.simulator.problems(context)
        ]
    if campaign.candidates is not None:
        try:
            read_candidates(campaign.candidates, campaign.space, loaded.base_dir)
        except CampaignFileError as error:
            cross_checks += [(("candidates", *loc), message) for loc, message in error.problems]
    if campaign.prior_data is not None:
        try:
            read_prior(campaign, loaded.base_dir)
        except CampaignFileError as error:
            cross_checks += [(("prior_data", *loc), message) for loc, message in error.problems]
    for index, parameter in enumerate(campaign.space):
        if isinstance(parameter, CategoricalParameter) and parameter.descriptors is not None:
            try:
                read_descriptors(parameter, loaded.base_dir)
            except CampaignFileError as error:
                cross_checks += [
                    (("space", index, "descriptors", *loc), message)
                    for loc, message in error.problems
                ]
    if cross_checks:
        raise CampaignError([document.problem(loc, message) for loc, message in cross_checks])
    return loaded


def _driver_config_model(
    section: object, document: _YamlDocument, problems: list[Problem]
) -> type[DriverConfig]:
    if not isinstance(section, dict) or not isinstance(section.get("type"), str):
        return _AnyDriver  # the schema itself reports the missing or malformed `type`
    try:
        return load_driver(section["type"]).config_model
    except UnknownDriverError as error:
        problems.append(document.problem(("driver", "type"), str(error)))
        return _AnyDriver


@dataclass(frozen=True)
class _YamlDocument:
    """A safely loaded YAML document and the line and column of each key and item."""

    path: Path
    data: Any
    marks: dict[Location, tuple[int, int]]
    problems: tuple[Problem, ...]

    @classmethod
    def parse(cls, text: str, path: Path) -> _YamlDocument:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            data = None if root is None else loader.construct_document(root)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problem = error.problem or error.context or "invalid YAML"
            raise CampaignError(
                [Problem(path, line, column, "", f"invalid YAML: {problem}")]
            ) from None
        except yaml.YAMLError as error:
            raise CampaignError([Problem(path, 1, 1, "", f"invalid YAML: {error}")]) from None
        finally:
            loader.dispose()
        marks: dict[Location, tuple[int, int]] = {(): (1, 1)}
        duplicates: list[Problem] = []
        if root is not None:
            for location, node, is_repeat in _walk(root, ()):
                # The last of repeated keys is the one safe_load keeps.
                marks[location] = (node.start_mark.line + 1, node.start_mark.column + 1)
                if is_repeat:
                    line, column = node.start_mark.line + 1, node.start_mark.column + 1
                    duplicates.append(
                        Problem(
                            path,
                            line,
                            column,
                            _field_name(location),
                            "this key appears twice in the same section",
                        )
                    )
        return cls(path, data, marks, tuple(duplicates))

    def problem(self, loc: Location, message: str) -> Problem:
        """A problem at pydantic location ``loc``, placed on the nearest line of the file."""
        found: Location = ()
        for position, part in enumerate(loc):
            if (*found, part) in self.marks:
                found = (*found, part)
            elif position == len(loc) - 1 and not self._is_union_tag(found, part):
                # A key that should be there but is not: name it, point at its section.
                line, column = self.marks[found]
                return Problem(self.path, line, column, _field_name((*found, part)), message)
            # Otherwise `part` is a union tag pydantic inserts (e.g. 'continuous'): skip it.
        line, column = self.marks[found]
        return Problem(self.path, line, column, _field_name(found), message)

    def _is_union_tag(self, location: Location, part: str | int) -> bool:
        section = self.data
        for key in location:
            section = section[key]
        return isinstance(section, dict) and section.get("type") == part


def _walk(node: yaml.Node, location: Location) -> Iterator[tuple[Location, yaml.Node, bool]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            yield (*location, key), key_node, key in seen
            seen.add(key)
            yield from _walk(value_node, (*location, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield (*location, index), item, False
            yield from _walk(item, (*location, index))


def _field_name(location: Location) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _explain(error: Any, model: type[BaseModel]) -> str:
    """Pydantic's message, reworded to say what the file should contain instead."""
    kind, loc, message = error["type"], error["loc"], error["msg"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        allowed = _keys_allowed_at(model, loc[:-1])
        hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {loc[-1]!r}{hint}"
    if kind == "union_tag_not_found":
        return f"needs a 'type' key ({_tags_at(model, loc)})"
    if kind == "string_pattern_mismatch":
        candidates = _models_at(model, loc[:-1])
        field = candidates[0].model_fields.get(str(loc[-1])) if len(candidates) == 1 else None
        if field is not None and field.description:
            message = field.description
    message = message.removeprefix("Value error, ")
    given = error.get("input")
    if kind not in {"value_error", "union_tag_invalid"} and isinstance(given, str | int | float):
        message += f" (got {given!r})"
    return message


def _keys_allowed_at(model: type[BaseModel], loc: Location) -> list[str]:
    candidates = _models_at(model, loc)
    return list(candidates[0].model_fields) if len(candidates) == 1 else []


def _tags_at(model: type[BaseModel], loc: Location) -> str:
    tags = [
        tag
        for candidate in _models_at(model, loc)
        if "type" in candidate.model_fields
        for tag in get_args(candidate.model_fields["type"].annotation)
    ]
    return "one of: " + ", ".join(map(str, tags)) if tags else "see the documentation"


def _models_at(model: type[BaseModel], loc: Location) -> list[type[BaseModel]]:
    """The section models that location ``loc`` can hold, following union tags."""
    candidates = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        following: list[type[BaseModel]] = []
        for candidate in candidates:
            if part in candidate.model_fields:
                following += _models_in(candidate.model_fields[part].annotation)
            elif "type" in candidate.model_fields and part in get_args(
                candidate.model_fields["type"].annotation
            ):
                following.append(candidate)
        candidates = following
    return candidates


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType) or get_args(annotation):
        return [model for argument in get_args(annotation) for model in _models_in(argument)]
    return []
