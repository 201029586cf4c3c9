"""``tansaku report``: bad input refused, an empty campaign, and a report read from a run
directory another process holds. Every example campaign's dry run is reported by
``tests/e2e/test_cli.py`` with :func:`check_report`, after it has run."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import tansaku
from tansaku.ledger import Ledger, RunDirectoryLock
from tansaku.report.build import build_report
from tests.conftest import tansaku as run_tansaku
from tests.conftest import write_campaign


def assert_self_contained(html: str) -> None:
    """Nothing in the page reaches outside it: every image is inlined."""
    for outside in ("http://", "https://", 'src="//', "<script", "url("):
        assert outside not in html, outside
    images = re.findall(r"<img [^>]*src=\"([^\"]*)\"", html)
    assert images, "no figure in the page"
    assert all(src.startswith("data:image/png;base64,") for src in images)


def check_report(campaign: Path, run_dir: Path) -> None:
    """The report of a finished dry run: every figure that applies, in every format, in a
    page that needs nothing outside itself."""
    files = build_report(run_dir)
    assert files.page == run_dir / "report" / "report.html"
    names = {path.stem for path in files.figures}
    loaded = tansaku.load_campaign(campaign).campaign
    expected = {"convergence", "calendar"} | {
        f"parameters-{o.name.lower().replace('_', '-')}" for o in loaded.objectives
    }
    if len(loaded.objectives) > 1:
        expected.add("pareto")
    assert expected <= names, (campaign.stem, expected - names)
    for name in names:
        for suffix in (".png", ".svg"):
            assert (run_dir / "report" / f"{name}{suffix}").stat().st_size > 1000
    html = files.page.read_text()
    assert_self_contained(html)
    assert html.count("<img ") == len(names), campaign.stem
    ledger = Ledger.open(run_dir, create=False)
    try:
        summary = tansaku.summarize(ledger)
    finally:
        ledger.close()
    assert summary is not None and summary.record.stop_reason is not None
    assert escape(summary.record.stop_reason) in html, campaign.stem
    if summary.counts["failed"]:
        assert "failures" in names, campaign.stem
    else:
        assert "No experiment failed." in html, campaign.stem
    assert "parameter-sensitivity" in names, campaign.stem
    assert any(name.startswith("model-beliefs") for name in names), campaign.stem
    if loaded.candidates is not None:
        assert "exact expected best" in html, campaign.stem  # every row's value is known
    elif loaded.fidelities is not None:
        # Its initial design is cheap simulations and one experiment: too few to resample.
        assert "No random-search comparison" in html, campaign.stem
    else:
        assert "spread of the initial design" in html, campaign.stem
    assert f"<h1>{loaded.name}</h1>" in html


def test_a_directory_without_a_campaign_is_refused_and_nothing_written(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "no-campaign").mkdir()
    Ledger.open(tmp_path / "no-campaign").close()  # a ledger, but no campaign recorded
    for run_dir in (tmp_path / "missing", empty, tmp_path / "no-campaign"):
        before = sorted(p.name for p in run_dir.iterdir()) if run_dir.exists() else None
        result = run_tansaku("report", run_dir, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
        after = sorted(p.name for p in run_dir.iterdir()) if run_dir.exists() else None
        assert after == before
    assert "holds no campaign ledger" in run_tansaku("report", empty, cwd=tmp_path).stderr


FILM = """
    name: film-in-progress
    description: "Films <i>annealed</i> & measured for $5"
    seed: 3
    budget: {experiments: 6}
    space:
      - {name: anneal_temp_c, type: continuous, bounds: [60, 250], unit: degC}
      - {name: solvent, type: categorical, values: [water, "<b>ethanol</b>"]}
    objectives:
      - {name: conductance_ms, goal: maximize, unit: $mS}
    proposer:
      initial: {n: 3}
      num_restarts: 2
      raw_samples: 64
    driver: {type: manual, slots: 2}
