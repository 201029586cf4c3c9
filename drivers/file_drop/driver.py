"""The ``file_drop`` driver: requests out through one folder, results back through another.

For robots and vendor programs that cannot be called but read and write files. The
campaign's ``mode`` says how the files look and how answers are matched to experiments:
``files`` (:mod:`~tansaku.drivers.file_drop.files`) or NIMS-OS rounds
(:mod:`~tansaku.drivers.file_drop.nimo`). The driver builds that mode's
:class:`~tansaku.drivers.file_drop.exchange.Exchange` once and leaves the folders'
contents to it. What it keeps for itself is the same in every mode: it creates the
folders, waits for them to change, and reports an outbox it cannot write as an
instrument error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from tansaku.drivers.base import (
    CampaignContext,
    Completion,
    DriverConfig,
    Experiment,
    InstrumentError,
)
from tansaku.drivers.file_drop.config import FileDropConfig
from tansaku.drivers.file_drop.exchange import Exchange
from tansaku.drivers.file_drop.files import FilesExchange
from tansaku.drivers.file_drop.nimo import NimoRounds
from tansaku.drivers.file_drop.watcher import FolderWatcher

_EXCHANGES: dict[str, type[Exchange]] = {"files": FilesExchange, "nimo": NimoRounds}
"""The exchange for each ``mode`` a campaign may name."""


class FileDropDriver:
    """Keeps up to ``slots`` experiments with a lab robot through drop folders."""

    config_model: ClassVar[type[DriverConfig]] = FileDropConfig

    def __init__(self, config: DriverConfig, context: CampaignContext) -> None:
        if not isinstance(config, FileDropConfig):
            raise TypeError(f"FileDropDriver needs a FileDropConfig, got {type(config)}")
        self._config = config
        paths = config.folders(context.base_dir)
        self._outbox = paths["outbox"]
        self._folders = [paths["outbox"], paths["inbox"], paths["archive"], paths["quarantine"]]
        self._exchange = _EXCHANGES[config.mode](
            context.name, context.parameters, context.objectives, config, paths, self.now
        )
        self._watcher = FolderWatcher([paths["inbox"], paths["outbox"]], config.watch)

    def connect(self) -> None:
        """Create the drop folders and start watching them."""
        for folder in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
        self._watcher.start()

    def now(self) -> datetime:
        """Wall time: the robot runs in the real world."""
        return datetime.now(UTC)

    def free_slots(self) -> int:
        """How many more experiments :meth:`submit` accepts now."""
        return self._exchange.free_slots()

    def submit(self, experiments: Sequence[Experiment]) -> None:
        """Write the requests for ``experiments`` to the outbox; do not wait for them."""
        if len(experiments) > self.free_slots():
            raise ValueError(f"{len(experiments)} experiments for {self.free_slots()} free slots")
        try:
            self._exchange.submit(experiments, self.now())
        except OSError as error:
            raise InstrumentError(f"cannot write to the outbox {self._outbox}: {error}") from error

    def resume(self, experiment: Experiment, submitted_at: datetime) -> None:
        """Wait again for an experiment a previous run submitted at ``submitted_at``."""
        self._exchange.resume(experiment, submitted_at)

    def collect(self) -> list[Completion]:
        """What ended since the last call, waiting up to one poll interval if nothing did."""
        completions = self._exchange.scan()
        if not completions and self._exchange.in_flight():
            self._watcher.wait(self._wait_seconds())
            completions = self._exchange.scan()
        return completions

    def close(self) -> None:
        """Stop watching the folders; the requests in flight stay where they are."""
        self._watcher.stop()

    def _wait_seconds(self) -> float:
        poll = self._config.poll_interval.total_seconds()
        due = self._exchange.wake_within()
        return max(0.01, min(poll, due if due is not None else poll))
