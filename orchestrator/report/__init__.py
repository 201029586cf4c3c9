"""What a campaign's ledger says, for people: the summary that ``status`` and ``export``
print, and the report of figures that ``tansaku report`` builds (``report.build``)."""

from tansaku.report.summary import (
    CampaignSummary,
    best_experiment,
    experiment_rows,
    feasible_experiments,
    summarize,
)

__all__ = [
    "CampaignSummary",
    "best_experiment",
    "experiment_rows",
    "feasible_experiments",
    "summarize",
]
