"""The report's model figures: what the campaign's own model believes, drawn right."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import ErrorbarContainer

import tansaku
from tansaku.proposer.surrogate import Surrogate
from tansaku.report import CampaignSummary, summarize
from tansaku.report.figure import ReportFigure, ReportNote
from tansaku.report.model_figures import SIGMA, TWO_SIGMA, model_figures
from tests.conftest import write_campaign

FILM = """
    name: film
    seed: 2
    budget: {experiments: 30}
    space:
      - {name: temp_c, type: continuous, bounds: [20, 200], unit: degC}
      - {name: stir_rpm, type: integer, bounds: [100, 1000], unit: rpm}
      - {name: solvent, type: categorical, values: [water, ethanol, toluene]}
      - {name: pressure_bar, type: continuous, bounds: [1, 2], unit: bar, fixed: 1}
    objectives:
      - {name: loss, goal: minimize, unit: mg}
    driver: {type: manual}
"""
SOLVENT_EFFECT = {"water": 0.0, "ethanol": 1.0, "toluene": 0.5}
SOLVENTS = list(SOLVENT_EFFECT)


def film_loss(temp_c: float, stir_rpm: int, solvent: str) -> float:
    return (temp_c - 120) ** 2 / 4000 + stir_rpm / 1000 + SOLVENT_EFFECT[solvent]


@dataclass(frozen=True)
class Drawn:
    summary: CampaignSummary
    surrogate: Surrogate
    items: list[ReportFigure | ReportNote]

    def figure(self, name: str) -> ReportFigure:
        [found] = [i for i in self.items if isinstance(i, ReportFigure) and i.name == name]
        return found

    def held(self, **changed: object) -> dict[str, object]:
        """The best experiment's point, with ``changed`` parameters set."""
        assert self.summary.best is not None
        return {**self.summary.best.point, **changed}


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Drawn:
    folder = tmp_path_factory.mktemp("film")
    rng = np.random.default_rng(5)
    with tansaku.open(write_campaign(folder, FILM), run_dir=folder / "run") as campaign:
        for number in range(14):
            temp_c, stir_rpm = float(rng.uniform(20, 200)), int(rng.integers(100, 1001))
            solvent = SOLVENTS[number % 3]
            campaign.add(
                temp_c=temp_c,
                stir_rpm=stir_rpm,
                solvent=solvent,
                loss=film_loss(temp_c, stir_rpm, solvent),
            )
        surrogate = campaign.surrogate()
        summary = summarize(campaign.ledger)
    assert surrogate is not None and summary is not None
    return Drawn(summary, surrogate, model_figures(summary, surrogate))


def test_the_sections_come_in_reading_order_each_with_a_caption(film: Drawn) -> None:
    assert [i.name for i in film.items if isinstance(i, ReportFigure)] == [
        "model-beliefs",
        "parameter-sensitivity",
        "model-map",
    ]
    assert all(isinstance(i, ReportFigure) for i in film.items)
    beliefs = film.figure("model-beliefs")
    assert film.summary.best is not None
    assert f"experiment #{film.summary.best.id}" in beliefs.caption
    assert "without the scatter a repeat measurement adds" in beliefs.caption


def test_a_panel_per_searched_parameter_labelled_with_units(film: Drawn) -> None:
    axes = film.figure("model-beliefs").figure.axes
    # The fixed pressure is not searched: no panel.
    assert [ax.get_xlabel() for ax in axes] == ["temp_c (degC)", "stir_rpm (rpm)", "solvent"]
    assert {ax.get_ylabel() for ax in axes} == {"loss (mg)"}


def test_a_continuous_panel_draws_the_models_mean_and_a_two_sigma_band(film: Drawn) -> None:
    temp = film.figure("model-beliefs").figure.axes[0]
    [line] = temp.lines[:1]
    x = np.asarray(line.get_xdata(), dtype=float)
    assert x.min() == pytest.approx(20) and x.max() == pytest.approx(200)
    truth = film.surrogate.predict([film.held(temp_c=float(v)) for v in x])
    mean, sd = truth.mean[:, 0], truth.sd[:, 0]
    assert np.allclose(line.get_ydata(), mean)
    [band] = [c for c in temp.collections if c.get_label() == TWO_SIGMA]
    edge = band.get_paths()[0].vertices[:, 1]
    assert edge.max() == pytest.approx((mean + 2 * sd).max(), rel=1e-6)
    assert edge.min() == pytest.approx((mean - 2 * sd).min(), rel=1e-6)
    # Measured points are drawn, with the minimised loss in its own sign and unit.
    dots = np.concatenate([c.get_offsets()[:, 1] for c in temp.collections if c is not band])
    assert sorted(dots) == pytest.approx(sorted(e.values["loss"] for e in film.summary.feasible))


def test_a_categorical_panel_gets_two_sigma_error_bars_per_value(film: Drawn) -> None:
    solvent = film.figure("model-beliefs").figure.axes[2]
    assert [t.get_text() for t in solvent.get_xticklabels()] == SOLVENTS
    [bars] = [c for c in solvent.containers if isinstance(c, ErrorbarContainer)]
    truth = film.surrogate.predict([film.held(solvent=s) for s in SOLVENTS])
    [segments] = [lines.get_segments() for lines in bars.lines[2]]
    low = [segment[0][1] for segment in segments]
    high = [segment[1][1] for segment in segments]
    assert np.allclose(low, truth.mean[:, 0] - 2 * truth.sd[:, 0])
    assert np.allclose(high, truth.mean[:, 0] + 2 * truth.sd[:, 0])


