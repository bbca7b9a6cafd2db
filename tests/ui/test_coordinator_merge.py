"""Merge dialog on real signed packages: merged, held, refused, duplicate; then a conflict decided in the GUI."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.conflicts import effective_protocols, resolution_history
from db.merge import import_keys
from db.package import export_station_package
from db.store import ROLE_HQ, ElectionStore
from observer.i18n import tr
from observer.signing import KeyPair
from tests.db.test_package_reader import _eager, _helper_ends
from ui.coordinator.conflicts import ConflictsPage
from ui.coordinator.merge import MergeDialog
from ui.qt import Qt

pytestmark = pytest.mark.gui

BASE = {
    "registered": 1500,
    "received": 1500,
    "issued": 900,
    "cancelled": 600,
    "spoiled": 0,
    "in_boxes": 900,
    "invalid": 20,
    "valid": 880,
    "nur_otan": 500,
    "ak_zhol": 200,
    "qhp": 100,
    "auyl": 50,
    "adal": 30,
}


def make_package(
    tmp: Path, name: str, code: str, observer: str, keys: KeyPair, template, figures: dict[str, int]
) -> Path:
    """An observer's station file with a filled protocol, exported and signed with ``keys``."""
    store = ElectionStore.create(tmp / f"{name}.baqylau", template)
    try:
        store.set_observer(observer, "MISK")
        st = store.upsert_station(code, "KZ-ALA", "Алмалы", "ул. Абая, 1", figures["registered"])
        store.select_station(st.id)
        pid = store.protocol_id(st.id)
        for key, value in figures.items():
            store.set_protocol_value(pid, key, value)
        out = tmp / "out" / name
        out.mkdir(parents=True)
        return export_station_package(store, out, keys)
    finally:
        store.close()


@pytest.fixture
def hq(tmp_path: Path, template_2021):
    store = ElectionStore.create(tmp_path / "hq.baqylau", template_2021, role=ROLE_HQ)
    yield store
    store.close()


def _trust(hq: ElectionStore, tmp: Path, *pairs: KeyPair) -> None:
    keys_file = tmp / "trusted.txt"
    keys_file.write_text("".join(f"{k.public_hex} observer\n" for k in pairs), encoding="utf-8")
    import_keys(hq, keys_file, decided_by="test")


def _run(qtbot, dialog: MergeDialog) -> None:
    with qtbot.waitSignal(dialog.merged, timeout=20000):
        dialog.merge_button.click()
    qtbot.waitUntil(lambda: dialog.merge_button.isEnabled())


