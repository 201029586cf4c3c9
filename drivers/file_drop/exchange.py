"""What the ``file_drop`` modes differ in: how requests go out and answers come back.

:class:`~tansaku.drivers.file_drop.driver.FileDropDriver` builds one :class:`Exchange`
for the campaign's ``mode`` and leaves the folders' contents to it; the driver itself
only creates the folders, waits for them to change and turns write errors into
instrument errors.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from tansaku.drivers.base import Completion, Experiment
from tansaku.drivers.file_drop.config import FileDropConfig

logger = logging.getLogger("tansaku.file_drop")


class Exchange(ABC):
    """One mode's side of the drop folders: what is in flight and what came back for it.

    Args:
        campaign: the campaign's name, written into every request.
        parameters: the parameters' names, in the campaign's order.
        objectives: the names of what each answer must report.
        config: the campaign's ``driver:`` section.
        paths: the ``outbox``, ``inbox``, ``archive`` and ``quarantine`` folders.
        clock: the instrument's clock.
    """

    def __init__(
        self,
        campaign: str,
        parameters: Sequence[str],
        objectives: Sequence[str],
        config: FileDropConfig,
        paths: dict[str, Path],
        clock: Callable[[], datetime],
    ) -> None:
        self._campaign = campaign
        self._parameters = list(parameters)
        self._objectives = list(objectives)
        self._config = config
        self._outbox, self._inbox = paths["outbox"], paths["inbox"]
        self._archive, self._quarantine = paths["archive"], paths["quarantine"]
        self._clock = clock

    @abstractmethod
    def free_slots(self) -> int:
        """How many more experiments :meth:`submit` accepts now."""
        ...

    @abstractmethod
    def submit(self, experiments: Sequence[Experiment], submitted_at: datetime) -> None:
        """Write the requests for ``experiments``; after an ``OSError``, none is waited for."""
        ...

    @abstractmethod
    def resume(self, experiment: Experiment, submitted_at: datetime) -> None:
        """Wait again for an experiment a previous run submitted at ``submitted_at``."""
        ...

    @abstractmethod
    def in_flight(self) -> bool:
        """Whether anything is waiting for an answer."""
        ...

    @abstractmethod
    def scan(self) -> list[Completion]:
        """What ended since the last scan: answered, refused or past its time limit."""
        ...

    @abstractmethod
    def wake_within(self) -> float | None:
        """Seconds until a scan is due even if the folders do not change; None: nothing is."""
        ...


def unless_unreachable(scan: Callable[[], list[Completion]]) -> list[Completion]:
    """What ``scan`` finds, or nothing while the drop folders cannot be read."""
    try:
        return scan()
    except OSError as error:
        # A network share can drop out for a while; the experiments keep running.
        logger.warning("cannot read the drop folders (%s); trying again", error)
        return []
