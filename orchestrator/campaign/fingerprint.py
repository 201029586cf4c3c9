"""A campaign's identity: the hash of the settings that shape its data."""

from __future__ import annotations

import hashlib
import json

from tansaku.campaign.descriptors import DescriptorsSpec
from tansaku.campaign.loading import LoadedCampaign
from tansaku.campaign.parameters import CategoricalParameter


def fingerprint(loaded: LoadedCampaign) -> str:
    """Hash of the settings that shape the data; a resumed run must have the same.

    Settings left at their defaults are left out, so a new optional setting in a later
    tansaku does not change the fingerprint of campaigns that do not use it.
    """
    campaign = loaded.campaign
    # Ports and the instrument's name say where a device is, approval who looks first:
    # none shapes the data.
    unplugged = campaign.driver.with_ports(dict.fromkeys(campaign.driver.ports(), ""))
    unplugged = unplugged.model_copy(update={"approve": False, "instrument": None})
    settings = campaign.model_copy(update={"driver": unplugged}).model_dump(
        mode="json",
        exclude_defaults=True,
        exclude={"budget", "stop", "description", "run_dir", "ledger"},
    )
    for section in ("objectives", "outcomes"):
        for quantity in settings.get(section, []):
            # `noise_free: false` was the default until the noise model was chosen from the
            # data: left out, as then, a run whose file says so still resumes.
            if quantity.get("noise_free") is False:
                del quantity["noise_free"]
    if loaded.campaign.candidates is not None:
        settings["candidates_sha256"] = loaded.campaign.candidates.digest(loaded.base_dir)
    if loaded.campaign.prior_data is not None:
        settings["prior_data_sha256"] = loaded.campaign.prior_data.digest(loaded.base_dir)
    if loaded.campaign.transfer_from:
        settings["transfer_from_sha256"] = [
            source.digest(loaded.base_dir) for source in loaded.campaign.transfer_from
        ]
    descriptor_digests = {
        parameter.name: parameter.descriptors.digest(loaded.base_dir)
        for parameter in loaded.campaign.space
        # `descriptors: elements` names tansaku's own table, not a file of the campaign's.
        if isinstance(parameter, CategoricalParameter)
        and isinstance(parameter.descriptors, DescriptorsSpec)
    }
    if descriptor_digests:
        settings["descriptors_sha256"] = descriptor_digests
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
