"""Campaign files: the schema and a loader that reports problems by file, line and field."""

from tansaku.campaign.loading import CampaignError, LoadedCampaign, Problem, load_campaign
from tansaku.campaign.schema import (
    Campaign,
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Objective,
    Parameter,
)

__all__ = [
    "Campaign",
    "CampaignError",
    "CategoricalParameter",
    "ContinuousParameter",
    "IntegerParameter",
    "LoadedCampaign",
    "Objective",
    "Parameter",
    "Problem",
    "load_campaign",
]
