"""``python -m tansaku.simulators.instruments --folder DIR``: the virtual lab until SIGINT/SIGTERM.

Prints one line per device (``hotplate: DIR/hotplate -> /dev/pts/7``) once both answer.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tansaku.simulators.instruments.lab import VirtualLab
from tansaku.simulators.instruments.pty_device import Faults
from tansaku.simulators.stop_signals import StopSignals


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tansaku.simulators.instruments",
        description="Virtual IKA NAMUR hotplate and SCPI source meter on pseudo-terminals.",
    )
    parser.add_argument("--folder", type=Path, required=True, help="where the links go")
    parser.add_argument("--seed", type=int, default=0, help="seed of noise and faults")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="chance a reply is lost")
    parser.add_argument("--garble-rate", type=float, default=0.0, help="chance a reply is noise")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="chance a command is rejected"
    )
    parser.add_argument(
        "--vanish-after", type=int, default=None, help="disconnect every N commands"
    )
    parser.add_argument(
        "--vanish-downtime", type=float, default=1.0, help="seconds each disconnection lasts"
    )
    parser.add_argument(
        "--noise-sd", type=float, default=0.0, help="relative noise of the conductance"
    )
    parser.add_argument(
        "--tau", type=float, default=0.3, help="thermal time constant of the plate (s)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the lab until SIGINT or SIGTERM; returns the exit status."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        faults = Faults(
            drop_rate=arguments.drop_rate,
            garble_rate=arguments.garble_rate,
            error_rate=arguments.error_rate,
            delay=arguments.delay,
            vanish_after=arguments.vanish_after,
            vanish_downtime=arguments.vanish_downtime,
        )
    except ValueError as error:
        parser.error(str(error))
    lab = VirtualLab(
        arguments.folder.absolute(),
        seed=arguments.seed,
        faults=faults,
        noise_sd=arguments.noise_sd,
        tau=arguments.tau,
        # A long run would otherwise keep every line in memory.
        keep_history=False,
    )
    with StopSignals() as stop, lab:
        for name, device in lab.devices.items():
            print(f"{name}: {device.link_path} -> {device.pty_path}")
        sys.stdout.flush()
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
