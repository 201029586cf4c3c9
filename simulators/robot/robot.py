"""The robot engine: watch the outbox, run experiments in wall-clock time, write results.

Two protocols, chosen by the campaign's ``driver.mode``:

- ``files``: one request file per experiment. Up to ``slots`` experiments run at once,
  each for a jittered duration, so results come back out of order.
- ``nimo``: NIMS-OS rounds. A request CSV plus ``inputend.txt`` in the outbox starts a
  round; ``results.csv`` plus ``outputend.txt`` in the inbox ends it.

Readings come from the campaign's dry-run simulator plus Gaussian noise of its
``noise_sd``. Faults (partial, wrong-id, unknown-id, garbage, duplicate, never, late
results) are drawn per experiment from ``numpy.random.default_rng([seed, id])``, so a
given seed misbehaves the same way every time, whatever the timing.

The outbox is polled: simple, and it works on the network shares real robots use. The
robot never touches tansaku's archive and quarantine folders, and leaves request files
where they are; it remembers which ids it has started so that it never runs one twice.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tansaku.campaign import LoadedCampaign, load_campaign
from tansaku.drivers.base import CampaignContext
from tansaku.drivers.file_drop.config import FileDropConfig
from tansaku.drivers.simulated import build_simulator
from tansaku.simulators.robot.files import (
    INPUT_END,
    NIMO_RESULTS,
    OUTPUT_END,
    ParameterValue,
    Request,
    RequestError,
    encode_nimo_results,
    encode_result,
    read_nimo_request,
    read_request,
    result_name,
    touch,
    write_atomic,
    write_partial,
)

FAILURE = "sample cracked"
"""What a failed experiment reports in the result's failure field."""

NIMO_FAULTS = ("never", "garbage", "late")
"""The faults a NIMS-OS round can have; the others apply to files mode only."""


@dataclass(frozen=True)
class Faults:
    """Probability of each fault, per experiment (per round in NIMS-OS mode).

    At most one fault strikes an experiment, so the probabilities may add up to 1 at most.
    """

    partial: float = 0.0
    """The result is written in place in two halves, ``partial_pause`` seconds apart."""
    wrong_id: float = 0.0
    """The file is named for experiment N but says N+1000 inside."""
    unknown_id: float = 0.0
    """Name and content both use an id never requested: N+9000."""
    garbage: float = 0.0
    """Random bytes (not UTF-8) under the result's name."""
    duplicate: float = 0.0
    """The result, then the same content again as ``<label>-again.<ext>``."""
    never: float = 0.0
    """No result at all."""
    late: float = 0.0
    """The right result, ``late_by`` seconds after tansaku stopped waiting for it (in
    NIMS-OS mode: after tansaku withdrew the round's request from the outbox)."""

    def __post_init__(self) -> None:
        for name, rate in self.rates().items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"the {name} rate must lie between 0 and 1, got {rate}")
        if sum(self.rates().values()) > 1.0 + 1e-9:
            raise ValueError("the fault rates add up to more than 1; at most one fault strikes")

    def rates(self) -> dict[str, float]:
        """Fault kind (as the command line spells it) to its probability, in draw order."""
        return {f.name.replace("_", "-"): getattr(self, f.name) for f in fields(self)}

    def pick(self, draw: float, kinds: tuple[str, ...] | None = None) -> str | None:
        """The fault a uniform ``draw`` in [0, 1) selects among ``kinds`` (default: all)."""
        threshold = 0.0
        for kind, rate in self.rates().items():
            if kinds is not None and kind not in kinds:
                continue
            threshold += rate
            if draw < threshold:
                return kind
        return None


