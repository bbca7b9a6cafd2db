"""Forensics that cannot be misread: the observers' excess estimate, Holm's adjustment, one view for every front end."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import main
from db.services.forensics import party_namer, run_forensics
from db.store import ElectionStore
from observer import forensics as fx
from observer.fmt import formatter
from observer.forensics.present import Grid, Text, present
from observer.i18n import LANGUAGES
from tests.db.test_forensics_cli import _pdf_text, hq_path  # noqa: F401 - hq_path is a fixture
from tests.observer.test_forensics import synthetic_election


def _observed_sample(data: fx.StationReturns, clean_voted: np.ndarray, share: float, seed: int) -> fx.StationReturns:
    """A random share of stations as honest observers counted them: the stuffed ballots taken back out."""
    rng = np.random.default_rng(seed)
    pick = rng.random(len(data)) < share
    added = data.voted - clean_voted  # stuffing added the same number to voted, ballots and the leader
    parties = data.parties.copy()
    parties[:, 0] -= added
    honest = fx.StationReturns(
        data.codes,
        data.regions,
        data.registered,
        clean_voted,
        data.ballots - added,
        data.invalid,
        parties,
        data.party_keys,
    )
    return honest.subset(pick)


# ---------------------------------------------------------------------------
# Holm


def test_holm_matches_the_step_down_by_hand() -> None:
    # m = 4 finite p: 0.01·4 = 0.04, 0.02·3 = 0.06, 0.03·2 = 0.06 (kept monotone), 0.5·1 = 0.5; NaN stays out.
    adjusted = fx.holm([0.03, 0.5, 0.01, float("nan"), 0.02])
    assert adjusted[:3] == pytest.approx([0.06, 0.5, 0.04])
    assert np.isnan(adjusted[3])
    assert adjusted[4] == pytest.approx(0.06)
    assert fx.holm([0.4, 0.9]) == pytest.approx([0.8, 0.9])  # capped and monotone
    assert fx.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


def test_every_family_carries_holm_beside_raw_p() -> None:
    data, _ = synthetic_election(6_000, seed=4, regions=6, round_frac=0.03)
    result = fx.analyse(data, level="region")
    national = [t.national for t in result.integer]
    assert fx.holm([c.p_value for c in national]) == pytest.approx([c.p_holm for c in national])
    assert all(c.p_holm >= c.p_value for c in national)
    digits = [d.p_holm for d in result.digits]
    assert digits == pytest.approx(fx.holm([d.p_value for d in result.digits]))
    regional = [r.integer_turnout for r in result.regions] + [r.integer_leader for r in result.regions]
    assert [g.p_holm for g in regional if g] == pytest.approx(fx.holm([g.p_value for g in regional if g]))


def test_verdict_decides_on_the_adjusted_p() -> None:
    data, _ = synthetic_election(4_000, seed=2)
    test = fx.analyse(data).integer_test("either", 1)
    # Raw p below the level, adjusted above it: not significant.
    borderline = fx.IntegerPercentTest(
        test.quantity, test.step, fx.RoundCount("national", "*", 10, 5, 4.0, 1, 8, 0.004, 0.024), (), test.sample
    )
    assert fx.verdict(borderline, lang="en").startswith("Not significant")
    assert "0.004" in fx.verdict(borderline, lang="en") and "0.024" in fx.verdict(borderline, lang="en")


# ---------------------------------------------------------------------------
# the observers' own excess estimate


def test_observers_estimate_finds_mass_stuffing_that_shpilkin_misses() -> None:
    """Most stations stuffed: the mode itself moves, Shpilkin falls far short, the observers' sample does not."""
    data, truth = synthetic_election(20_000, seed=5, stuff_frac=0.7, stuff_range=(0.3, 0.9))
    observed = _observed_sample(data, truth.clean_voted, 0.02, seed=11)
    result = fx.analyse(data, observed)
    ex = result.observed_excess
    assert ex is not None and ex.stations == len(observed)
    assert abs(ex.excess - truth.injected) <= ex.margin(0.99)  # the truth is inside its 99 % interval
    assert result.turnout.excess < 0.6 * truth.injected  # Shpilkin's assumption fails under mass stuffing
    assert ex.shpilkin_excess == result.turnout.excess  # every region covered: the same estimate
    assert ex.disagree is True
    text = "\n".join(b.text for s in present(result, "en").sections for b in s.blocks if isinstance(b, Text))
    assert "Warning: the two estimates disagree" in text


