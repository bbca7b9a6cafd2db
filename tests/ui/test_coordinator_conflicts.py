"""Conflict view: two observers disagree at a station; the coordinator decides, then changes the decision."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from db import models as m
from db.conflicts import effective_protocols, resolution_history, resolve_station
from db.store import ROLE_HQ, ElectionStore
from observer import i18n
from observer.fmt import formatter
from ui.coordinator.conflicts import ConflictsPage, version_title
from ui.qt import QMessageBox, Qt

pytestmark = pytest.mark.gui

FIGURES_A = {
    "registered": 1500,
    "issued": 900,
    "in_boxes": 880,
    "invalid": 20,
    "valid": 860,
    "nur_otan": 500,
    "ak_zhol": 360,
}
FIGURES_B = {**FIGURES_A, "issued": 1100, "in_boxes": 1080, "valid": 1060, "nur_otan": 700}


def _add_version(hq: ElectionStore, station_id: str, name: str, figures: dict[str, int]) -> str:
    """What a merge writes for one observer's protocol (observer, protocol, values)."""
    t = datetime.now(UTC)
    oid, pid = m.new_id(), m.new_id()
    with hq.engine.begin() as conn:
        conn.execute(insert(m.Observer).values(id=oid, name=name, organisation="MISK", created_at=t, updated_at=t))
        conn.execute(
            insert(m.Protocol).values(
                id=pid, station_id=station_id, observer_id=oid, source="posted_copy", created_at=t, updated_at=t
            )
        )
        conn.execute(
            insert(m.ProtocolValue),
            [
                {
                    "id": m.new_id(),
                    "protocol_id": pid,
                    "key": k,
                    "value": v,
                    "observer_id": oid,
                    "created_at": t,
                    "updated_at": t,
                }
                for k, v in figures.items()
            ],
        )
    return pid


@pytest.fixture
def hq(tmp_path: Path, template_2021):
    store = ElectionStore.create(tmp_path / "hq.baqylau", template_2021, role=ROLE_HQ)
    st = store.upsert_station("101", "KZ-ALA", "Алмалы", "", 1500)
    calm = store.upsert_station("102", "KZ-ALA", "Алмалы", "", 1200)
    a = _add_version(store, st.id, "Айгүл Қасымова", FIGURES_A)
    b = _add_version(store, st.id, "Бауыржан Омаров", FIGURES_B)
    # Two observers who agree at station 102: not a conflict.
    _add_version(store, calm.id, "Ерлан", FIGURES_A)
    _add_version(store, calm.id, "Дана", FIGURES_A)
    store.test_ids = {"station": st.id, "a": a, "b": b}  # type: ignore[attr-defined]
    yield store
    store.close()


def _page(qtbot, hq) -> ConflictsPage:
    page = ConflictsPage(hq)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    qtbot.waitUntil(lambda: page.station_list.count() == 1)
    return page


def test_versions_side_by_side_with_differences_highlighted(qtbot, hq) -> None:
    page = _page(qtbot, hq)
    assert "101" in page.station_list.item(0).text()
    table = page.versions
    assert table.columnCount() == 3  # the line, then one column per version
    a, b = page.version_column("Айгүл Қасымова"), page.version_column("Бауыржан Омаров")
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    issued = rows[hq.template.label("issued")]
    registered = rows[hq.template.label("registered")]
    fmt = formatter(i18n.current_language())  # the CLI's and the report's way of writing a count
    assert (table.item(issued, a).text(), table.item(issued, b).text()) == (fmt.integer(900), fmt.integer(1100))
    assert table.item(issued, a).data(Qt.ItemDataRole.UserRole) == "differs"
    assert table.item(registered, a).data(Qt.ItemDataRole.UserRole) is None
    differing = {
        table.item(r, 0).text() for r in range(table.rowCount()) if table.item(r, b).data(Qt.ItemDataRole.UserRole)
    }
    assert differing == {hq.template.label(k) for k in ("issued", "in_boxes", "valid", "nur_otan")}
    # Undecided: the station does not count yet.
    assert ids_of(hq)["station"] in effective_protocols(hq).unresolved


