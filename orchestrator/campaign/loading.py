"""Read a campaign file safely and report every problem with its file, line and field."""

from __future__ import annotations

import os
import types
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from tansaku.campaign.candidates import read_candidates
from tansaku.campaign.descriptors import DescriptorTable, read_descriptors
from tansaku.campaign.dry_run import DryRun, dry_run_model_for
from tansaku.campaign.files import CampaignFileError
from tansaku.campaign.model_settings import check_prior_mean
from tansaku.campaign.parameters import CategoricalParameter, DiscreteParameter, Parameter
from tansaku.campaign.prior import PriorMeasurement, read_prior
from tansaku.campaign.schema import Campaign, campaign_model_for
from tansaku.campaign.transfer import TransferSet, read_transfer
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
from tansaku.drivers.base import CampaignContext, DriverConfig, ParameterDomain, ParameterValue
from tansaku.drivers.registry import UnknownDriverError, load_driver

MAX_FILE_BYTES = 1 << 20
"""A campaign file's largest size, 1 MiB: hundreds of times the longest example campaign,
since candidate pools, prior data and descriptor tables live in CSV files of their own."""


class CampaignError(DocumentError):
    """A campaign file that cannot be run; ``problems`` lists every reason."""


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
        if spec is None:
            return None
        return read_candidates(spec, self.campaign.space, self.base_dir, self.campaign.mixtures)

    def prior(self) -> list[PriorMeasurement]:
        """The earlier measurements the campaign names (none without ``prior_data``)."""
        return [] if self.campaign.prior_data is None else read_prior(self.campaign, self.base_dir)

    def transfer(self) -> list[TransferSet]:
        """The measurements of other chemical systems the campaign names (``transfer_from``)."""
        return read_transfer(self.campaign, self.base_dir) if self.campaign.transfer_from else []

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
            domains={p.name: _domain(i, p) for i, p in enumerate(campaign.space)},
        )


def _domain(index: int, parameter: Parameter) -> ParameterDomain:
    where = f"space[{index}]"
    if parameter.fixed is not None:
        # A fixed parameter is only ever sent at that value, whatever its bounds.
        return ParameterDomain(f"{where}.fixed", values=(parameter.fixed,))
    if isinstance(parameter, CategoricalParameter):
        return ParameterDomain(f"{where}.values", values=tuple(parameter.values))
    if isinstance(parameter, DiscreteParameter):
        field = "values" if parameter.values is not None else "bounds"
        return ParameterDomain(f"{where}.{field}", values=tuple(parameter.allowed))
    low, high = parameter.bounds
    return ParameterDomain(f"{where}.bounds", bounds=(float(low), float(high)))


class _AnyDriver(DriverConfig):
    # Stands in while the driver type is unknown, so its other keys are not all
    # reported as unknown on top of the real mistake.
    model_config = ConfigDict(extra="allow", frozen=True)


def load_campaign(path: str | os.PathLike[str]) -> LoadedCampaign:
    """Parse and validate ``path``; raise :class:`CampaignError` listing every problem."""
    path = Path(path)
    try:
        text = read_text(path, MAX_FILE_BYTES)
    except (OSError, UnicodeDecodeError) as error:
        raise CampaignError([Problem(path, 1, 1, "", f"cannot read the file: {error}")]) from None
    except FileTooLargeError:
        raise CampaignError(
            [
                Problem(
                    path,
                    1,
                    1,
                    "",
                    f"the file is larger than {MAX_FILE_BYTES >> 20} MiB, far more than a "
                    "campaign needs; keep candidate pools, prior data and descriptor tables in "
                    "the CSV files the campaign names",
                )
            ]
        ) from None
    return parse_campaign(text, path)


