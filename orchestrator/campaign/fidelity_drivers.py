"""The drivers of a multi-fidelity campaign's sources, checked by their drivers' models.

Imported by the campaign loader and the flow, never by the schema, so the proposer
(which reads the schema) reaches no driver registry. Validating imports the drivers the
sources name (their config models), never torch or Prefect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from tansaku.campaign.fidelities import UNSUPPORTED_DRIVERS
from tansaku.documents import Location
from tansaku.drivers.registry import UnknownDriverError, load_driver

if TYPE_CHECKING:
    from tansaku.campaign.schema import Campaign
    from tansaku.drivers.base import CampaignContext, DriverConfig


def fidelity_driver(campaign: Campaign, name: str) -> DriverConfig:
    """The validated ``driver:`` of source ``name`` (the campaign's for the target)."""
    section = (campaign.fidelities or {})[name].driver
    if section is None:
        return campaign.driver
    return load_driver(str(section["type"])).config_model.model_validate(section)


def fidelity_dry_run(campaign: Campaign, name: str) -> Any:
    """The simulator spec a dry run uses for source ``name``, or ``None`` where its driver
    is simulated itself (it runs as it is)."""
    source = (campaign.fidelities or {})[name]
    if source.dry_run is None:
        return None
    config = _simulated_config().model_validate({"type": "simulated", **source.dry_run})
    return config.simulator


def fidelity_problems(campaign: Campaign, context: CampaignContext) -> list[tuple[Location, str]]:
    """Problems of the sources' own drivers and dry-run simulators, placed inside
    ``fidelities``: each checked by its driver's model, as the campaign's driver is."""
    found: list[tuple[Location, str]] = []
    # The sources' drivers see the campaign's parameters: the source is not sent to them.
    for name, source in (campaign.fidelities or {}).items():
        where: Location = ("fidelities", name)
        if source.driver is not None:
            kind = source.driver.get("type")
            if not isinstance(kind, str):
                found.append(((*where, "driver"), "needs a 'type' key naming the driver"))
                continue
            try:
                model = load_driver(kind).config_model
            except UnknownDriverError as error:
                found.append(((*where, "driver", "type"), str(error)))
                continue
            if kind in UNSUPPORTED_DRIVERS:
                found.append(
                    (
                        (*where, "driver", "type"),
                        f"a source cannot run on a {kind} driver (a person measuring is a "
                        "campaign of its own): give it an instrument or a simulator",
                    )
                )
                continue
            try:
                config = model.model_validate(source.driver)
            except ValidationError as error:
                found += [((*where, "driver", *e["loc"]), _message(e)) for e in error.errors()]
                continue
            if config.slots > 1:
                found.append(
                    (
                        (*where, "driver", "slots"),
                        "multi-fidelity campaigns run one experiment at a time: remove slots",
                    )
                )
            for found_problem in config.problems(context):
                if isinstance(found_problem, tuple):
                    loc, message = found_problem
                    found.append(((*where, "driver", *loc), message))
        if source.dry_run is not None:
            found += _dry_run_problems(source.dry_run, context, (*where, "dry_run"))
    return found


def _dry_run_problems(
    section: dict[str, Any], context: CampaignContext, where: Location
) -> list[tuple[Location, str]]:
    if set(section) != {"simulator"}:
        return [(where, "a source's dry run holds one key, simulator: {type: ..., ...}")]
    try:
        config = _simulated_config().model_validate({"type": "simulated", **section})
    except ValidationError as error:
        return [((*where, *e["loc"]), _message(e)) for e in error.errors()]
    return [((*where, *loc), message) for loc, message in config.problems(context)]


def _simulated_config() -> type[DriverConfig]:
    """The simulated driver's config model, as the driver registry provides it: the
    campaign names no driver implementation."""
    return load_driver("simulated").config_model


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "required key is missing"
    if error["type"] == "extra_forbidden":
        return f"unknown key {error['loc'][-1]!r}"
    return str(error["msg"]).removeprefix("Value error, ")