def test_the_ranking_names_every_searched_parameter(film: Drawn) -> None:
    [ax] = film.figure("parameter-sensitivity").figure.axes
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(names) == ["solvent", "stir_rpm", "temp_c"]
    assert "Sobol" in film.figure("parameter-sensitivity").caption


def test_the_maps_show_mean_and_uncertainty_of_the_two_numeric_parameters(film: Drawn) -> None:
    axes = film.figure("model-map").figure.axes
    maps = [ax for ax in axes if ax.get_title()]
    assert [ax.get_title() for ax in maps] == ["model mean", f"model {SIGMA}"]
    for ax in maps:
        # The categorical solvent cannot be an axis; the two numeric parameters are.
        assert {ax.get_xlabel(), ax.get_ylabel()} == {"temp_c (degC)", "stir_rpm (rpm)"}
    colour_bars = [ax.get_ylabel() for ax in axes if not ax.get_title()]
    assert colour_bars == ["model mean of loss (mg)", f"model {SIGMA} of loss (mg)"]


def test_one_result_gives_notes_saying_the_model_needs_two(tmp_path: Path) -> None:
    with tansaku.open(write_campaign(tmp_path, FILM), run_dir=tmp_path / "run") as campaign:
        campaign.add(temp_c=100.0, stir_rpm=500, solvent="water", loss=1.0)
        assert campaign.surrogate() is None
        summary = summarize(campaign.ledger)
    assert summary is not None
    items = model_figures(summary, None)
    assert all(isinstance(i, ReportNote) for i in items)
    assert all("at least two results" in i.text and "has 1" in i.text for i in items)


TWO_GOALS = """
    name: two-goals
    seed: 4
    budget: {experiments: 20}
    space:
      - {name: temp_c, type: continuous, bounds: [20, 200], unit: degC}
      - {name: solvent, type: categorical, values: [water, ethanol]}
    objectives:
      - {name: loss, goal: minimize, unit: mg}
      - {name: yield_pct, goal: maximize, unit: "%"}
    driver: {type: manual}
"""


def test_several_objectives_get_a_beliefs_figure_each_and_one_numeric_parameter_no_map(
    tmp_path: Path,
) -> None:
    with tansaku.open(write_campaign(tmp_path, TWO_GOALS), run_dir=tmp_path / "run") as campaign:
        for number, temp_c in enumerate(np.linspace(20, 200, 8)):
            solvent = ["water", "ethanol"][number % 2]
            campaign.add(
                temp_c=float(temp_c),
                solvent=solvent,
                loss=float((temp_c - 100) ** 2 / 1000),
                yield_pct=float(50 + 0.1 * temp_c + 10 * (solvent == "ethanol")),
            )
        surrogate = campaign.surrogate()
        summary = summarize(campaign.ledger)
    assert summary is not None
    items = model_figures(summary, surrogate)
    figures = {i.name: i for i in items if isinstance(i, ReportFigure)}
    assert list(figures) == [
        "model-beliefs-loss",
        "model-beliefs-yield-pct",
        "parameter-sensitivity",
    ]
    assert {ax.get_ylabel() for ax in figures["model-beliefs-yield-pct"].figure.axes} == {
        "yield_pct (%)"
    }
    assert len(figures["parameter-sensitivity"].figure.axes) == 2  # a panel per objective
    [note] = [i for i in items if isinstance(i, ReportNote)]
    assert "two continuous or integer parameters" in note.text and "has 1" in note.text


SMILES = """
    name: coupling
    seed: 6
    budget: {experiments: 20}
    space:
      - {name: base, type: categorical, values: ["O=C([O-])C.[K+]", "O=C([O-])C.[Cs+]", "CCO"]}
      - {name: loading, type: continuous, bounds: [0.2, 5], log_scale: true, unit: mol%}
    objectives:
      - {name: ratio, goal: target, target: 1.5}
    driver: {type: manual}
"""


def test_long_categories_log_scales_and_a_target_are_drawn_readably(tmp_path: Path) -> None:
    bases = ["O=C([O-])C.[K+]", "O=C([O-])C.[Cs+]", "CCO"]
    with tansaku.open(write_campaign(tmp_path, SMILES), run_dir=tmp_path / "run") as campaign:
        for number, loading in enumerate([0.25, 0.5, 1.0, 2.0, 4.0, 0.8]):
            base = bases[number % 3]
            campaign.add(base=base, loading=loading, ratio=1.0 + 0.2 * loading + number % 3)
        surrogate = campaign.surrogate()
        summary = summarize(campaign.ledger)
    assert summary is not None
    [beliefs] = [
        i for i in model_figures(summary, surrogate)
        if isinstance(i, ReportFigure) and i.name == "model-beliefs"
    ]
    FigureCanvasAgg(beliefs.figure).draw()
    base_axes, loading_axes = beliefs.figure.axes
    # Two values share their first characters: numbered labels tell them apart.
    labels = [t.get_text() for t in base_axes.get_xticklabels()]
    assert len(set(labels)) == 3 and labels[0].startswith("1: ")
    assert "base: 1 = O=C([O-])C.[K+], 2 = O=C([O-])C.[Cs+], 3 = CCO" in beliefs.caption
    # The log-scale axis reads in plain numbers, not powers of ten.
    shown = [t.get_text() for t in loading_axes.get_xticklabels(which="both") if t.get_text()]
    assert shown and not any("^" in text or "times" in text for text in shown), shown
    # Every slice shows the target value.
    for ax in beliefs.figure.axes:
        assert any(list(line.get_ydata()) == [1.5, 1.5] for line in ax.lines)
    assert "the target, ratio = 1.5" in beliefs.caption
    assert "experiment #" in beliefs.caption and ") (dashed" not in beliefs.caption
