"""A station's whole story, opened from each table; sorting every column of the stations table."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert

from benchmarks.synthetic_hq import build_hq
from db import models as m
from db.services.station_table import StationFilter
from observer.definitions import gap_pp
from observer.i18n import tr
from ui.coordinator.stations import COLUMNS
from ui.coordinator.story import StoryDialog
from ui.coordinator.window import CoordinatorWindow
from ui.qt import QApplication, Qt

pytestmark = pytest.mark.gui

N = 300


@pytest.fixture
def hq(tmp_path: Path):
    store = build_hq(tmp_path / "hq.baqylau", N)
    with store.engine.begin() as conn:
        conn.execute(
            insert(m.Violation).values(
                id="v-1", station_id="st-000010", category="STUFF", severity="high", description="ballots in a bag"
            )
        )
    yield store
    store.close()


@pytest.fixture
def window(qtbot, hq):
    w = CoordinatorWindow(hq)
    qtbot.addWidget(w)
    w.show()
    w.show_tab("stations")
    qtbot.waitUntil(lambda: w.stations.model.source.effective_ready(), timeout=20000)
    return w


def _story(qtbot, window: CoordinatorWindow) -> StoryDialog:
    dialogs = [d for d in window._dialogs if isinstance(d, StoryDialog)]
    assert len(dialogs) == 1
    dialog = dialogs[0]
    qtbot.waitUntil(lambda: dialog.story is not None and dialog.story.station_id == dialog.station_id, timeout=10000)
    return dialog


def test_enter_on_a_station_opens_its_story_and_next_walks_the_list(qtbot, window, hq) -> None:
    view = window.stations.view
    view.setFocus()
    view.setCurrentIndex(window.stations.model.index(0, 0))  # 000001: two observers who disagree
    qtbot.keyClick(view, Qt.Key.Key_Return)
    dialog = _story(qtbot, window)
    story = dialog.story
    assert story.code == "000001" and story.status == "undecided" and len(story.protocols) == 2
    assert "issued" in story.differing_keys and dialog.decide.isVisible()
    table = dialog.tables["protocols"]
    assert table.columnCount() == 4  # line, official, two versions
    assert story.official is not None and story.official_pct is not None
    assert story.code in dialog.heading.text() and tr("coordui.story.status.undecided") in dialog.heading.text()

    # Alt+Right: the next station of the table, in the table's order.
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)  # the table passes it up
    qtbot.waitUntil(lambda: dialog.story is not None and dialog.story.code == "000002", timeout=10000)
    assert dialog.story.status == "not_observed" and dialog.story.protocols == ()
    assert dialog.previous.isEnabled()

    # The violation's severity and text are there, and the gap has the one sign.
    dialog.show_station("st-000010")
    qtbot.waitUntil(lambda: dialog.story is not None and dialog.story.code == "000011", timeout=10000)
    s = dialog.story
    assert s.status == "counted" and s.gap_pp == pytest.approx(gap_pp(s.observed_pct, s.official_pct))
    assert s.gap_pp < 0  # synthetic_hq: official turnout is 10% above what observers saw
    violations = dialog.tables["violations"]
    assert violations.rowCount() == 1
    assert violations.item(0, 0).text() == tr("coordui.story.severity.high")
    assert violations.item(0, 4).text() == "ballots in a bag"
    table_row = window.stations.model.source.rows(["st-000010"])["st-000010"]
    assert table_row.gap_pp == pytest.approx(s.gap_pp)

    # "Decide the conflict…" goes to the conflicts tab.
    dialog.show_station("st-000000")
    qtbot.waitUntil(lambda: dialog.story is not None and dialog.story.code == "000001", timeout=10000)
    qtbot.mouseClick(dialog.decide, Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window._holders["conflicts"]


def test_story_opens_from_the_conflicts_list_and_the_gap_table(qtbot, window) -> None:
    conflicts = window.show_tab("conflicts")
    qtbot.waitUntil(lambda: conflicts.station_list.count() > 0, timeout=20000)
    item = conflicts.station_list.item(1)
    rect = conflicts.station_list.visualItemRect(item)
    # A real double-click: press and release, then the second press (the view checks it hit the same item).
    qtbot.mouseClick(conflicts.station_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(conflicts.station_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = _story(qtbot, window)
    assert dialog.station_id == item.data(Qt.ItemDataRole.UserRole) and dialog.story.status == "undecided"
    assert dialog.ids == [c.station_id for c in conflicts._conflicts]
    dialog.close()
    qtbot.waitUntil(lambda: not window._dialogs)

    comparison = window.show_tab("comparison")
    qtbot.waitUntil(lambda: comparison.gap_table.rowCount() > 0, timeout=20000)
    comparison.gap_table.setFocus()
    comparison.gap_table.setCurrentCell(0, 0)
    qtbot.keyClick(comparison.gap_table, Qt.Key.Key_Return)
    dialog = _story(qtbot, window)
    assert dialog.station_id == comparison.gaps[0].station_id
    assert dialog.story.gap_pp == pytest.approx(
        comparison.gaps[0].gap_pp
    )  # no head-counts here: the protocol's turnout


def _column(window: CoordinatorWindow, name: str) -> list[object]:
    model = window.stations.model
    out = []
    for r in range(model.rowCount()):
        row = model.row_data(r)
        assert row is not None
        out.append(
            {
                "code": row.code,
                "region": row.region,
                "district": row.district,
                "registered": row.registered,
                "observed": row.observed_pct,
                "official": row.official_pct,
                "gap": row.gap_pp,
                "flags": row.flags,
            }[name]
        )
    return out


@pytest.mark.parametrize("name", [c for c in COLUMNS if c != "flags"])
def test_clicking_any_header_sorts_by_it_both_ways(qtbot, window, name) -> None:
    header = window.stations.view.horizontalHeader()
    col = COLUMNS.index(name)
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        header.setSortIndicator(col, order)
        values = _column(window, name)
        present = [v for v in values if v is not None]
        assert present == sorted(present, reverse=order == Qt.SortOrder.DescendingOrder)  # type: ignore[type-var]
        assert values[: len(present)] == present  # stations without a value last, either way
        if name in ("observed", "gap"):
            assert len(present) < len(values)


def test_flags_sort_puts_conflicts_first_and_observed_filter_narrows(qtbot, window) -> None:
    window.stations.view.horizontalHeader().setSortIndicator(COLUMNS.index("flags"), Qt.SortOrder.AscendingOrder)
    flags = _column(window, "flags")
    n_conflicts = N // 50
    assert all("conflict" in f for f in flags[:n_conflicts]) and "conflict" not in flags[n_conflicts]
    window.stations.observed.click()
    assert window.stations.model.rowCount() == N // 10
    assert window.stations.model.source.ids(StationFilter(observed=True)) == [f"st-{i:06d}" for i in range(0, N, 10)]
    QApplication.processEvents()


def test_official_sort_keys_read_in_sql_equal_the_rows_figures(qtbot, window, hq) -> None:
    from sqlalchemy import update

    # Values the row's own parser skips: a boolean, a text, unreadable JSON.
    with hq.engine.begin() as conn:
        for sid, text in (
            ("st-000003", '{"registered": 900, "issued": true}'),
            ("st-000004", '{"registered": 900, "issued": "500"}'),
            ("st-000005", "{not json"),
            ("st-000006", '{"issued": 450}'),  # no registered line: the station list's count
        ):
            conn.execute(update(m.OfficialResult).where(m.OfficialResult.station_id == sid).values(values_json=text))
    window.refresh()
    source = window.stations.model.source
    keys = source.sort_keys.keys("official")
    rows = source.rows(source.ids(StationFilter()))
    assert keys == {sid: r.official_pct for sid, r in rows.items() if r.official_pct is not None}
    assert not {"st-000003", "st-000004", "st-000005"} & set(keys) and "st-000006" in keys