"""


def test_an_empty_campaign_is_reported_as_nothing_measured_yet(tmp_path: Path) -> None:
    with tansaku.open(write_campaign(tmp_path, FILM), run_dir=tmp_path / "run") as campaign:
        campaign.suggest(2)
    result = run_tansaku("report", tmp_path / "run", "-o", "out/page.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote out/page.html (0 figures" in result.stdout
    html = (tmp_path / "out" / "page.html").read_text()
    assert "Nothing measured yet" in html and "<img" not in html
    assert "0/6 finished" in html


def test_an_unwritable_output_is_refused_in_one_sentence(tmp_path: Path) -> None:
    with tansaku.open(write_campaign(tmp_path, FILM), run_dir=tmp_path / "run") as campaign:
        [first, second] = campaign.suggest(2)
        campaign.tell(first.id, conductance_ms=2.0)
        campaign.tell(second.id, conductance_ms=3.5)
    (tmp_path / "a-file").write_text("not a folder")
    result = run_tansaku("report", "run", "-o", "a-file/report.html", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot write a-file/report.html")
    assert "nothing was written" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "report").exists()


def test_a_run_in_progress_is_reported_without_touching_its_ledger(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with tansaku.open(write_campaign(tmp_path, FILM), run_dir=run_dir) as campaign:
        first, second, third = campaign.suggest(3)
        campaign.tell(first.id, conductance_ms=2.0)
        campaign.tell(second.id, failed="film <cracked> & peeled")
        campaign.tell(third.id, conductance_ms=3.5)
        campaign.suggest(1)  # in a person's hands: still running
    ledger = Ledger.open(run_dir, create=False)
    try:
        before = (ledger.version(), ledger.experiments(), ledger.campaign())
        with RunDirectoryLock(run_dir):  # as `tansaku run` holds it
            result = run_tansaku("report", run_dir, cwd=tmp_path)
        after = (ledger.version(), ledger.experiments(), ledger.campaign())
    finally:
        ledger.close()
    assert result.returncode == 0, result.stderr
    assert after == before
    html = (run_dir / "report" / "report.html").read_text()
    assert "The campaign is still running (3 of 6 experiments finished" in html
    assert "<tr><th>stopped</th><td>still running</td></tr>" in html
    assert "Films &lt;i&gt;annealed&lt;/i&gt; &amp; measured for $5" in html
    assert "<i>" not in html and "<b>" not in html
    assert_self_contained(html)
    names = {p.name for p in (run_dir / "report").iterdir()}
    assert {"failures.png", "failures.svg", "calendar.png", "convergence.svg"} <= names
    assert not any(name.endswith(".partial") for name in names)


def test_an_output_that_is_not_a_page_is_refused_and_the_ledger_kept(tmp_path: Path) -> None:
    with tansaku.open(write_campaign(tmp_path, FILM), run_dir=tmp_path / "run") as campaign:
        [first, second] = campaign.suggest(2)
        campaign.tell(first.id, conductance_ms=2.0)
        campaign.tell(second.id, conductance_ms=3.5)
    ledger = (tmp_path / "run" / "ledger.sqlite").read_bytes()
    for target in ("run/ledger.sqlite", "campaign.yaml", "run/report/convergence.png"):
        result = run_tansaku("report", "run", "-o", target, cwd=tmp_path)
        assert result.returncode == 2, result.stdout
        assert "the report is an HTML page; name a file ending in .html" in result.stderr
    assert (tmp_path / "run" / "ledger.sqlite").read_bytes() == ledger
    assert not (tmp_path / "run" / "report").exists()


def test_a_rebuilt_report_keeps_no_figure_of_an_earlier_build(tmp_path: Path) -> None:
    with tansaku.open(write_campaign(tmp_path, FILM), run_dir=tmp_path / "run") as campaign:
        [first, second] = campaign.suggest(2)
        campaign.tell(first.id, conductance_ms=2.0)
        campaign.tell(second.id, conductance_ms=3.5)
    folder = tmp_path / "run" / "report"
    folder.mkdir(parents=True)
    (folder / "parameters-old-name.png").write_bytes(b"an objective since renamed")
    result = run_tansaku("report", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (folder / "parameters-old-name.png").exists()
    assert (folder / "convergence.png").exists() and (folder / "report.html").exists()
