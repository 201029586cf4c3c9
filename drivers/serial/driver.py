"""The ``serial`` driver: instruments on serial lines, driven by YAML protocol descriptions.

One campaign may drive several devices: each parameter goes to the device whose protocol
applies it, each objective is read from the device whose protocol reads it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from tansaku.documents import DocumentError
from tansaku.drivers.base import (
    CampaignContext,
    DriverConfig,
    Experiment,
    InstrumentError,
    Measurement,
    instrument_name_from,
)
from tansaku.drivers.serial.checks import (
    Found,
    ProtocolFileError,
    ProtocolSource,
    check_against_campaign,
    read_protocol,
)
from tansaku.drivers.serial.link import DeviceLink, Transcript
from tansaku.drivers.serial.protocol import (
    Command,
    Poll,
    Protocol,
    TemplateError,
    UnsafeValueError,
    fill,
)
from tansaku.errors import InputError


class SerialDevice(BaseModel):
    """One device of the campaign: where it is plugged in and how it talks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    port: str = Field(
        description="A device path (/dev/ttyUSB0, COM3) or a pyserial URL (socket://host:port, "
        "rfc2217://host:port, loop://)."
    )
    protocol: Protocol | Path = Field(
        description="The protocol, inline, or a YAML file relative to the campaign file."
    )


class SerialDriverConfig(DriverConfig):
    """``driver: {type: serial, devices: {name: {port, protocol}}}``."""

    type: Literal["serial"]
    devices: Annotated[dict[str, SerialDevice], Field(min_length=1)]
    slots: Literal[1] = Field(1, description="A serial instrument runs one experiment at a time.")

    def ports(self) -> dict[str, str]:
        return {name: device.port for name, device in self.devices.items()}

    def default_instrument(self, base_dir: Path) -> str | None:
        """The ports the devices are on (``/dev/ttyUSB0`` → ``dev-ttyUSB0``), symbolic
        links resolved, so two campaigns on one port share it; ``None`` when every device
        is on ``loop://``, which each connection has to itself."""
        del base_dir
        ports = sorted(
            os.path.realpath(port) if port.startswith("/") else port
            for port in self.ports().values()
            if not port.startswith("loop://")
        )
        return instrument_name_from(*ports) if ports else None

    def with_ports(self, ports: Mapping[str, str]) -> SerialDriverConfig:
        unknown = sorted(set(ports) - set(self.devices))
        if unknown:
            raise InputError(
                f"--port {unknown[0]}=...: the campaign has no serial device {unknown[0]!r}; "
                f"its devices are {', '.join(self.devices)}"
            )
        devices = {
            name: device.model_copy(update={"port": ports.get(name, device.port)})
            for name, device in self.devices.items()
        }
        return self.model_copy(update={"devices": devices})

    def describe(self, base_dir: Path) -> list[str]:
        lines = []
        for name, protocol in self.protocols(base_dir).items():
            limits = [
                f"{parameter} {low:g}..{high:g}"
                for parameter, command in protocol.parameters.items()
                if command.limits is not None
                for low, high in [command.limits]
            ]
            checked = (
                f"; the space is within its hard limits {', '.join(limits)}"
                if limits
                else "; no hard limits"
            )
            lines.append(f"serial {name} on {self.devices[name].port}{checked}")
        return lines

    def protocols(self, base_dir: Path) -> dict[str, Protocol]:
        """Each device's protocol, protocol files read (raises ``ProtocolFileError`` or
        ``DocumentError``)."""
        return {
            name: read_protocol(name, device.protocol, base_dir).protocol
            for name, device in self.devices.items()
        }

    def problems(self, context: CampaignContext) -> list[Found]:
        found: list[Found] = []
        sources: list[ProtocolSource] = []
        for name, device in self.devices.items():
            try:
                sources.append(read_protocol(name, device.protocol, context.base_dir))
            except ProtocolFileError as error:
                found.append((("devices", name, "protocol"), str(error)))
            except DocumentError as error:
                found += error.problems
        if found:
            return found
        for source in sources:
            found += check_against_campaign(source, context)
        found += _routing_problems(
            "parameter",
            "applies",
            list(context.parameters),
            {s.device: list(s.protocol.parameters) for s in sources},
        )
        found += _routing_problems(
            "objective",
            "reads",
            list(context.objectives),
            {s.device: list(s.protocol.objectives) for s in sources},
        )
        return found


