"""The HTML report opened in a real headless browser (Debian's chromium), with every
request outside the page refused: it must show its figures all the same."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tansaku
from tests.conftest import tansaku as run_tansaku
from tests.conftest import write_campaign
from tests.e2e.test_report import FILM

CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_the_report_shows_every_figure_in_a_browser_cut_off_from_the_network(
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Route, sync_playwright

    run_dir = tmp_path / "run"
    with tansaku.open(write_campaign(tmp_path, FILM), run_dir=run_dir) as campaign:
        for experiment, value in zip(campaign.suggest(3), (2.0, None, 3.5), strict=True):
            if value is None:
                campaign.tell(experiment.id, failed="film cracked")
            else:
                campaign.tell(experiment.id, conductance_ms=value)
    built = run_tansaku("report", run_dir, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    page_url = (run_dir / "report" / "report.html").resolve().as_uri()

    refused: list[str] = []

    def only_the_page(route: Route) -> None:
        if route.request.url == page_url:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.route("**/*", only_the_page)
            page.goto(page_url, wait_until="load")
            images = page.evaluate(
                "() => Array.from(document.images).map(img => ({"
                "  alt: img.alt, loaded: img.complete && img.naturalWidth > 0}))"
            )
            headings = page.locator("h2").all_inner_texts()
            screenshot = page.screenshot(full_page=True)
        finally:
            browser.close()

    assert refused == []
    assert len(images) >= 4 and all(image["loaded"] for image in images), images
    assert {"Convergence", "Failures", "Instrument calendar"} <= set(headings)
    pixels = np.asarray(Image.open(io.BytesIO(screenshot)).convert("RGB"), dtype=float)
    # A page of figures: many colours, not a blank or single-colour screen.
    assert pixels.std() > 20
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100