def parse_campaign(text: str, path: Path) -> LoadedCampaign:
    """Validate campaign ``text``; ``path`` names it in messages and anchors relative paths."""
    try:
        document = YamlDocument.parse(text, path)
    except DocumentError as error:
        raise CampaignError(error.problems) from None
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
    dry_run = _dry_run_model(data.get("dry_run"), document, problems)
    model = campaign_model_for(driver_config, dry_run)
    try:
        campaign = model.model_validate(data)
    except ValidationError as error:
        problems.extend(document.problem(e["loc"], _explain(e, model)) for e in error.errors())
        raise CampaignError(problems) from None
    problems += [
        document.problem(location, BOOLEAN_AS_NUMBER)
        for location in booleans_taken_as_values(data, campaign)
    ]
    if problems:
        raise CampaignError(problems)

    loaded = LoadedCampaign(campaign, path, text)
    context = loaded.context()
    # A driver's own files (a serial protocol) place their problems themselves.
    placed: list[Problem] = []
    cross_checks: list[tuple[Location, str]] = []
    for found in campaign.driver.problems(context):
        if isinstance(found, Problem):
            placed.append(found)
        else:
            cross_checks.append((("driver", *found[0]), found[1]))
    if campaign.dry_run is not None:
        cross_checks += [
            (("dry_run", "simulator", *loc), message)
            for loc, message in campaign.dry_run.simulator.problems(context)
        ]
    if campaign.fidelities is not None:
        from tansaku.campaign.fidelity_drivers import fidelity_problems

        cross_checks += fidelity_problems(campaign, context)
    pool = None
    if campaign.candidates is not None:
        try:
            pool = read_candidates(
                campaign.candidates, campaign.space, loaded.base_dir, campaign.mixtures
            )
        except CampaignFileError as error:
            cross_checks += [(("candidates", *loc), message) for loc, message in error.problems]
    if campaign.model.prior_mean is not None and (campaign.candidates is None or pool):
        # Called on a few points, so a function that cannot run is refused before a run.
        problem = check_prior_mean(campaign, pool)
        if problem is not None:
            cross_checks.append((("model", "prior_mean"), problem))
    if campaign.prior_data is not None:
        try:
            read_prior(campaign, loaded.base_dir)
        except CampaignFileError as error:
            cross_checks += [(("prior_data", *loc), message) for loc, message in error.problems]
    if campaign.transfer_from:
        try:
            read_transfer(campaign, loaded.base_dir)
        except CampaignFileError as error:
            cross_checks += [(("transfer_from", *loc), message) for loc, message in error.problems]
    for index, parameter in enumerate(campaign.space):
        if isinstance(parameter, CategoricalParameter) and parameter.descriptors is not None:
            try:
                read_descriptors(parameter, loaded.base_dir)
            except CampaignFileError as error:
                cross_checks += [
                    (("space", index, "descriptors", *loc), message)
                    for loc, message in error.problems
                ]
    if cross_checks or placed:
        raise CampaignError(
            [*placed, *(document.problem(loc, message) for loc, message in cross_checks)]
        )
    return loaded


def _driver_config_model(
    section: object, document: YamlDocument, problems: list[Problem]
) -> type[DriverConfig]:
    if not isinstance(section, dict) or not isinstance(section.get("type"), str):
        return _AnyDriver  # the schema itself reports the missing or malformed `type`
    try:
        return load_driver(section["type"]).config_model
    except UnknownDriverError as error:
        problems.append(document.problem(("driver", "type"), str(error)))
        return _AnyDriver


def _dry_run_model(
    section: object, document: YamlDocument, problems: list[Problem]
) -> type[DryRun]:
    if section is None:
        return DryRun  # without the section, the simulated driver need not be loaded at all
    try:
        simulated = load_driver("simulated")
    except UnknownDriverError as error:
        problems.append(
            document.problem(("dry_run",), f"a dry run needs the simulated driver; {error}")
        )
        return DryRun
    return dry_run_model_for(simulated.config_model)


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
        written = repr(given)
        # A whole paragraph, or an integer of hundreds of digits, would bury the message.
        message += f" (got {written if len(written) <= 60 else written[:57] + '...'})"
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