def test_observers_estimate_agrees_on_a_clean_election() -> None:
    data, truth = synthetic_election(20_000, seed=6)
    observed = _observed_sample(data, truth.clean_voted, 0.02, seed=12)
    ex = fx.analyse(data, observed).observed_excess
    assert ex is not None
    assert abs(ex.excess) <= ex.margin(0.99)
    assert ex.disagree is False


def test_observers_estimate_is_compared_over_the_regions_they_covered() -> None:
    data, truth = synthetic_election(20_000, seed=7, regions=10, stuff_frac=0.1)
    observed = _observed_sample(data, truth.clean_voted, 0.05, seed=13)
    keep = np.isin(np.asarray(observed.regions, dtype=str), ["KZ-00", "KZ-01", "KZ-02"])
    result = fx.analyse(data, observed.subset(keep))
    ex = result.observed_excess
    assert ex is not None and ex.strata == 3 and ex.regions == 10
    in_three = np.isin(np.asarray(data.regions, dtype=str), ["KZ-00", "KZ-01", "KZ-02"])
    assert ex.official == float(data.party("leader")[in_three].sum())
    assert ex.shpilkin_excess == fx.turnout_distribution(data.subset(in_three), "leader").excess
    assert 20 < ex.covered_share < 40


# ---------------------------------------------------------------------------
# one view: CLI, GUI and PDF print the same thing


def test_integer_percent_sample_is_the_same_in_cli_and_pdf(
    hq_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sample line beside the integer-percentage table is the either-test's, in the CLI as in the PDF.

    Before, the CLI printed the turnout test's sample (88,604 stations on the 100,000-station demo) and
    the PDF the "turnout or leader's share" one (90,998) under the same table.
    """
    from reports.forensics_section import report_flowables

    store = ElectionStore.open(hq_path)
    try:
        result = run_forensics(store, "region")
        flowables = report_flowables(store, "en")
    finally:
        store.close()
    either = fx.figure_notes(result.integer_test("either", 1), "en")
    turnout = fx.figure_notes(result.integer_test("turnout", 1), "en")
    assert main.main(["--lang", "en", "forensics", str(hq_path), "--level", "region"]) == 0
    cli = capsys.readouterr().out
    pdf = _squash(_pdf_text(flowables, tmp_path / "f.pdf")[0])
    for sentence in (either["method"], either["sample"]):
        assert sentence in cli and _squash(sentence) in pdf
    assert turnout["method"] not in cli and _squash(turnout["method"]) not in pdf


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " "))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_cli_gui_and_pdf_lay_out_the_same_view(hq_path: Path, tmp_path: Path, lang: str, qtbot) -> None:  # noqa: ANN001
    from db.cli_forensics import render_text
    from reports.forensics_section import forensics_flowables
    from ui.coordinator.forensics import view_html

    store = ElectionStore.open(hq_path)
    try:
        result = run_forensics(store, "region")
        template = store.template
    finally:
        store.close()
    view = present(result, lang, party_namer(template, lang))
    cli = render_text(result, template, lang)
    html = view_html(view)
    pdf, _ = _pdf_text(forensics_flowables(result, lang, party_namer(template, lang)), tmp_path / "f.pdf")
    pdf = _squash(pdf)
    import html as html_lib

    for section in view.sections:
        assert section.title in cli and html_lib.escape(section.title) in html
        for block in section.blocks:
            cells = (
                [block.text]
                if isinstance(block, Text)
                else [c for row in block.rows for c in row]
                if isinstance(block, Grid)
                else []
            )
            for cell in cells:
                assert cell in cli
                assert html_lib.escape(cell) in html
                assert _squash(cell) in pdf or isinstance(block, Grid)  # long table cells may wrap
    # Every p-value is written the language's way in all three.
    tiny = formatter(lang).p_value(0.0001)
    assert ("< 0.001" if lang == "en" else "< 0,001") == tiny.replace("\u00a0", " ")


# ---------------------------------------------------------------------------
# the integer-percentage chart


def test_integer_chart_leaves_out_0_and_100_so_spikes_show() -> None:
    from reportlab.graphics.shapes import Line

    from reports.forensics_charts import integer_chart

    hist = np.zeros(1001, dtype=np.int64)
    hist[400:800] = 3
    hist[500:800:10] = 20  # spikes on whole percents
    hist[1000] = 5_000  # stations at 100 %, as on real data
    hist[0] = 800
    drawing = integer_chart(hist, hist, "en")
    strokes = [s for s in drawing.contents if isinstance(s, Line) and s.x1 == s.x2 and s.y2 > s.y1]
    tallest = max(s.y2 - s.y1 for s in strokes)
    # The spikes reach near the top of a panel, instead of 20/5000 of its height.
    panel = (drawing.height - 2 * 26 - 12) / 2
    assert tallest > 0.7 * panel
