"""The coordinator's lazy stations model: Qt's model tester, filters, paging, figures."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from benchmarks.synthetic_hq import build_hq
from db import models as m
from db.services.station_table import StationFilter, StationSource
from observer import i18n
from ui.coordinator.stations import COLUMNS, PAGE_SIZE, StationsModel, StationsPage
from ui.qt import QAbstractItemModelTester, Qt

pytestmark = pytest.mark.gui

N = 1000  # station i%10==0 observed, i%50==0 by two observers who disagree (synthetic_hq.build_hq)


@pytest.fixture
def hq(tmp_path: Path):
    store = build_hq(tmp_path / "hq.baqylau", N)
    yield store
    store.close()


def _col(name: str) -> int:
    return COLUMNS.index(name)


def test_model_passes_qt_model_tester_through_filters_and_sorting(qtbot, hq) -> None:
    model = StationsModel(StationSource(hq))
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    model.reload()
    assert model.rowCount() == N
    assert model.columnCount() == len(COLUMNS)
    model.set_filter(StationFilter(code_search="00012"))
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["000012"] + [
        f"{i:06d}" for i in range(120, 130)
    ]
    model.set_filter(StationFilter(disputed=True))
    model.sort(_col("registered"), Qt.SortOrder.DescendingOrder)
    regs = [hq.station(model.station_id(r)).registered for r in range(model.rowCount())]
    assert regs == sorted(regs, reverse=True)


def test_rows_load_by_page_not_all_at_once(qtbot, hq) -> None:
    model = StationsModel(StationSource(hq))
    model.reload()
    assert model.pages_loaded == 0
    assert model.index(N - 1, _col("code")).data() == f"{N:06d}"
    assert model.pages_loaded == 1
    model.index(0, 0).data()
    model.index(PAGE_SIZE - 1, 0).data()
    assert model.pages_loaded == 2


def test_code_search_matches_substrings_and_escapes_like_wildcards(qtbot, hq) -> None:
    src = StationSource(hq)
    codes = {hq.station(i).code for i in src.ids(StationFilter(code_search="0099"))}
    assert codes == {f"{i:06d}" for i in range(1, N + 1) if "0099" in f"{i:06d}"}
    assert src.ids(StationFilter(code_search="%")) == []
    assert src.ids(StationFilter(code_search="_")) == []


def test_figures_flags_and_filters(qtbot, hq) -> None:
    src = StationSource(hq)
    # Station index 0 (code 000001) has two observers whose "issued" differs by 7: a conflict.
    rows = src.rows(["st-000000", "st-000010", "st-000001"])
    conflict, single, unobserved = rows["st-000000"], rows["st-000010"], rows["st-000001"]
    assert "conflict" in conflict.flags and conflict.observed_pct is None
    assert single.flags == frozenset()
    issued = hq.protocol_values("p-10-0")["issued"]
    assert single.observed_pct == pytest.approx(100 * issued / single.registered)
    assert single.gap_pp == pytest.approx(single.observed_pct - single.official_pct)  # observer.definitions.gap_pp
    assert unobserved.observed_pct is None and unobserved.official_pct is not None

    disputed = src.ids(StationFilter(disputed=True))
    assert set(disputed) == {f"st-{i:06d}" for i in range(0, N, 50)}

    # A decision for station 0 removes it from the disputed list and makes its figures count.
    t = datetime.now(UTC)
    with hq.engine.begin() as conn:
        conn.execute(
            insert(m.Resolution).values(
                id="r1",
                station_id="st-000000",
                protocol_id="p-0-1",
                status="chosen",
                reason="photo",
                decided_by="hq",
                decided_at=t,
                created_at=t,
                updated_at=t,
            )
        )
        conn.execute(
            insert(m.ProtocolValue).values(
                id="bad", protocol_id="p-10-0", key="received", value=1, created_at=t, updated_at=t
            )
        )
    src.invalidate()
    assert "st-000000" not in src.ids(StationFilter(disputed=True))
    chosen = src.rows(["st-000000"])["st-000000"]
    assert "chosen" in chosen.flags and chosen.observed_pct is not None
    # received(1) != issued + cancelled + spoiled only once those lines exist: incomplete, so not "breaks".
    assert "st-000010" not in src.breaking_ids()
    with hq.engine.begin() as conn:
        for key in ("cancelled", "spoiled"):
            conn.execute(
                insert(m.ProtocolValue).values(
                    id=f"b-{key}", protocol_id="p-10-0", key=key, value=0, created_at=t, updated_at=t
                )
            )
    src.invalidate()
    assert src.ids(StationFilter(breaks_checks=True)) == ["st-000010"]
    assert "checks" in src.rows(["st-000010"])["st-000010"].flags

    hq.save_violation("st-000020", category="STUFF", occurred_at=t, description="x")
    assert src.ids(StationFilter(has_violations=True)) == ["st-000020"]
    region = hq.station("st-000020").region
    assert all(hq.station(i).region == region for i in src.ids(StationFilter(region=region)))


def test_page_filters_and_translated_headers(qtbot, hq) -> None:
    page = StationsPage(hq)
    qtbot.addWidget(page)
    assert page.model.rowCount() == N
    page.disputed.setChecked(True)
    assert page.model.rowCount() == N // 50
    assert str(N // 50) in page.count.text() and str(N) in page.count.text()
    page.disputed.setChecked(False)
    page.search.setText("000999")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    assert page.model.index(0, _col("code")).data() == "000999"
    i18n.set_language("en")
    page.retranslate()
    assert page.model.headerData(_col("gap"), Qt.Orientation.Horizontal) == "Gap, pp"
    region_code = hq.station(page.model.station_id(0)).region
    from observer.regions import region_name

    assert page.model.index(0, _col("region")).data() == region_name(region_code, "en")


def test_a_broken_control_relation_is_described_in_words_not_as_its_expression(qtbot, hq) -> None:
    from sqlalchemy import update

    issued = hq.protocol_values("p-10-0")["issued"]
    with hq.engine.begin() as conn:  # more ballots in the boxes than were issued
        conn.execute(update(m.ProtocolValue).where(m.ProtocolValue.id == "p-10-0-in_boxes").values(value=issued + 40))
    model = StationsModel(StationSource(hq))
    model.set_filter(StationFilter(breaks_checks=True))
    assert [model.station_id(r) for r in range(model.rowCount())] == ["st-000010"]
    tip = model.index(0, _col("flags")).data(Qt.ItemDataRole.ToolTipRole)
    assert tip is not None and "in_boxes" not in tip and "&lt;=" not in tip
    row = model.row_data(0)
    assert row is not None and "in_boxes <= issued" in row.failed_checks  # (and in_boxes == valid + invalid)
    words = [o.describe(hq.template) for o in row.check_outcomes]
    assert len(words) == len(row.failed_checks) and all(html.escape(w) in tip for w in words)
    assert str(issued + 40) in tip


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_every_header_fits_its_two_lines(qtbot, hq, lang: str) -> None:
    """Issue 17: "Official turnout, %" took three lines in English and was clipped at 1366x768.

    Each header, wrapped between words as the header view wraps it, in the width its column got
    (less the section's padding and the sort arrow), needs at most the two lines the header has.
    """
    from ui.app import make_application
    from ui.qt import QFont, QFontMetrics

    make_application()  # the app's fonts and style sheet (DejaVu Sans, 11 pt, bold headers), as on screen
    i18n.set_language(lang)
    page = StationsPage(hq)
    qtbot.addWidget(page)
    page.resize(1366, 700)
    page.show()
    header = page.view.horizontalHeader()
    bold = QFont(header.font())
    bold.setBold(True)
    fm = QFontMetrics(bold)
    flags = int(Qt.AlignmentFlag.AlignCenter.value | Qt.TextFlag.TextWordWrap.value)
    for i, col in enumerate(COLUMNS[:-1]):  # the last column stretches to the window's edge
        text = str(page.model.headerData(i, Qt.Orientation.Horizontal))
        room = page.view.columnWidth(i) - 2 * 6 - 12  # style sheet: 6 px padding each side; the sort arrow
        lines = fm.boundingRect(0, 0, room, 1000, flags, text).height() // fm.lineSpacing()
        assert lines <= 2, (lang, col, text, page.view.columnWidth(i))
