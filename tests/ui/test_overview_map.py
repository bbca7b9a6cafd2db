"""The overview's map of the regions: coloured by coverage or the turnout gap, named on hover, clickable."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.synthetic_hq import build_hq
from db.aggregate import turnout_gaps
from observer.regionmap import COVERAGE, GAP, colour
from observer.regions import region_name
from ui.coordinator.overview import OverviewPage
from ui.qt import QColor, Qt

pytestmark = pytest.mark.gui

N = 400  # synthetic_hq: every 10th station observed, regions in turn


@pytest.fixture
def hq(tmp_path: Path):
    store = build_hq(tmp_path / "hq.baqylau", N)
    yield store
    store.close()


def _page(qtbot, store) -> OverviewPage:
    page = OverviewPage(store)
    qtbot.addWidget(page)
    page.resize(1300, 700)
    page.show()
    qtbot.waitExposed(page)  # laid out at its size: a point found on the map before that may move
    qtbot.waitUntil(lambda: page.overview is not None, timeout=20000)
    return page


def test_a_regions_colour_follows_its_coverage(qtbot, hq) -> None:
    page = _page(qtbot, hq)
    m = page.map
    assert m.isVisible() and len(m.shapes) == 16 and page.missing == ()
    akm, pav = m.index_of("KZ-AKM"), m.index_of("KZ-PAV")
    row = next(r for r in page.overview.regions if r.region == "KZ-AKM")
    assert m.colour_of(akm) == QColor(*colour(COVERAGE, row.reported / row.expected, m.top))
    assert m.top == 0.2  # every 10th station reported: the scale ends at 20%, not 100%
    before_akm, before_pav = m.colour_of(akm), m.colour_of(pav)
    # Fifty more stations on Akmola's list, none reported yet: its coverage falls, Pavlodar's does not move.
    for i in range(50):
        hq.upsert_station(f"9{i:05d}", "KZ-AKM", "D", "", 1000)
    with qtbot.waitSignal(page.loaded, timeout=20000):
        page.reload()
    assert m.colour_of(pav) == before_pav
    assert m.colour_of(akm) != before_akm
    assert sum(m.colour_of(akm).getRgb()[:3]) > sum(before_akm.getRgb()[:3])  # lighter: less covered


def test_hover_names_the_region_and_a_click_asks_for_its_stations(qtbot, hq) -> None:
    page = _page(qtbot, hq)
    m = page.map
    point = m.point_of("KZ-KAR")
    qtbot.mouseMove(m, point.toPoint())
    qtbot.waitUntil(lambda: region_name("KZ-KAR") in m.toolTip(), timeout=5000)
    row = next(r for r in page.overview.regions if r.region == "KZ-KAR")
    assert str(row.reported) in m.toolTip() and str(row.expected) in m.toolTip()
    with qtbot.waitSignal(page.regionRequested, timeout=5000) as clicked:
        qtbot.mouseClick(m, Qt.MouseButton.LeftButton, pos=point.toPoint())
    assert clicked.args == [["KZ-KAR"]]
    # Turkistan region and Shymkent share one shape (the map predates 2018): the tooltip names both.
    qtbot.mouseMove(m, m.point_of("KZ-SHY").toPoint())
    qtbot.waitUntil(lambda: region_name("KZ-SHY") in m.toolTip(), timeout=5000)
    assert region_name("KZ-YUZ") in m.toolTip()
    # Astana is a marker on top of Akmola region, not lost inside it.
    qtbot.mouseMove(m, m.point_of("KZ-AST").toPoint())
    qtbot.waitUntil(lambda: region_name("KZ-AST") in m.toolTip(), timeout=5000)


def test_the_switch_colours_by_the_mean_turnout_gap(qtbot, hq) -> None:
    page = _page(qtbot, hq)
    page.map_modes[GAP].click()
    qtbot.waitUntil(lambda: page._gaps is not None and page.map.mode == GAP, timeout=20000)
    gaps = [g.gap_pp for g in turnout_gaps(hq) if g.region == "KZ-ATY"]
    assert gaps
    m = page.map
    assert m.colour_of(m.index_of("KZ-ATY")) == QColor(*colour(GAP, sum(gaps) / len(gaps)))
    page.map_modes[COVERAGE].click()
    assert m.mode == COVERAGE
