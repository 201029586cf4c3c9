"""What the campaign's Prefect artifacts say, from a ledger's records: keys, rows, text."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prefect.client.schemas.actions import ArtifactCreate

from tansaku.flows.artifacts import (
    REPORT_FILE,
    artifact_key,
    latest_rows,
    progress_percent,
    summary_markdown,
)
from tansaku.ledger import CampaignRecord, ExperimentRecord
from tansaku.report.summary import CampaignSummary

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SPACE = [{"name": "x1"}, {"name": "x2"}]


def record(i: int, y: float | None, status: str = "done", **fields: Any) -> ExperimentRecord:
    return ExperimentRecord(
        id=i,
        batch=i,
        parameters={"x1": i / 3, "x2": 1.0},
        method="gp",
        proposer={},
        status=status,
        attempts=1,
        proposed_at=NOW,
        updated_at=NOW,
        objective=y,
        values=None if y is None else {"y": y},
        **fields,
    )


def summary(
    experiments: list[ExperimentRecord],
    budget: int = 20,
    stop_reason: str | None = None,
    objectives: list[dict[str, Any]] | None = None,
) -> CampaignSummary:
    snapshot = {
        "budget": {"experiments": budget},
        "space": SPACE,
        "objectives": objectives or [{"name": "y", "goal": "minimize"}],
    }
    return CampaignSummary(
        CampaignRecord("alloy", "dry-run", snapshot, "a.yaml", NOW, NOW, stop_reason, None),
        experiments,
    )


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("branin", "branin"),
        ("CNT_P3HT Conductivity", "cnt-p3ht-conductivity"),
        ("Perovskite_Ränge--v2_", "perovskite-range-v2"),
        ("探索", "campaign"),
        ("x" * 60, "x" * 40),
    ],
)
def test_an_artifact_key_is_what_prefect_accepts(name: str, slug: str, tmp_path: Path) -> None:
    key = artifact_key(name, tmp_path, "summary")
    assert key.startswith(f"{slug}-") and key.endswith("-summary")
    assert ArtifactCreate(key=key).key == key  # Prefect's own rule: a-z, 0-9 and dashes


def test_a_key_is_stable_for_a_run_directory_and_differs_between_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    here = artifact_key("alloy", Path("runs/a"), "progress")
    assert here == artifact_key("alloy", tmp_path / "runs" / "a", "progress")
    assert here != artifact_key("alloy", tmp_path / "runs" / "b", "progress")
    # Names that fold to one slug still keep their own artifacts.
    assert artifact_key("Alloy", Path("runs/b"), "progress") != here


def test_the_table_holds_the_latest_ten_experiments_with_their_failures() -> None:
    experiments = [record(i, float(i)) for i in range(1, 12)] + [
        record(12, None, status="failed", failure="the instrument returned no value for 'y'"),
        record(13, None, status="rejected", decision_reason="too hot for the furnace"),
        record(14, None, status="running"),
    ]
    rows = latest_rows(summary(experiments))
    assert [row["experiment"] for row in rows] == list(range(5, 15))
    assert rows[0] == {
        "experiment": 5,
        "status": "done",
        "x1": 1.667,
        "x2": 1.0,
        "y": 5.0,
        "failure": None,
    }
    assert rows[-3]["failure"] == "the instrument returned no value for 'y'"
    assert rows[-2]["failure"] == "too hot for the furnace"
    assert rows[-1] == {
        "experiment": 14, "status": "running", "x1": 4.667, "x2": 1.0, "y": None, "failure": None
    }  # fmt: skip


def test_progress_counts_failed_experiments_as_the_budget_does() -> None:
    experiments = [record(1, 3.0), record(2, None, status="failed"), record(3, None, "running")]
    assert progress_percent(summary(experiments, budget=8)) == 25.0
    assert progress_percent(summary([record(1, 3.0)], budget=1)) == 100.0


def test_the_summary_names_the_best_so_far_and_how_to_build_the_report(tmp_path: Path) -> None:
    experiments = [record(1, 3.0), record(2, 0.41234), record(3, None, status="failed")]
    text = summary_markdown(summary(experiments), tmp_path)
    assert text.startswith("# alloy (dry run)\n")
    assert "**Progress:** 3 of 20 experiments · done 2 · failed 1 · running 0 · queued 0" in text
    best = "**Best so far** (y, minimize): **0.4123** at experiment #2 (`x1=0.6667`, `x2=1`)"
    assert best in text
    assert re.search(r"\*\*State:\*\* running \(as of \d{4}-\d\d-\d\d \d\d:\d\d UTC\)", text)
    report = tmp_path.resolve() / "report" / "report.html"
    assert f"`tansaku report {tmp_path.resolve()}` builds it at `{report}`" in text
    assert not report.exists()


def test_a_stopped_campaign_says_why_and_links_its_report(tmp_path: Path) -> None:
    report = tmp_path / "report" / "report.html"
    report.parent.mkdir()
    report.write_text("<html></html>")
    stopped = summary([record(1, 2.0)], budget=1, stop_reason="budget reached: 1 of 1 experiments")
    text = summary_markdown(stopped, tmp_path)
    assert "**Stopped:** budget reached: 1 of 1 experiments" in text
    assert "**State:**" not in text
    assert f"[{report}]({report.as_uri()}) (built " in text
    assert f"`tansaku report {tmp_path}` refreshes it." in text


def test_the_summary_links_where_tansaku_report_writes() -> None:
    from tansaku.report.build import REPORT_FOLDER, REPORT_PAGE

    assert Path(REPORT_FOLDER) / REPORT_PAGE == REPORT_FILE


def test_before_any_success_the_summary_says_so(tmp_path: Path) -> None:
    text = summary_markdown(summary([record(1, None, status="failed")]), tmp_path)
    assert "**Best so far** (y, minimize): no successful experiment yet" in text


def test_names_and_values_read_as_written_in_markdown(tmp_path: Path) -> None:
    """A SMILES value's brackets would otherwise render as a link, a name's underscores
    or asterisks as emphasis."""
    from tansaku.flows.artifacts import _code, _escaped

    assert _code("C[C@](O)C") == "`C[C@](O)C`"
    assert _code("a`b") == "``a`b``"
    assert _escaped("my_*run*[2]") == "my\\_\\*run\\*\\[2\\]"


def test_several_objectives_show_the_pareto_front(tmp_path: Path) -> None:
    objectives = [{"name": "y", "goal": "minimize"}, {"name": "z", "goal": "maximize"}]
    experiments = [
        replace(record(i, float(i)), values={"y": float(i), "z": float(i)}) for i in range(1, 4)
    ]
    text = summary_markdown(summary(experiments, objectives=objectives), tmp_path)
    assert "**Pareto front** (y, z): 3 experiments\n- #1: `y=1`, `z=1`\n- #2: `y=2`, `z=2`" in text
    assert "Best so far" not in text
