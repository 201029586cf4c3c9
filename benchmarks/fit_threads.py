"""GP fit time on one torch thread against two, as the machine is and beside a busy process.

Fits tansaku's model (``tansaku.proposer.model.fit_model``) to the first n distinct
blends of the P3HT dataset, five times per setting, and prints median seconds as Markdown.
The "plus a busy core" rows add a process that spins on one core, as a lab PC running
other work would; the 1-minute load average before the run is printed with the table.
It motivates ``SINGLE_THREAD_BELOW`` in orchestrator/proposer/proposer.py.

Usage: ``.venv/bin/python benchmarks/fit_threads.py``
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch
from reporting import command_line

from tansaku.proposer.model import fit_model

DATA = Path(__file__).resolve().parents[1] / "simulators" / "data" / "pvlab" / "P3HT_dataset.csv"
SIZES = (10, 30, 60, 150)
REPEATS = 5


def _spin(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


@contextmanager
def busy_core(active: bool) -> Iterator[None]:
    if not active:
        yield
        return
    stop = multiprocessing.Event()
    spinner = multiprocessing.Process(target=_spin, args=(stop,))
    spinner.start()
    try:
        yield
    finally:
        stop.set()
        spinner.join()


def main() -> int:
    warnings.filterwarnings("ignore")
    frame = pd.read_csv(DATA).groupby(list(pd.read_csv(DATA).columns[:5]), as_index=False).mean()
    x_all = torch.tensor(frame.iloc[:, :5].to_numpy(), dtype=torch.float64)
    y_all = torch.tensor(frame.iloc[:, 5:].to_numpy(), dtype=torch.float64)
    bounds = torch.stack([x_all.min(0).values, x_all.max(0).values])
    load = os.getloadavg()[0]
    print(f"`{command_line()}`; torch {torch.__version__}; ", end="")
    print(f"{os.cpu_count()} CPUs, 1-minute load average {load:.2f} before the run\n")
    print("| machine | threads | " + " | ".join(f"n={n}" for n in SIZES) + " |")
    print("|---|---|" + "---|" * len(SIZES))
    for busy in (False, True):
        with busy_core(busy):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                cells = []
                for n in SIZES:
                    times = []
                    for _ in range(REPEATS):
                        started = time.perf_counter()
                        fit_model(x_all[:n], y_all[:n], bounds)
                        times.append(time.perf_counter() - started)
                    cells.append(f"{statistics.median(times):.3f}")
                label = "plus a busy core" if busy else "as found"
                print(f"| {label} | {threads} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
