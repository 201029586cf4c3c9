"""Campaign files: the schema and a loader that reports problems by file, line and field."""

from tansaku.campaign.loading import CampaignError, LoadedCampaign, Problem, load_campaign
from tansaku.campaign.objectives import Objective
from tansaku.campaign.parameters import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Parameter,
)
from tansaku.campaign.schema import Campaign

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
