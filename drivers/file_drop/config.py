"""The ``driver:`` section of a file-drop campaign: folders, file layouts, timing.

Every path is relative to the campaign file unless absolute. Folders are created at
connect time, not while validating.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tansaku.documents import Location
from tansaku.drivers.base import CampaignContext, DriverConfig, instrument_name_from
from tansaku.units import Duration, format_duration


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestLayout(_Section):
    """How a request file looks: one experiment per file, one row or one JSON object."""

    format: Literal["json", "csv"] = "json"
    id_field: str = Field("experiment_id", description="Field or column holding the id.")
    campaign_field: str = Field("campaign", description="Field or column holding the campaign.")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Campaign parameter → field or column name, where the robot's differ.",
    )
    expires_field: str | None = Field(
        "expires_at",
        description="Field telling the robot when tansaku stops waiting; null leaves it out.",
    )

    def field_of(self, parameter: str) -> str:
        return self.columns.get(parameter, parameter)


class ResultLayout(_Section):
    """How a result file looks, and how tansaku knows the robot has finished writing it."""

    format: Literal["json", "csv"] = "json"
    id_field: str = "experiment_id"
    campaign_field: str | None = Field(
        "campaign",
        description="Field that must name this campaign; null if the robot does not write it.",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Objective → field or column name, where the robot's differ.",
    )
    failure_field: str | None = Field(
        "failure",
        description="Field in which the robot reports that the experiment itself failed.",
    )
    complete: Literal["stable", "sentinel", "atomic"] = Field(
        "stable",
        description=(
            "When a result file is complete: 'atomic' at once (the robot renames finished "
            "files into the inbox), 'sentinel' when '<file><sentinel_suffix>' appears beside "
            "it, 'stable' when its size and time stamp stay unchanged for 'stable_for'."
        ),
    )
    stable_for: Duration = timedelta(seconds=1)
    sentinel_suffix: str = Field(".done", pattern=r"^\.[A-Za-z0-9_.-]+$")

    def field_of(self, objective: str) -> str:
        return self.columns.get(objective, objective)

    @property
    def suffix(self) -> str:
        return f".{self.format}"


class NimoSettings(_Section):
    """NIMS-OS / NIMO folder protocol: one round of ``slots`` experiments at a time."""

    handshake: bool = Field(
        False,
        description="Expect the robot to acknowledge a round by deleting 'inputend.txt'.",
    )
    acknowledge_within: Duration = Field(
        timedelta(minutes=1),
        description="With handshake: how long the robot has to delete 'inputend.txt'.",
    )


class FileDropConfig(DriverConfig):
    """``driver: {type: file_drop, outbox: ..., inbox: ..., time_limit: ...}``."""

    type: Literal["file_drop"]
    outbox: Path = Field(description="Folder tansaku writes requests to; the robot reads it.")
    inbox: Path = Field(description="Folder the robot writes results to; tansaku reads it.")
    archive: Path | None = Field(
        None, description="Where processed files go; default: 'archive' beside the outbox."
    )
    quarantine: Path | None = Field(
        None, description="Where rejected files go, each with a .reason; default: beside inbox."
    )
    time_limit: Duration = Field(
        description="How long an experiment may take before it is recorded as failed."
    )
    poll_interval: Duration = Field(
        timedelta(seconds=2), description="How often the inbox is checked when polling."
    )
    watch: Literal["events", "polling"] = Field(
        "events",
        description=(
            "'events' reacts to file-system notifications (local disks); 'polling' lists the "
            "inbox every poll_interval (network shares: SMB, NFS)."
        ),
    )
    mode: Literal["files", "nimo"] = Field(
        "files",
        description="'files': one request and one result file per experiment; 'nimo': NIMS-OS.",
    )
    request: RequestLayout = RequestLayout()
    result: ResultLayout = ResultLayout()
    nimo: NimoSettings = NimoSettings()

    @model_validator(mode="after")
    def _check_timing(self) -> FileDropConfig:
        if self.time_limit <= timedelta(0):
            raise ValueError("time_limit must be longer than zero")
        if self.poll_interval <= timedelta(0):
            raise ValueError("poll_interval must be longer than zero")
        return self

    def describe(self, base_dir: Path) -> list[str]:
        paths = self.folders(base_dir)
        limit = format_duration(self.time_limit)
        if self.mode == "nimo":
            handshake = (
                f"the robot acknowledges each round within "
                f"{format_duration(self.nimo.acknowledge_within)}"
                if self.nimo.handshake
                else "no handshake"
            )
            how = f"NIMS-OS rounds of {self.slots} ({handshake}), {limit} per round"
        else:
            slots = f"{self.slots} slots" if self.slots > 1 else "1 slot"
            how = f"one {self.request.format} file per experiment, {slots}, {limit} each"
        folders = f"requests to {paths['outbox']}, results from {paths['inbox']}"
        return [f"file drop: {how}", folders]

    def default_instrument(self, base_dir: Path) -> str | None:
        """The outbox the robot reads (``/srv/robot/outbox`` → ``srv-robot-outbox``): two
        campaigns that drop requests in one folder feed one robot."""
        return instrument_name_from(str(self.folders(base_dir)["outbox"].resolve()))

    def folders(self, base_dir: Path) -> dict[str, Path]:
        """``outbox``, ``inbox``, ``archive`` and ``quarantine``, resolved against ``base_dir``."""
        outbox = _resolve(self.outbox, base_dir)
        inbox = _resolve(self.inbox, base_dir)
        archive = self.archive or outbox.parent / "archive"
        quarantine = self.quarantine or inbox.parent / "quarantine"
        return {
            "outbox": outbox,
            "inbox": inbox,
            "archive": _resolve(archive, base_dir),
            "quarantine": _resolve(quarantine, base_dir),
        }

    def problems(self, context: CampaignContext) -> list[tuple[Location, str]]:
        found: list[tuple[Location, str]] = []
        folders = self.folders(context.base_dir)
        seen: dict[Path, str] = {}
        for name, path in folders.items():
            if path in seen:
                found.append(((name,), f"is the same folder as {seen[path]}: {path}"))
            seen.setdefault(path, name)
            for other, other_path in folders.items():
                if other != name and other_path != path and path.is_relative_to(other_path):
                    found.append(((name,), f"lies inside the {other} folder {other_path}"))
        if self.mode == "nimo":
            return found + self._unused_in_nimo()
        if "nimo" in self.model_fields_set:
            found.append((("nimo",), "applies to mode: nimo only; remove it or set mode: nimo"))
        found += _unknown_names(("request", "columns"), self.request.columns, context.parameters)
        found += _unknown_names(("result", "columns"), self.result.columns, context.objectives)
        request_fields = [self.request.id_field, self.request.campaign_field]
        request_fields += [self.request.field_of(p) for p in context.parameters]
        if self.request.expires_field:
            request_fields.append(self.request.expires_field)
        found += _repeated(("request",), request_fields)
        result = self.result
        result_fields = [result.id_field, result.campaign_field, result.failure_field]
        result_fields += [result.field_of(o) for o in context.objectives]
        found += _repeated(("result",), result_fields)
        return found

    def _unused_in_nimo(self) -> list[tuple[Location, str]]:
        """``request:`` and ``result:`` settings, which the NIMS-OS protocol leaves no room for."""
        fixed = {
            "request": "the protocol fixes the request file (the line 'input file for machine', "
            "then one row of parameter values per experiment, in campaign order)",
            "result": "the protocol fixes 'results.csv' (no header, one row per "
            "experiment, objective values in campaign order, complete once 'outputend.txt' "
            "appears)",
        }
        found: list[tuple[Location, str]] = []
        for section, why in fixed.items():
            if section not in self.model_fields_set:
                continue
            keys = sorted(getattr(self, section).model_fields_set) or [None]
            for key in keys:
                location: Location = (section,) if key is None else (section, key)
                found.append((location, f"is not used with mode: nimo, because {why}; remove it"))
        return found


def _resolve(path: Path, base_dir: Path) -> Path:
    return (path if path.is_absolute() else base_dir / path).resolve()


def _unknown_names(
    location: Location, mapping: dict[str, str], known: Iterable[str]
) -> list[tuple[Location, str]]:
    names = list(known)
    return [
        ((*location, name), f"{name!r} is not one of this campaign's: {', '.join(names)}")
        for name in mapping
        if name not in names
    ]


def _repeated(location: Location, fields: list[str | None]) -> list[tuple[Location, str]]:
    named = [f for f in fields if f]
    clashes = sorted({f for f in named if named.count(f) > 1})
    return [
        (location, f"field name {name!r} is used twice; rename one under 'columns:'")
        for name in clashes
    ]