def _routing_problems(
    kind: str, verb: str, names: list[str], by_device: Mapping[str, list[str]]
) -> list[Found]:
    found: list[Found] = []
    for name in names:
        devices = [device for device, handled in by_device.items() if name in handled]
        if not devices:
            found.append(
                (
                    ("devices",),
                    f"no device {verb} the {kind} {name!r}; add it to the `{kind}s` of one "
                    "device's protocol",
                )
            )
        elif len(devices) > 1:
            found.append(
                (
                    ("devices",),
                    f"the {kind} {name!r} is {verb.removesuffix('s')}"
                    f" by several devices: {', '.join(devices)}; keep it in one protocol only",
                )
            )
    return found


class _Refused(Exception):
    """An experiment refused before anything was sent, and why."""


class SerialDriver:
    """Drives the campaign's serial devices; see the README, "Put your instrument on the loop".

    Every line sent and received goes to ``<run dir>/transcripts/<experiment>.log``
    (connection and shutdown traffic to ``transcripts/session.log``).
    """

    config_model: ClassVar[type[DriverConfig]] = SerialDriverConfig

    def __init__(self, config: DriverConfig, context: CampaignContext) -> None:
        if not isinstance(config, SerialDriverConfig):
            raise TypeError(f"SerialDriver needs a SerialDriverConfig, got {type(config)}")
        self._context = context
        self._protocols = config.protocols(context.base_dir)
        self._links = {
            name: DeviceLink(
                name, device.port, self._protocols[name].line, self._protocols[name].errors
            )
            for name, device in config.devices.items()
        }
        folder = context.run_dir / "transcripts" if context.run_dir is not None else None
        self._folder = folder
        self._session = Transcript(folder / "session.log" if folder else None)
        self._unsafe: set[str] = set()
        """Devices whose safe state was not confirmed after a failure: their next link
        sends it before anything else."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def connect(self) -> None:
        for name in self._links:
            self._open(name, self._session)

    def run(self, experiment: Experiment) -> Measurement:
        transcript = Transcript(self._folder / f"{experiment.label}.log" if self._folder else None)
        started = self.now()
        try:
            try:
                commands = self._commands_for(experiment)
            except _Refused as error:
                transcript.write("-", "!", f"refused before sending anything: {error}")
                return Measurement(
                    values={}, started_at=started, finished_at=self.now(), failure=str(error)
                )
            try:
                return self._measure(experiment, commands, transcript, started)
            except InstrumentError as error:
                self._make_safe(transcript)
                for link in self._links.values():
                    link.close()  # the next attempt reconnects
                # The ledger keeps the reason; the transcript it names shows the exchange.
                raise type(error)(f"{error} (transcript: {transcript.path})") from error
        finally:
            transcript.close()

    def close(self) -> None:
        self._make_safe(self._session)
        for link in self._links.values():
            link.close()
        self._session.close()

    # -----------------------------------------------------------------------------------

    def _open(self, name: str, transcript: Transcript) -> None:
        link = self._links[name]
        transcript.write(name, "!", f"opening {link.port}")
        link.open()
        if name in self._unsafe:
            # The device may have been left heating while its port was gone: make it
            # safe before the setup, which can take a while or fail.
            transcript.write(name, "!", "the last safe state was not confirmed; sending it first")
            link.discard_input()
            for command in self._protocols[name].safe_state:
                self._send(link, command, transcript)
            self._unsafe.discard(name)
        for command in self._protocols[name].setup:
            self._send(link, command, transcript)

    def _commands_for(self, experiment: Experiment) -> dict[str, list[Command]]:
        """The commands each device must be sent, checked against the hard limits first."""
        commands: dict[str, list[Command]] = {name: [] for name in self._links}
        for name, protocol in self._protocols.items():
            for parameter, rule in protocol.parameters.items():
                try:
                    value = rule.device_value(parameter, experiment.parameters[parameter])
                    line = fill(rule.send, {**experiment.parameters, parameter: value})
                except (UnsafeValueError, TemplateError) as error:
                    raise _Refused(f"{name}: {error}; nothing was sent") from None
                commands[name].append(Command(send=line, expect=rule.expect))
        return commands

    def _measure(
        self,
        experiment: Experiment,
        commands: dict[str, list[Command]],
        transcript: Transcript,
        started: datetime,
    ) -> Measurement:
        for name, link in self._links.items():
            if not link.is_open:
                self._open(name, transcript)
        for name, device_commands in commands.items():
            for command in device_commands:
                self._send(self._links[name], command, transcript)
        for name, protocol in self._protocols.items():
            for command in protocol.start:
                self._send(self._links[name], command, transcript)
            self._links[name].check_error_queue(transcript)
        for name, protocol in self._protocols.items():
            self._wait(name, protocol, experiment, transcript)
        values: dict[str, float] = {}
        raw: dict[str, object] = {}
        failure = None
        for name, protocol in self._protocols.items():
            for objective, reading in protocol.objectives.items():
                number, reply = _read_number(
                    self._links[name], reading.query, reading.pattern, transcript
                )
                value = reading.scale * number + reading.offset
                raw[objective] = reply
                values[objective] = value
                if reading.valid is not None and not reading.valid[0] <= value <= reading.valid[1]:
                    failure = (
                        f"{objective}={value:g} is outside its valid range "
                        f"[{reading.valid[0]:g}, {reading.valid[1]:g}]"
                    )
        return Measurement(
            values=values, started_at=started, finished_at=self.now(), failure=failure, raw=raw
        )

    def _send(self, link: DeviceLink, command: Command, transcript: Transcript) -> None:
        if command.expect is None:
            link.send(command.send, transcript)
        else:
            link.query(command.send, transcript, expect=command.expect)

    def _wait(
        self, name: str, protocol: Protocol, experiment: Experiment, transcript: Transcript
    ) -> None:
        deadline = time.monotonic() + protocol.wait.settle.total_seconds()
        self._idle_until(deadline, name, protocol, transcript)
        if protocol.wait.poll is not None:
            self._poll(name, protocol, protocol.wait.poll, experiment, transcript)

    def _poll(
        self,
        name: str,
        protocol: Protocol,
        poll: Poll,
        experiment: Experiment,
        transcript: Transcript,
    ) -> None:
        link = self._links[name]
        give_up = time.monotonic() + poll.time_limit.total_seconds()
        held_since: float | None = None
        while True:
            if poll.until is not None:
                reply = link.query(poll.query, transcript)
                holds, condition = re.search(poll.until, reply) is not None, f"match {poll.until!r}"
                seen = repr(reply)
            else:
                assert poll.pattern is not None and poll.target is not None
                assert poll.within is not None, "the protocol model requires a whole band"
                target = float(
                    experiment.parameters[poll.target]
                    if isinstance(poll.target, str) and poll.target in experiment.parameters
                    else poll.target
                )
                value, _ = _read_number(link, poll.query, poll.pattern, transcript)
                holds, condition = (
                    abs(value - target) <= poll.within,
                    (f"stay within {poll.within:g} of {target:g}"),
                )
                seen = f"{value:g}"
            now = time.monotonic()
            if not holds:
                held_since = None
            elif held_since is None:
                held_since = now
            if held_since is not None and now - held_since >= poll.stable_for.total_seconds():
                return
            if now >= give_up:
                raise InstrumentError(
                    f"{name}: {poll.query} answered {seen}; it did not {condition} for "
                    f"{poll.stable_for.total_seconds():g} s within "
                    f"{poll.time_limit.total_seconds():g} s"
                )
            self._idle_until(now + poll.every.total_seconds(), name, protocol, transcript)

    def _idle_until(
        self, deadline: float, name: str, protocol: Protocol, transcript: Transcript
    ) -> None:
        """Sleep until ``deadline`` (monotonic), sending the keep-alive when it is due."""
        keepalive = protocol.keepalive
        while (left := deadline - time.monotonic()) > 0:
            if keepalive is None:
                time.sleep(left)
                return
            step = min(left, keepalive.every.total_seconds())
            time.sleep(step)
            if step < left:
                self._send(self._links[name], keepalive, transcript)

    def _make_safe(self, transcript: Transcript) -> None:
        """Send every device's safe-state commands; a device that fails is noted, not fatal."""
        for name, protocol in self._protocols.items():
            link = self._links[name]
            try:
                if not link.is_open:
                    link.open()
                link.discard_input()  # an interrupted exchange may have left a reply behind
                for command in protocol.safe_state:
                    self._send(link, command, transcript)
            except InstrumentError as error:
                transcript.write(name, "!", f"safe state not confirmed: {error}")
                self._unsafe.add(name)
            else:
                self._unsafe.discard(name)


def _read_number(
    link: DeviceLink,
    query: str,
    pattern: str,
    transcript: Transcript,
) -> tuple[float, str]:
    """Ask ``query`` and return the number in the reply's ``value`` group, and the reply."""
    reply = link.query(query, transcript, expect=pattern)
    match = re.search(pattern, reply)
    assert match is not None, "query() checked the reply against the pattern"
    try:
        return float(match["value"]), reply
    except ValueError:
        raise InstrumentError(
            f"{link.name}: {match['value']!r} in the reply to {query!r} is not a number"
        ) from None