@dataclass(frozen=True)
class RobotOptions:
    """How the robot behaves; every time is in wall-clock seconds."""

    slots: int | None = None
    """Experiments run at once; ``None`` takes the campaign's ``driver.slots``."""
    duration: float = 0.3
    """Nominal length of one experiment (one round in NIMS-OS mode)."""
    jitter: float = 0.5
    """Each duration is scaled by a random factor in [1 - jitter, 1 + jitter]."""
    seed: int = 0
    faults: Faults = field(default_factory=Faults)
    fail_rate: float = 0.0
    """Probability that an experiment fails ('sample cracked'); files mode only."""
    partial_pause: float = 1.0
    duplicate_after: float = 0.2
    late_by: float = 0.5
    poll_interval: float = 0.05

    def __post_init__(self) -> None:
        if self.slots is not None and self.slots < 1:
            raise ValueError(f"slots must be at least 1, got {self.slots}")
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError(f"jitter must lie in [0, 1), got {self.jitter}")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError(f"the fail rate must lie between 0 and 1, got {self.fail_rate}")
        for name in ("duration", "partial_pause", "duplicate_after", "late_by"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.poll_interval <= 0:
            raise ValueError("poll_interval must be longer than zero")


def print_line(line: str) -> None:
    """The default event sink: one line on stdout, flushed at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Robot:
    """A virtual lab robot serving one ``file_drop`` campaign's folders.

    ``say`` receives one line per event (``ready``, ``started <label>``, ``result <label>
    -> <file>``, ``fault <kind> <label>``, ``round <file> (<n> rows)``, ...); every line
    is also kept in :attr:`events`. Use it as a context manager, or call :meth:`start`
    and :meth:`stop`.
    """

    def __init__(
        self,
        loaded: LoadedCampaign,
        options: RobotOptions | None = None,
        say: Callable[[str], None] = print_line,
    ) -> None:
        campaign = loaded.campaign
        if not isinstance(campaign.driver, FileDropConfig):
            raise ValueError(
                f"campaign {campaign.name!r} uses a {campaign.driver.type!r} driver; "
                "the robot serves file_drop campaigns only"
            )
        if campaign.dry_run is None:
            raise ValueError(
                f"campaign {campaign.name!r} has no dry_run simulator to take readings from"
            )
        self.options = options or RobotOptions()
        self.config: FileDropConfig = campaign.driver
        self.context: CampaignContext = loaded.context()
        folders = self.config.folders(self.context.base_dir)
        self.outbox: Path = folders["outbox"]
        self.inbox: Path = folders["inbox"]
        self.slots: int = self.options.slots or self.config.slots
        self.events: list[str] = []
        self._spec = campaign.dry_run.simulator
        self._simulator: Callable[[Mapping[str, ParameterValue]], float] | None = None
        self._say_sink = say
        self._say_lock = threading.Lock()
        self._simulator_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue: queue.Queue[Request] = queue.Queue()
        self._claimed: set[int] = set()
        self._seen: dict[str, tuple[int, int]] = {}
        self._processed_rounds: set[str] = set()
        self._rounds = 0

    @classmethod
    def from_file(
        cls,
        path: Path,
        options: RobotOptions | None = None,
        say: Callable[[str], None] = print_line,
    ) -> Robot:
        """The robot for the campaign file at ``path`` (raises ``CampaignError`` if invalid)."""
        return cls(load_campaign(path), options, say)

    @property
    def mode(self) -> str:
        return self.config.mode

    def start(self) -> None:
        """Load the simulator, start watching the outbox, and say ``ready``."""
        if self._threads:
            raise RuntimeError("the robot is already running")
        self._simulator = build_simulator(self._spec, self.context)
        self.outbox.mkdir(parents=True, exist_ok=True)
        self.inbox.mkdir(parents=True, exist_ok=True)
        if self.mode == "nimo":
            ignored = [
                kind
                for kind, rate in self.options.faults.rates().items()
                if rate and kind not in NIMO_FAULTS
            ]
            if ignored or self.options.fail_rate:
                ignored += ["fail-rate"] if self.options.fail_rate else []
                self._say(f"note: no effect in nimo mode: {', '.join(ignored)}")
        # Said before the watchers start, so that it is the first event line even when
        # requests are already waiting; nothing dropped in the meantime is missed.
        self._say("ready")
        if self.mode == "nimo":
            self._spawn("nimo", self._watch_rounds)
        else:
            self._spawn("outbox", self._watch_requests)
            for slot in range(self.slots):
                self._spawn(f"slot-{slot + 1}", self._work)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop at once: experiments under way are abandoned, nothing more is written."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def __enter__(self) -> Robot:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- shared ---------------------------------------------------------------------

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"robot-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _say(self, line: str) -> None:
        with self._say_lock:
            self.events.append(line)
            self._say_sink(line)

    def _measure(self, parameters: Mapping[str, ParameterValue], noise: np.ndarray) -> list[float]:
        """One reading per measured quantity, with independent noise.

        A simulator that returns one number answers for every quantity; one that returns
        readings by name answers each by its name.
        """
        assert self._simulator is not None
        with self._simulator_lock:
            result = self._simulator(parameters)
        names = self.context.objectives
        clean = (
            [float(result[name]) for name in names]
            if isinstance(result, Mapping)
            else [float(result)] * len(names)
        )
        return [
            value + self._spec.noise_sd * float(n) if np.isfinite(value) else value
            for value, n in zip(clean, noise, strict=True)
        ]

    def _duration(self, rng: np.random.Generator) -> float:
        jitter = self.options.jitter
        return self.options.duration * float(rng.uniform(1.0 - jitter, 1.0 + jitter))

    # -- files mode -----------------------------------------------------------------

    def _watch_requests(self) -> None:
        while not self._stop.is_set():
            for request in sorted(self._new_requests(), key=lambda r: r.id):
                self._claimed.add(request.id)
                self._queue.put(request)
            self._stop.wait(self.options.poll_interval)

    def _new_requests(self) -> list[Request]:
        suffix = f".{self.config.request.format}"
        try:
            entries = sorted(os.scandir(self.outbox), key=lambda entry: entry.name)
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            name = entry.name
            if name.startswith(".") or not name.endswith(suffix):
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            version = (stat.st_mtime_ns, stat.st_size)
            if self._seen.get(name) == version:
                continue
            self._seen[name] = version
            try:
                request = read_request(Path(entry.path), self.config, self.context.parameters)
            except FileNotFoundError:  # archived while we looked
                del self._seen[name]
                continue
            except RequestError as error:
                self._say(f"ignored {name}: {error}")
                continue
            if request.campaign != self.context.name:
                self._say(f"ignored {name}: for campaign {request.campaign!r}")
            elif request.id in self._claimed:
                self._say(f"ignored {name}: {request.label} was started before")
            elif request.expired():
                self._say(f"skipped {request.label}: expired at {request.expires_at}")
            else:
                found.append(request)
        return found

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                request = self._queue.get(timeout=self.options.poll_interval)
            except queue.Empty:
                continue
            if request.expired():
                self._say(f"skipped {request.label}: expired at {request.expires_at}")
                self._claimed.discard(request.id)
                continue
            self._run(request)

    def _run(self, request: Request) -> None:
        options = self.options
        rng = np.random.default_rng([options.seed, request.id])
        fault = options.faults.pick(float(rng.random()))
        failed = float(rng.random()) < options.fail_rate and fault is None
        duration = self._duration(rng)
        noise = rng.standard_normal(len(self.context.objectives))
        garbage = b"\xff" + rng.bytes(63)  # 0xff never occurs in UTF-8

        began = time.monotonic()
        self._say(f"started {request.label}")
        values: dict[str, float] = {}
        if not failed:
            readings = self._measure(request.parameters, noise)
            values = dict(zip(self.context.objectives, readings, strict=True))
        if self._stop.wait(max(0.0, duration - (time.monotonic() - began))):
            return
        layout = self.config.result
        campaign = self.context.name
        name = result_name(campaign, request.id, layout)
        content = encode_result(layout, campaign, request.id, values, FAILURE if failed else None)

        if fault is not None:
            self._say(f"fault {fault} {request.label}")
        if failed:
            self._say(f"failed {request.label} ({FAILURE})")
        if fault is None:
            self._deliver(request.label, name, content)
        elif fault == "partial":
            if write_partial(self.inbox / name, content, options.partial_pause, self._stop):
                self._finish(request.label, name)
        elif fault == "wrong-id":
            wrong = encode_result(layout, campaign, request.id + 1000, values)
            self._deliver(request.label, name, wrong)
        elif fault == "unknown-id":
            unknown = request.id + 9000
            content = encode_result(layout, campaign, unknown, values)
            self._deliver(request.label, result_name(campaign, unknown, layout), content)
        elif fault == "garbage":
            self._deliver(request.label, name, garbage)
        elif fault == "duplicate":
            self._deliver(request.label, name, content)
            if not self._stop.wait(options.duplicate_after):
                again = result_name(campaign, request.id, layout, tag="-again")
                self._deliver(request.label, again, content)
        elif fault == "late":
            if request.expires_at is None:
                wait = options.late_by
            else:
                overdue = request.expires_at - datetime.now(UTC)
                wait = overdue.total_seconds() + options.late_by
            if not self._stop.wait(max(0.0, wait)):
                self._deliver(request.label, name, content)
        # "never": nothing is written.

    def _deliver(self, label: str, name: str, content: bytes) -> None:
        """Write a result the way the layout says finished results appear."""
        if self._stop.is_set():
            return
        write_atomic(self.inbox / name, content)
        self._finish(label, name)

    def _finish(self, label: str, name: str) -> None:
        layout = self.config.result
        if layout.complete == "sentinel":
            touch(self.inbox / f"{name}{layout.sentinel_suffix}")
        self._say(f"result {label} -> {name}")

    # -- NIMS-OS mode ---------------------------------------------------------------

    def _watch_rounds(self) -> None:
        while not self._stop.is_set():
            self._next_round()
            self._stop.wait(self.options.poll_interval)

    def _next_round(self) -> None:
        if (self.inbox / OUTPUT_END).exists() or not (self.outbox / INPUT_END).exists():
            return
        try:
            pending = sorted(
                entry.name
                for entry in os.scandir(self.outbox)
                if entry.name.endswith(".csv")
                and not entry.name.startswith(".")
                and entry.name not in self._processed_rounds
            )
        except FileNotFoundError:
            return
        if not pending:
            return
        name = pending[0]
        try:
            request = read_nimo_request(
                self.outbox / name, self.context.name, self.context.parameters
            )
        except FileNotFoundError:
            return
        except RequestError as error:
            self._processed_rounds.add(name)
            self._say(f"ignored {name}: {error}")
            return
        self._processed_rounds.add(name)
        if self.config.nimo.handshake:
            (self.outbox / INPUT_END).unlink(missing_ok=True)
        self._rounds += 1
        key = self._rounds if request.first_id is None else request.first_id
        self._run_round(name, request.rows, key)

    def _run_round(
        self, name: str, rows: tuple[Mapping[str, ParameterValue], ...], key: int
    ) -> None:
        options = self.options
        rng = np.random.default_rng([options.seed, key])
        fault = options.faults.pick(float(rng.random()), NIMO_FAULTS)
        duration = self._duration(rng)
        noise = rng.standard_normal((len(rows), len(self.context.objectives)))

        began = time.monotonic()
        self._say(f"round {name} ({len(rows)} rows)")
        values = [self._measure(row, row_noise) for row, row_noise in zip(rows, noise, strict=True)]
        if self._stop.wait(max(0.0, duration - (time.monotonic() - began))):
            return
        if fault is not None:
            self._say(f"fault {fault} {name}")
        if fault == "never":
            return
        # A late round is answered anyway, once tansaku has given up on it and withdrawn it.
        late = fault == "late"
        if late and (not self._withdrawn(name) or self._stop.wait(options.late_by)):
            return
        content = b"abc,def\n" * len(rows) if fault == "garbage" else encode_nimo_results(values)
        write_atomic(self.inbox / NIMO_RESULTS, content)
        touch(self.inbox / OUTPUT_END)
        self._say(f"result {name} -> {NIMO_RESULTS}")

    def _withdrawn(self, name: str) -> bool:
        """Wait until tansaku has taken the round's request back; ``False`` if stopped first."""
        while os.path.lexists(self.outbox / name):
            if self._stop.wait(self.options.poll_interval):
                return False
        return True
