"""``python -m tansaku.simulators.robot CAMPAIGN.yaml``: answer a file_drop campaign until stopped.

Prints ``ready`` once it watches the outbox, then one line per event; exits 0 when
stopped, 2 when the campaign file or an option is unusable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tansaku.campaign import CampaignError
from tansaku.simulators.robot.robot import Faults, Robot, RobotOptions
from tansaku.simulators.stop_signals import StopSignals

_FAULT_HELP = {
    "partial": "result written in place in two halves, --partial-pause apart",
    "wrong-id": "file named for experiment N, content says N+1000",
    "unknown-id": "name and content use an id never requested (N+9000)",
    "garbage": "random bytes under the result's name",
    "duplicate": "result, then the same again as <label>-again.<ext>",
    "never": "no result at all",
    "late": "result only --late-by seconds after the request expired (a round: was withdrawn)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tansaku.simulators.robot",
        description=(
            "Virtual lab robot: answers a file_drop campaign's outbox with results from "
            "its dry-run simulator, in wall-clock time, with optional faults."
        ),
    )
    parser.add_argument("campaign", type=Path, help="the campaign YAML file")
    parser.add_argument(
        "--slots", type=int, default=None, help="experiments at once (default: driver.slots)"
    )
    parser.add_argument("--duration", type=float, default=0.3, help="seconds one experiment takes")
    parser.add_argument(
        "--jitter", type=float, default=0.5, help="durations vary by this fraction either way"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of noise, durations, faults")
    faults = parser.add_argument_group(
        "faults (probability per experiment; at most one strikes each)"
    )
    for kind, text in _FAULT_HELP.items():
        faults.add_argument(f"--{kind}", type=float, default=0.0, metavar="RATE", help=text)
    faults.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="the experiment fails: the result reports 'sample cracked' and no values",
    )
    faults.add_argument("--partial-pause", type=float, default=1.0, metavar="SECONDS")
    faults.add_argument("--duplicate-after", type=float, default=0.2, metavar="SECONDS")
    faults.add_argument("--late-by", type=float, default=0.5, metavar="SECONDS")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the robot until SIGINT or SIGTERM; returns the exit status."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        options = RobotOptions(
            slots=arguments.slots,
            duration=arguments.duration,
            jitter=arguments.jitter,
            seed=arguments.seed,
            faults=Faults(
                **{
                    kind.replace("-", "_"): getattr(arguments, kind.replace("-", "_"))
                    for kind in _FAULT_HELP
                }
            ),
            fail_rate=arguments.fail_rate,
            partial_pause=arguments.partial_pause,
            duplicate_after=arguments.duplicate_after,
            late_by=arguments.late_by,
        )
    except ValueError as error:
        parser.error(str(error))
    try:
        robot = Robot.from_file(arguments.campaign, options)
    except CampaignError as error:
        print(error, file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with StopSignals() as stop:
        robot.start()
        received = stop.wait()
        robot.stop()
    print(f"stopped ({received.name})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
