"""tansaku: closed-loop experiment campaigns, a BoTorch proposer and your instrument.

The public API, for a notebook and for a driver author::

    from pathlib import Path
    import tansaku

    loaded = tansaku.load_campaign(Path("campaigns/hartmann6.yaml"))  # CampaignError if invalid
    outcome = tansaku.run_campaign(loaded, Path("runs/h6"), dry_run=True)
    summary = tansaku.summarize(tansaku.Ledger.open(Path("runs/h6")))

    c = tansaku.open("campaigns/film.yaml", run_dir="runs/film")  # ask and tell by hand
    [s] = c.suggest()
    c.tell(s.id, conductivity=812, stability=0.91)

Names load on first use: ``import tansaku`` (and so every ``tansaku.drivers`` import,
which imports this package first) stays cheap, and validating a campaign never loads
torch or Prefect.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from tansaku.errors import (
    InputError,
    InstrumentError,
    PrefectError,
    RunDirectoryError,
    TansakuError,
)

if TYPE_CHECKING:
    from tansaku.campaign import Campaign, CampaignError, LoadedCampaign, Problem, load_campaign
    from tansaku.drivers.base import (
        AsyncDriver,
        CampaignContext,
        Completion,
        Driver,
        DriverConfig,
        Experiment,
        Measurement,
    )
    from tansaku.flows.runner import RunOutcome, run_campaign
    from tansaku.ledger import Ledger
    from tansaku.people.campaign import OpenCampaign, Suggestion, open_run
    from tansaku.people.campaign import open_campaign as open
    from tansaku.proposer import Observation, Proposal, Proposer
    from tansaku.report import CampaignSummary, best_experiment, summarize
    from tansaku.values import ParameterValue

_LAZY = {
    "Campaign": "tansaku.campaign",
    "CampaignError": "tansaku.campaign",
    "LoadedCampaign": "tansaku.campaign",
    "Problem": "tansaku.campaign",
    "load_campaign": "tansaku.campaign",
    "AsyncDriver": "tansaku.drivers.base",
    "CampaignContext": "tansaku.drivers.base",
    "Completion": "tansaku.drivers.base",
    "Driver": "tansaku.drivers.base",
    "DriverConfig": "tansaku.drivers.base",
    "Experiment": "tansaku.drivers.base",
    "Measurement": "tansaku.drivers.base",
    "RunOutcome": "tansaku.flows.runner",
    "run_campaign": "tansaku.flows.runner",
    "Ledger": "tansaku.ledger",
    "OpenCampaign": "tansaku.people.campaign",
    "Suggestion": "tansaku.people.campaign",
    "open": "tansaku.people.campaign:open_campaign",
    "open_run": "tansaku.people.campaign",
    "Observation": "tansaku.proposer",
    "Proposal": "tansaku.proposer",
    "Proposer": "tansaku.proposer",
    "CampaignSummary": "tansaku.report",
    "best_experiment": "tansaku.report",
    "summarize": "tansaku.report",
    "ParameterValue": "tansaku.values",
}

__all__ = [
    "AsyncDriver",
    "Campaign",
    "CampaignContext",
    "CampaignError",
    "CampaignSummary",
    "Completion",
    "Driver",
    "DriverConfig",
    "Experiment",
    "InputError",
    "InstrumentError",
    "Ledger",
    "LoadedCampaign",
    "Measurement",
    "Observation",
    "OpenCampaign",
    "ParameterValue",
    "PrefectError",
    "Problem",
    "Proposal",
    "Proposer",
    "RunDirectoryError",
    "RunOutcome",
    "Suggestion",
    "TansakuError",
    "best_experiment",
    "load_campaign",
    "open",
    "open_run",
    "run_campaign",
    "summarize",
]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'tansaku' has no attribute {name!r}")
    module, _, attribute = _LAZY[name].partition(":")
    value = getattr(import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
