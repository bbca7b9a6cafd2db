"""The election-night overview: counters equal to the command line's figures, each opening its list."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import insert, update

import main
from benchmarks.synthetic_hq import build_hq
from db import models as m
from db.aggregate import rules_note
from db.services.keys import import_log
from db.services.overview import read_overview
from observer.i18n import tr
from ui.coordinator.overview import COUNTERS, counter_value
from ui.coordinator.window import CoordinatorWindow
from ui.qt import Qt

pytestmark = pytest.mark.gui

N = 500  # synthetic_hq: every 10th station observed, every 50th by two observers who disagree


@pytest.fixture
def hq(tmp_path: Path):
    store = build_hq(tmp_path / "hq.baqylau", N)
    with store.engine.begin() as conn:
        conn.execute(
            insert(m.Violation),
            [
                {"id": f"v-{i}", "station_id": f"st-{i * 10:06d}", "category": "STUFF", "severity": sev}
                for i, sev in enumerate(("high", "high", "medium", "low", "high"))
            ],
        )
        conn.execute(
            insert(m.Package),
            [
                {
                    "id": f"pk-{i}",
                    "sha256": f"{i:064d}",
                    "file_name": f"p{i}.baqylau",
                    "outcome": outcome,
                    "reason": "r",
                }
                for i, outcome in enumerate(("held", "held", "held", "refused", "refused", "merged"))
            ],
        )
        # One observer's protocol with more ballots in the boxes than were issued: `check` lists it.
        conn.execute(update(m.ProtocolValue).where(m.ProtocolValue.id == "p-10-0-in_boxes").values(value=5000))
    yield store
    store.close()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    main.main(list(argv))
    return capsys.readouterr().out


def test_each_counter_equals_the_command_lines_figure(qtbot, hq, capsys) -> None:
    ov = read_overview(hq)
    path = str(hq.path)
    conflicts = _cli(capsys, "conflicts", path)
    assert (
        tr(
            "package.cli.counted",
            counted=ov.counted,
            disputed=ov.disputed,
            unresolved=ov.undecided,
            excluded=ov.excluded,
        )
        in conflicts
    )
    assert ov.undecided == N // 50  # every 50th station: two disagreeing observers
    check = _cli(capsys, "check", path)
    assert tr("coord.check.summary", official=ov.checks_official, observed=ov.checks_observed) in check
    assert (ov.checks_observed, ov.check_stations) == (1, frozenset({"st-000010"}))
    violations = _cli(capsys, "violations", path)
    assert tr("coord.violations.footer", total=ov.violations) in violations and ov.violations == 5
    gaps = _cli(capsys, "gaps", path, "--top", "0")
    assert tr("coord.gaps.footer", shown=0, total=ov.gaps_total, rules=rules_note(hq)) in gaps
    assert 0 < ov.gaps_over <= ov.gaps_total
    # Held and refused: the package log the keys tab shows.
    outcomes = Counter(p.outcome for p in import_log(hq))
    assert (ov.held_packages, ov.refused_packages) == (outcomes["held"], outcomes["refused"]) == (3, 2)
    assert ov.violations_by_severity == {"high": 3, "medium": 1, "low": 1}
    assert ov.reported == len({f"st-{i:06d}" for i in range(0, N, 10)})
    assert sum(r.expected for r in ov.regions) == N


def test_overview_is_the_first_tab_and_its_counters_open_their_lists(qtbot, hq) -> None:
    window = CoordinatorWindow(hq)
    qtbot.addWidget(window)
    window.show()
    assert window.tabs.currentIndex() == 0 and window.tabs.tabText(0) == tr("coordui.tab.overview")
    qtbot.waitUntil(lambda: "overview" in window._pages and window.overview.overview is not None, timeout=20000)
    page = window.overview
    ov = page.overview
    assert ov is not None
    for name in COUNTERS:
        assert page.buttons[name].text().split("\n")[0].replace("\u00a0", "").replace(" ", "") == str(
            counter_value(ov, name)
        )
    assert len(page.bars) == len(ov.regions)

    stations = window.stations
    qtbot.mouseClick(page.buttons["disputed"], Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is stations and stations.disputed.isChecked()
    assert stations.model.rowCount() == ov.undecided + ov.disputed

    window.show_tab("overview")
    qtbot.mouseClick(page.buttons["reported"], Qt.MouseButton.LeftButton)
    assert stations.observed.isChecked() and not stations.disputed.isChecked()
    assert stations.model.rowCount() == ov.reported

    window.show_tab("overview")
    qtbot.mouseClick(page.buttons["gaps"], Qt.MouseButton.LeftButton)
    assert stations.picked.isVisible() and stations.picked.isChecked()
    assert stations.picked.text() == tr("coordui.stations.picked_gaps", threshold="5,0")
    assert stations.model.rowCount() == ov.gaps_over  # the very stations the counter counted
    assert set(stations.model.station_ids()) == ov.gap_stations
    gaps = [stations.model.row_data(r).gap_pp for r in range(stations.model.rowCount())]
    shown = [g for g in gaps if g is not None]  # undecided stations have no counted turnout: listed last
    assert gaps[: len(shown)] == shown == sorted(shown) and all(abs(g) > ov.gap_threshold for g in shown)

    # The control-relations counter opens the stations of the protocols `baqylau check` lists.
    window.show_tab("overview")
    qtbot.mouseClick(page.buttons["checks"], Qt.MouseButton.LeftButton)
    assert set(stations.model.station_ids()) == ov.check_stations
    assert stations.picked.text() == tr("coordui.stations.picked_checks")
    stations.picked.click()  # unticked: the whole table again
    assert stations.model.rowCount() == N

    # A region clicked on the map: its stations (a shape standing for two units opens the one with stations).
    region = ov.regions[0].region
    window.show_tab("overview")
    page.map.regionClicked.emit(["KZ-NOWHERE", region])
    assert window.tabs.currentWidget() is stations and stations.region.currentData() == region
    assert stations.model.rowCount() == ov.regions[0].expected

    window.show_tab("overview")
    qtbot.mouseClick(page.buttons["held"], Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window._holders["keys"]
    window.show_tab("overview")
    qtbot.mouseClick(page.buttons["undecided"], Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window._holders["conflicts"]


def test_overview_refreshes_after_a_change(qtbot, hq) -> None:
    window = CoordinatorWindow(hq)
    qtbot.addWidget(window)
    page = window.show_tab("overview")
    qtbot.waitUntil(lambda: page.overview is not None, timeout=20000)
    before = page.overview.violations
    with hq.engine.begin() as conn:
        conn.execute(insert(m.Violation).values(id="v-new", station_id="st-000001", category="STUFF", severity="high"))
    with qtbot.waitSignal(page.loaded, timeout=20000):
        window.refresh()
    assert page.overview.violations == before + 1
