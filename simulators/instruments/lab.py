"""The virtual lab: one world, a hotplate and a source meter, each on its own pty link."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Self

from tansaku.simulators.instruments.namur import NamurHotplate
from tansaku.simulators.instruments.pty_device import Faults, PtyDevice
from tansaku.simulators.instruments.scpi import ScpiSourceMeter
from tansaku.simulators.instruments.world import World


class VirtualLab:
    """``<folder>/hotplate`` (IKA NAMUR) and ``<folder>/smu`` (SCPI) sharing one :class:`World`.

    Use it as a context manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        seed: int | None = 0,
        faults: Faults | None = None,
        noise_sd: float = 0.0,
        tau: float = 0.3,
        keep_history: bool = True,
    ) -> None:
        """``folder`` gets the links (created if missing); ``seed`` makes noise and faults
        repeatable (``None``: different every run); ``faults`` start on both devices;
        ``noise_sd``: relative noise of each conductance measurement; ``tau``: the
        plate's thermal time constant (s); ``keep_history``: devices keep every line."""
        self.folder = Path(folder)
        self.world = World(tau=tau, noise_sd=noise_sd, seed=_derived_seed(seed, "world"))
        self.hotplate = NamurHotplate(
            self.world,
            self.folder / "hotplate",
            faults=faults,
            seed=_derived_seed(seed, "hotplate"),
            keep_history=keep_history,
        )
        self.smu = ScpiSourceMeter(
            self.world,
            self.folder / "smu",
            faults=faults,
            seed=_derived_seed(seed, "smu"),
            keep_history=keep_history,
        )

    @property
    def devices(self) -> dict[str, PtyDevice]:
        """Device name → device, in start order."""
        return {"hotplate": self.hotplate, "smu": self.smu}

    def start(self) -> Self:
        """Create the folder and start both devices. Returns ``self``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            for device in self.devices.values():
                device.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop both devices and remove their links."""
        for device in self.devices.values():
            device.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _derived_seed(seed: int | None, name: str) -> str | None:
    # One seed for the lab, a different but repeatable stream for each part of it.
    return None if seed is None else f"{seed}/{name}"
