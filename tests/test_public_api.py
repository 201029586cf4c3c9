"""``import tansaku``: the names a notebook user and a driver author start from."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tansaku
from tests.conftest import REPO


@pytest.mark.parametrize("name", tansaku.__all__)
def test_every_public_name_is_there(name: str) -> None:
    assert getattr(tansaku, name) is not None
    assert name in dir(tansaku)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'propose'"):
        tansaku.propose  # noqa: B018


def test_importing_tansaku_or_a_driver_loads_no_torch_or_prefect() -> None:
    code = (
        "import sys, tansaku, tansaku.drivers.base;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'prefect')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_a_campaign_loaded_through_the_public_api_names_its_space() -> None:
    # A notebook user writes the path as text.
    loaded = tansaku.load_campaign(str(REPO / "campaigns" / "hartmann6.yaml"))
    assert isinstance(loaded.campaign, tansaku.Campaign)
    assert [parameter.name for parameter in loaded.campaign.space] == [f"x{i}" for i in range(1, 7)]


def test_every_error_a_user_can_meet_is_a_tansaku_error(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [\n")
    with pytest.raises(tansaku.TansakuError) as caught:
        tansaku.load_campaign(broken)
    assert isinstance(caught.value, tansaku.CampaignError)
    assert caught.value.exit_code == 2
    with pytest.raises(tansaku.RunDirectoryError, match="holds no campaign ledger"):
        tansaku.Ledger.open(str(tmp_path), create=False)