def ids_of(hq) -> dict[str, str]:
    return hq.test_ids


def test_choose_a_version_then_change_to_disputed(qtbot, hq) -> None:
    page = _page(qtbot, hq)
    ids = ids_of(hq)
    assert not page.record.isEnabled()  # nothing chosen, no reason yet
    # Versions are numbered in the order db.conflicts gives them; find the one by its observer.
    page.choose(page.version_column("Бауыржан Омаров") - 1)
    page.reason.setText("matches the photo of the protocol")
    page.decided_by.setText("HQ Almaty")
    assert page.record.isEnabled()
    with qtbot.waitSignal(page.decided, timeout=5000) as sig:
        page.record.click()
    assert sig.args == [ids["station"]]
    eff = effective_protocols(hq)
    assert eff.by_station[ids["station"]] == ids["b"]
    assert ids["station"] not in eff.unresolved
    history = resolution_history(hq, ids["station"])
    assert [(r.status, r.protocol_id, r.reason, r.decided_by) for r in history] == [
        ("chosen", ids["b"], "matches the photo of the protocol", "HQ Almaty")
    ]
    qtbot.waitUntil(lambda: page.history.rowCount() == 1)
    assert "Бауыржан Омаров" in page.history.item(0, 1).text()
    assert "Бауыржан Омаров" in page.status.text()

    # Change of mind: the station becomes disputed, the old decision stays in the history.
    page.choose(None)
    page.reason.setText("both copies look altered")
    with qtbot.waitSignal(page.decided, timeout=5000):
        page.record.click()
    eff = effective_protocols(hq)
    assert ids["station"] in eff.disputed and ids["station"] not in eff.by_station
    qtbot.waitUntil(lambda: page.history.rowCount() == 2)
    assert page.history.item(0, 4).text() == "both copies look altered"
    assert page.history.item(1, 4).text() == "matches the photo of the protocol"


def test_a_refresh_from_elsewhere_keeps_the_decision_being_typed(qtbot, hq) -> None:
    """The window re-reads every page when the HQ changed elsewhere (on a shared HQ, another
    coordinator's merge, polled): the version picked and the reason typed here stay."""
    page = _page(qtbot, hq)
    page.choose(page.version_column("Бауыржан Омаров") - 1)
    page.reason.setText("matches the photo of the")
    picked = page.choices.checkedButton()
    with qtbot.waitSignal(page.loaded, timeout=5000):
        page.reload()  # what the window does after someone else's change
    assert page.reason.text() == "matches the photo of the"
    checked = page.choices.checkedButton()
    assert checked is not None and checked is not picked  # the buttons are new; the same version is picked
    assert checked.property("protocol_id") == ids_of(hq)["b"]
    assert page.record.isEnabled() == bool(page.decided_by.text().strip())


def test_a_decision_taken_meanwhile_elsewhere_is_not_overwritten_unseen(qtbot, hq) -> None:
    """Another coordinator decided the station while this one was looking at it: this decision is
    refused with their name, nothing is recorded over theirs, and the page shows theirs."""
    page = _page(qtbot, hq)
    ids = ids_of(hq)
    page.choose(page.version_column("Бауыржан Омаров") - 1)
    page.reason.setText("matches the photo of the protocol")
    page.decided_by.setText("HQ Almaty")
    resolve_station(hq, ids["station"], protocol_id=None, status="disputed", reason="both altered", decided_by="Aigul")
    page.record.click()
    qtbot.waitUntil(lambda: page.findChild(QMessageBox, "baqylauErrorBox") is not None, timeout=5000)
    box = page.findChild(QMessageBox, "baqylauErrorBox")
    assert box is not None and "Aigul" in box.text()
    assert [(r.status, r.decided_by) for r in resolution_history(hq, ids["station"])] == [("disputed", "Aigul")]
    qtbot.waitUntil(lambda: page.history.rowCount() == 1)
    assert page.history.item(0, 4).text() == "both altered"
    box.close()


