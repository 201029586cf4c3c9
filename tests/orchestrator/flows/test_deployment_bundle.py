"""What a deployment carries: the campaign and its data files, checked on the scientist's
side (file:line) and written back on the worker's, where nothing else of theirs is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tansaku.campaign.loading import CampaignError, load_campaign
from tansaku.flows import deployment
from tansaku.flows.deployment import Bundle, BundleError, bundle_campaign, materialise
from tests.conftest import REPO, write_campaign

CAMPAIGN = """
name: with-files
seed: 2
budget: {experiments: 10}
prior_data: {path: data/earlier.csv, columns: {yield_pct: "yield (%)"}}
space:
  - {name: temperature, type: continuous, bounds: [20, 120]}
  - {name: solvent, type: categorical, values: [dmf, dmso]}
objectives:
  - {name: yield_pct, goal: maximize}
driver:
  type: simulated
  simulator: {type: function, function: "math:sin"}
"""

EARLIER = "\ufefftemperature,solvent,yield (%)\r\n40,dmf,12.5\r\n60,dmso,30.1\r\n"


def scientist_folder(tmp_path: Path, campaign: str = CAMPAIGN) -> Path:
    folder = tmp_path / "scientist"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "earlier.csv").write_text(EARLIER, newline="")
    return write_campaign(folder, campaign)


def problems(path: Path) -> str:
    with pytest.raises(CampaignError) as refused:
        bundle_campaign(load_campaign(path))
    return str(refused.value)


def test_the_data_files_travel_and_the_worker_runs_the_same_campaign(tmp_path: Path) -> None:
    path = scientist_folder(tmp_path)
    original = load_campaign(path)
    bundle = bundle_campaign(original)
    assert bundle.campaign_file == "campaign.yaml"
    assert bundle.data_files == {"data/earlier.csv": EARLIER}  # BOM and CRLF as written
    shutil.rmtree(path.parent)  # the worker has nothing of the scientist's folder

    loaded = materialise(bundle, tmp_path / "worker" / "runs" / "with-files")
    assert loaded.path.is_relative_to(tmp_path / "worker" / "runs" / "with-files" / "campaign")
    assert loaded.campaign == original.campaign
    assert [m.values for m in loaded.prior()] == [{"yield_pct": 12.5}, {"yield_pct": 30.1}]
    assert (loaded.base_dir / "data" / "earlier.csv").read_bytes() == EARLIER.encode()


def test_a_second_flow_run_reuses_the_version_and_a_new_version_gets_its_own_folder(
    tmp_path: Path,
) -> None:
    bundle = bundle_campaign(load_campaign(scientist_folder(tmp_path)))
    run_dir = tmp_path / "run"
    first = materialise(bundle, run_dir)
    written = first.path.stat().st_mtime_ns
    again = materialise(bundle, run_dir)
    assert again.path == first.path and again.path.stat().st_mtime_ns == written
    edited = Bundle(
        bundle.campaign_file,
        bundle.campaign_text.replace("experiments: 10", "experiments: 12"),
        bundle.data_files,
    )
    assert materialise(edited, run_dir).path.parent != first.path.parent
    assert sorted(p.name for p in (run_dir / "campaign").iterdir()) == sorted(
        {first.path.parent.name, materialise(edited, run_dir).path.parent.name}
    )  # no staging folder left behind


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("../earlier.csv", "outside the campaign's folder"),
        ("data/../../earlier.csv", "outside the campaign's folder"),
        ("{absolute}", "outside the campaign's folder"),
    ],
)
def test_a_data_file_outside_the_campaigns_folder_is_refused_at_its_line(
    tmp_path: Path, written: str, why: str
) -> None:
    path = scientist_folder(tmp_path)
    (tmp_path / "earlier.csv").write_text(EARLIER, newline="")
    written = written.format(absolute=tmp_path / "earlier.csv")
    path.write_text(path.read_text().replace("data/earlier.csv", written))
    found = problems(path)
    assert f"{path}:4:" in found and "prior_data.path" in found and why in found


def test_files_too_large_to_travel_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = scientist_folder(tmp_path)
    monkeypatch.setattr(deployment, "MAX_BUNDLE_BYTES", len(CAMPAIGN) + 10)
    assert f"{path}:4:" in (found := problems(path)) and "more than a deployment" in found


def test_a_relative_exchange_folder_is_refused_and_an_absolute_one_kept(tmp_path: Path) -> None:
    example = REPO / "campaigns" / "autoam-print-robot.yaml"
    found = problems(example)
    assert f"{example}:22:" in found and "driver.outbox" in found and "absolute path" in found

    folder = tmp_path / "robot"
    text = example.read_text()
    text = text.replace("../robot-drop/requests", str(folder / "requests"))
    text = text.replace("../robot-drop/results", str(folder / "results"))
    dataset = "../simulators/data/pvlab/AutoAM_dataset.csv"
    shutil.copy(example.parent / dataset, tmp_path / "AutoAM_dataset.csv")
    text = text.replace(dataset, "AutoAM_dataset.csv")
    absolute = write_campaign(tmp_path, text)
    assert list(bundle_campaign(load_campaign(absolute)).data_files) == ["AutoAM_dataset.csv"]


def test_a_serial_campaigns_protocol_files_travel(tmp_path: Path) -> None:
    bundle = bundle_campaign(load_campaign(REPO / "campaigns" / "film-anneal-serial.yaml"))
    assert "protocols/ika-namur-hotplate.yaml" in bundle.data_files
    assert materialise(bundle, tmp_path / "run").campaign.driver.type == "serial"


@pytest.mark.parametrize(
    ("campaign_file", "data_file"),
    [
        ("../campaign.yaml", "data.csv"),
        ("sub/campaign.yaml", "data.csv"),
        ("campaign.yaml", "../escape.csv"),
        ("campaign.yaml", "/tmp/escape.csv"),
        ("campaign.yaml", "data/../../escape.csv"),
        ("campaign.yaml", "./data.csv"),
    ],
)
def test_parameters_that_would_write_outside_the_run_directory_are_refused(
    tmp_path: Path, campaign_file: str, data_file: str
) -> None:
    bundle = Bundle(campaign_file, "name: x\n", {data_file: "a,b\n"})
    with pytest.raises(BundleError):
        materialise(bundle, tmp_path / "run" / "x")
    assert not (tmp_path / "escape.csv").exists()
    assert not (tmp_path / "run").exists()