@pytest.mark.parametrize("helper", [False, True], ids=["read-here", "read-ahead"])
def test_merge_dialog_shows_each_outcome_and_writes_only_good_packages(
    qtbot, hq, tmp_path, template_2021, helper: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # read-ahead: the packages opened by a helper process, spawned from the dialog's worker thread
    answers = _eager(monkeypatch) if helper else []
    ka, kb, kc, kd = (KeyPair.generate() for _ in range(4))
    _trust(hq, tmp_path, ka, kb, kd)
    p1 = make_package(tmp_path, "a", "101", "Айгүл", ka, template_2021, BASE)
    p2 = make_package(tmp_path, "b", "102", "Бауыржан", kb, template_2021, {**BASE, "issued": 950, "cancelled": 550})
    p3 = make_package(tmp_path, "c", "103", "Странник", kc, template_2021, BASE)  # key nobody trusted
    p4 = make_package(tmp_path, "d", "104", "Дана", kd, template_2021, BASE)
    data = bytearray(p4.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a damaged (or tampered) package
    p4.write_bytes(bytes(data))

    dialog = MergeDialog(hq)
    qtbot.addWidget(dialog)
    assert not dialog.merge_button.isEnabled()
    dialog.add_paths([tmp_path / "out"])  # a folder, searched recursively
    assert dialog.merge_button.isEnabled()
    _run(qtbot, dialog)

    shown = dialog.outcomes()
    assert shown == {p1.name: "merged", p2.name: "merged", p3.name: "held", p4.name: "refused"}
    assert dialog.report is not None and not dialog.report.cancelled
    refused_row = next(r for r in range(dialog.results.rowCount()) if dialog.results.item(r, 0).text() == p4.name)
    assert dialog.results.item(refused_row, 4).text().strip() != ""  # the reason is shown
    assert dialog.results.item(0, 0).text() == p4.name  # problems are listed first
    assert dialog.summary.text() == tr("coordui.merge.summary", merged=2, duplicate=0, held=1, refused=1)
    assert dialog.progress.value() == dialog.progress.maximum()
    _helper_ends()
    assert len([pkg for pkg, _ in answers if pkg is not None]) == (3 if helper else 0)  # the damaged one: refused

    # HQ content: the two good stations with their figures; nothing from the held or the damaged one.
    codes = {s.code for s in hq.stations()}
    assert codes == {"101", "102"}
    eff = effective_protocols(hq)
    b_station = hq.station_by_code("102")
    assert b_station is not None
    assert hq.protocol_values(eff.by_station[b_station.id])["issued"] == 950

    # Merging the same folder again changes nothing and says so.
    _run(qtbot, dialog)
    assert dialog.outcomes()[p1.name] == "duplicate" and dialog.outcomes()[p2.name] == "duplicate"
    assert {s.code for s in hq.stations()} == {"101", "102"}


def test_cancel_stops_between_packages(qtbot, hq, tmp_path, template_2021) -> None:
    keys = KeyPair.generate()
    _trust(hq, tmp_path, keys)
    for i in range(6):
        make_package(tmp_path, f"s{i}", f"2{i:02d}", f"Observer {i}", keys, template_2021, BASE)
    dialog = MergeDialog(hq)
    qtbot.addWidget(dialog)
    dialog.add_paths([tmp_path / "out"])
    # Cancel before the worker reaches the first package: the merge stops cleanly and reports it.
    op = dialog.start()
    assert op is not None
    dialog.cancel()
    with qtbot.waitSignal(op.finished, timeout=20000):
        pass
    assert dialog.report is not None
    merged = len(dialog.report.of("merged"))
    assert dialog.report.cancelled or merged == 6
    if dialog.report.cancelled:
        assert merged < 6 and dialog.progress_text.text() == tr("coordui.merge.cancelled")
    assert len({s.code for s in hq.stations()}) == merged  # every package either fully in or untouched


def test_two_observers_disagree_merge_then_decide_in_conflict_view(qtbot, hq, tmp_path, template_2021) -> None:
    ka, kb = KeyPair.generate(), KeyPair.generate()
    _trust(hq, tmp_path, ka, kb)
    make_package(tmp_path, "a", "301", "Айгүл Қасымова", ka, template_2021, BASE)
    make_package(
        tmp_path,
        "b",
        "301",
        "Бауыржан Омаров",
        kb,
        template_2021,
        {**BASE, "issued": 1000, "cancelled": 500, "in_boxes": 1000, "valid": 980, "nur_otan": 600},
    )
    dialog = MergeDialog(hq)
    qtbot.addWidget(dialog)
    dialog.add_paths([tmp_path / "out"])
    _run(qtbot, dialog)
    assert sorted(dialog.outcomes().values()) == ["merged", "merged"]
    station = hq.station_by_code("301")
    assert station is not None
    assert station.id in effective_protocols(hq).unresolved

    page = ConflictsPage(hq)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.station_list.count() == 1)
    col = page.version_column("Бауыржан")
    differing = [
        page.versions.item(r, 0).text()
        for r in range(page.versions.rowCount())
        if page.versions.item(r, col).data(Qt.ItemDataRole.UserRole) == "differs"
    ]
    assert differing == [template_2021.label(k) for k in ("issued", "cancelled", "in_boxes", "valid", "nur_otan")]
    page.choose(col - 1)
    page.reason.setText("the posted copy photo shows 1000")
    page.decided_by.setText("Central HQ")
    with qtbot.waitSignal(page.decided, timeout=5000):
        page.record.click()
    eff = effective_protocols(hq)
    assert hq.protocol_values(eff.by_station[station.id])["issued"] == 1000
    assert resolution_history(hq, station.id)[0].decided_by == "Central HQ"


def test_refused_packages_stay_in_the_log_after_the_dialog_closes_and_a_restart(qtbot, tmp_path, template_2021) -> None:
    """The overview's "refused" counter opens them with file, time and reason, read from the HQ file."""
    from observer import i18n
    from ui.coordinator.refused import RefusedDialog
    from ui.coordinator.window import CoordinatorWindow

    i18n.set_language("kk")
    path = tmp_path / "HQ.db"
    hq = ElectionStore.create(path, template_2021, role=ROLE_HQ)
    good = make_package(tmp_path, "a", "101", "Айгүл", KeyPair.generate(), template_2021, BASE)
    junk = good.parent / "junk.bqpkg"
    junk.write_bytes(b"not a package")
    window = CoordinatorWindow(hq)
    qtbot.addWidget(window)
    window.show()
    dialog = window.open_merge()
    dialog.add_paths([good.parent])
    _run(qtbot, dialog)
    assert dialog.outcomes()["junk.bqpkg"] == "refused"
    assert dialog.report is not None
    (reason,) = [e.reason for e in dialog.report.entries if e.path == junk]
    assert reason.startswith("junk.bqpkg Baqylau пакеті емес")
    dialog.close_button.click()  # the dialog's own list is gone with it
    window.close()
    hq.close()

    again = ElectionStore.open(path)  # the next start
    window = CoordinatorWindow(again)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: "overview" in window._pages and window.overview.overview is not None, timeout=20000)
    assert window.overview.overview.refused_packages == 1
    qtbot.mouseClick(window.overview.buttons["refused"], Qt.MouseButton.LeftButton)
    shown = next(d for d in window._dialogs if isinstance(d, RefusedDialog))
    qtbot.waitUntil(lambda: shown.entries is not None, timeout=10000)
    ((name, when, why),) = shown.rows()
    assert name == "junk.bqpkg" and why == reason and len(when) == len("2026-12-02 18:00")
    assert shown.detail.text() == reason
    assert shown.windowTitle() == "Қабылданбаған пакеттер"
    shown.close()
    window.close()
    again.close()
