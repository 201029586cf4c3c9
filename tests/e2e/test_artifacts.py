"""What a lab engineer sees of a dry run in the Prefect UI: the artifacts the flow run
published, read back from the Prefect server the run used."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tansaku.flows.artifacts import KINDS, artifact_key
from tansaku.ledger import Ledger
from tansaku.report.summary import summarize
from tests.conftest import small_branin, tansaku
from tests.e2e.test_cli import ledger_rows

pytestmark = pytest.mark.usefixtures("prefect_server")


def latest_artifacts(api_url: str, keys: list[str]) -> dict[str, object]:
    """The latest version of each artifact under ``keys``, by key, as the UI shows it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)),
            sort=ArtifactSort.CREATED_DESC,
        )
    latest: dict[str, object] = {}
    for artifact in found:
        latest.setdefault(artifact.key, artifact)
    return latest


def test_a_dry_run_publishes_its_latest_experiments_summary_and_progress(
    tmp_path: Path, prefect_server: str
) -> None:
    campaign = small_branin(tmp_path, name="Watched_Run", budget=12)
    run = tansaku("run", campaign, "--dry-run", "--run-dir", "runs/watched", cwd=tmp_path)
    assert run.returncode == 0, run.stderr

    run_dir = tmp_path / "runs" / "watched"
    keys = {kind: artifact_key("Watched_Run", run_dir, kind) for kind in KINDS}
    assert all(re.fullmatch(r"watched-run-[0-9a-f]{8}-[a-z]+", key) for key in keys.values())
    artifacts = latest_artifacts(prefect_server, list(keys.values()))
    assert sorted(artifacts) == sorted(keys.values())
    [(flow_run_id,)] = ledger_rows(run_dir, "SELECT flow_run_id FROM sessions")
    assert {str(a.flow_run_id) for a in artifacts.values()} == {flow_run_id}

    table = json.loads(artifacts[keys["experiments"]].data)
    assert [row["experiment"] for row in table] == list(range(3, 13))
    assert {row["status"] for row in table} == {"done"}
    assert all(-5 <= row["x1"] <= 10 and 0 <= row["x2"] <= 15 for row in table)
    assert all(isinstance(row["y"], float) and row["failure"] is None for row in table)

    ledger = Ledger.open(run_dir, create=False)
    try:
        best = summarize(ledger).best
    finally:
        ledger.close()
    markdown = artifacts[keys["summary"]].data
    assert f"**Best so far** (y, minimize): **{best.objective:.4g}** at experiment #{best.id}" in (
        markdown
    )
    assert "**Progress:** 12 of 12 experiments · done 12 · failed 0" in markdown
    assert "**Stopped:** budget reached: 12 of 12 experiments" in markdown
    report = (run_dir / "report" / "report.html").resolve()
    assert f"`tansaku report {run_dir.resolve()}` builds it at `{report}`" in markdown
    assert not report.exists(), "publishing must not build the report"

    assert artifacts[keys["progress"]].data == 100.0
    assert artifacts[keys["progress"]].description == "Watched_Run: 12 of 12 experiments"


def test_the_ui_of_a_background_server_on_another_port_talks_to_that_server(
    prefect_server: str,
) -> None:
    """The suite's server listens on a port the kernel chose, not Prefect's 4200: its UI
    must still fetch flow runs and artifacts from it."""
    import httpx

    assert not prefect_server.startswith("http://127.0.0.1:4200/")
    settings = httpx.get(prefect_server.removesuffix("/api") + "/ui-settings", timeout=10)
    assert settings.json()["api_url"] == prefect_server