def test_a_decision_needs_a_reason(qtbot, hq) -> None:
    page = _page(qtbot, hq)
    page.choose(0)
    page.decided_by.setText("HQ")
    page.reason.setText("   ")
    assert not page.record.isEnabled()
    assert resolution_history(hq, ids_of(hq)["station"]) == []


def test_conflicts_decided_by_keyboard_alone_move_on_to_the_next_undecided(qtbot, tmp_path: Path) -> None:
    from benchmarks.synthetic_hq import build_hq

    hq = build_hq(tmp_path / "many.baqylau", 200)  # every 50th station: two disagreeing observers (4 conflicts)
    try:
        page = ConflictsPage(hq)
        qtbot.addWidget(page)
        page.show()
        qtbot.waitUntil(lambda: page.station_list.count() == 4, timeout=20000)
        page.decided_by.setText("Coordinator")
        page.station_list.setFocus()
        first = page._current.station_id
        # "2": the second version; the reason field takes the typing; Enter records.
        qtbot.keyClick(page.station_list, Qt.Key.Key_2)
        assert page.choices.checkedButton().objectName() == "chooseVersion2"
        assert page.reason.hasFocus()
        qtbot.keyClicks(page.reason, "matches the photo")
        with qtbot.waitSignal(page.decided, timeout=10000):
            qtbot.keyClick(page.reason, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: page._current is not None and page._current.station_id != first, timeout=10000)
        second = page._current.station_id
        assert page._current.resolution is None  # the next undecided station, selected for the next keys
        assert resolution_history(hq, first)[0].status == "chosen"
        # "D": disputed, then Enter from the list itself once the reason is there.
        qtbot.waitUntil(page.station_list.hasFocus)
        qtbot.keyClick(page.station_list, Qt.Key.Key_D)
        assert page.choices.checkedButton() is page.disputed_choice
        qtbot.keyClicks(page.reason, "photos disagree")
        page.station_list.setFocus()
        with qtbot.waitSignal(page.decided, timeout=10000):
            qtbot.keyClick(page.station_list, Qt.Key.Key_Return)
        assert resolution_history(hq, second)[0].status == "disputed"
        qtbot.waitUntil(lambda: page._current is not None and page._current.station_id not in (first, second))
        # Tab leaves the comparison table instead of walking its cells.
        page.versions.setFocus()
        qtbot.keyClick(page.versions, Qt.Key.Key_Tab)
        assert not page.versions.hasFocus()
    finally:
        hq.close()


def test_each_versions_protocol_photo_is_one_tab_away(qtbot, hq, tmp_path: Path) -> None:
    from PIL import Image

    ids = hq.test_ids
    for name, pid, colour in (("b.jpg", ids["b"], "#8ab89a"), ("a.jpg", ids["a"], "#b88a9a")):
        Image.new("RGB", (320, 240), colour).save(tmp_path / name, "JPEG")
        hq.add_evidence(ids["station"], tmp_path / name, protocol_id=pid)
    page = _page(qtbot, hq)
    assert page.compare.tabText(1) == i18n.tr("coordui.conflicts.photos", n=2)
    # In version order, each captioned with whose version it shows.
    captions = [page.photos.item(r).text() for r in range(page.photos.count())]
    photo_of = {ids["a"]: "a.jpg", ids["b"]: "b.jpg"}
    versions = page._current.versions  # their order is the comparison's, whichever protocol came first
    assert len(captions) == len(versions) == 2
    for i, version in enumerate(versions):
        assert captions[i].startswith(version_title(i, page._current)) and photo_of[version.protocol_id] in captions[i]
