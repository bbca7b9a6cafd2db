"""The coordinator window as a whole: tabs, language switching, refresh after merge, keys, report, imports, forensics."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from db.merge import list_keys
from db.rules import load_rules
from db.store import ROLE_HQ, ElectionStore
from observer import i18n
from observer.fmt import formatter
from observer.signing import KeyPair
from tests.ui.test_coordinator_merge import BASE, make_package
from ui.coordinator.comparison import RulesDialog
from ui.coordinator.forensics import ForensicsPage
from ui.coordinator.imports import KIND_OFFICIAL, KIND_STATIONS, ImportDialog
from ui.coordinator.report import ReportDialog
from ui.coordinator.window import CoordinatorWindow
from ui.qt import Qt

pytestmark = pytest.mark.gui


@pytest.fixture
def hq(tmp_path: Path, template_2021):
    store = ElectionStore.create(tmp_path / "hq.baqylau", template_2021, role=ROLE_HQ)
    yield store
    store.close()


def _merge_via_window(qtbot, window: CoordinatorWindow, folder: Path) -> None:
    dialog = window.open_merge()
    dialog.add_paths([folder])
    with qtbot.waitSignal(dialog.merged, timeout=20000):
        dialog.merge_button.click()


def test_show_tab_brings_each_page_to_the_front(qtbot, hq) -> None:
    window = CoordinatorWindow(hq)
    qtbot.addWidget(window)
    window.show()
    for name in ("keys", "conflicts", "forensics", "comparison", "stations"):
        page = window.show_tab(name)
        assert page is getattr(window, name)
        current = window.tabs.currentWidget()
        assert current is page or current.isAncestorOf(page)  # lazy tabs hold a frame with the page in it
        qtbot.waitUntil(page.isVisible)  # a page added to a shown frame shows on the next event-loop turn


def test_window_refreshes_after_merge_and_switches_language(qtbot, hq, tmp_path, template_2021) -> None:
    window = CoordinatorWindow(hq)
    qtbot.addWidget(window)
    window.show()
    assert window.stations.model.rowCount() == 0
    assert window.tabs.count() == 6  # the overview first

    keys = KeyPair.generate()
    make_package(tmp_path, "a", "101", "Айгүл", keys, template_2021, BASE)
    # The key is unknown: the package is held, shown on the keys page, and merged once approved.
    _merge_via_window(qtbot, window, tmp_path / "out")
    assert window.stations.model.rowCount() == 0
    qtbot.waitUntil(lambda: window.keys.table.rowCount() == 1)
    window.keys.table.selectRow(0)
    assert window.keys.approve.isEnabled() and not window.keys.release.isEnabled()
    window.keys.label_edit.setText("Айгүл, Алматы")
    # Approving the key merges what it held at once (as `keys trust` does): nothing stays held unseen.
    with qtbot.waitSignal(window.dataChanged, timeout=10000):
        qtbot.mouseClick(window.keys.approve, Qt.MouseButton.LeftButton)
    assert list_keys(hq)[0].status == "trusted" and list_keys(hq)[0].label == "Айгүл, Алматы"
    assert list_keys(hq)[0].held_packages == 0 and list_keys(hq)[0].merged_packages == 1
    assert window.stations.model.rowCount() == 1
    assert window.stations.model.index(0, 0).data() == "101"
    # The import log row of the package turns from "held" to "merged" once the reload lands.
    qtbot.waitUntil(lambda: window.keys.log_model.index(0, 1).data() == i18n.tr("coordui.outcome.merged"), timeout=5000)
    assert window.keys.log_model.rowCount() == 1

    i18n.set_language("kk")
    assert window.tabs.tabText(0) == i18n.tr("coordui.tab.overview", "kk")
    assert window.tabs.tabText(1) == i18n.tr("coordui.tab.stations", "kk")
    assert window.actions_by_name["merge"].text() == "Пакеттерді біріктіру…"
    assert window.stations.model.headerData(0, Qt.Orientation.Horizontal) == "Учаске"
    i18n.set_language("en")
    assert window.windowTitle() == "Baqylau — HQ — hq.baqylau"


def test_a_reload_keeps_the_label_being_typed_for_the_selected_key(qtbot, hq, tmp_path, template_2021) -> None:
    """The keys page re-reads after changes made elsewhere (on a shared HQ: another coordinator's)."""
    from ui.coordinator.keys import _log_rows

    window = CoordinatorWindow(hq)
    qtbot.addWidget(window)
    make_package(tmp_path, "a", "101", "Айгүл", KeyPair.generate(), template_2021, BASE)
    _merge_via_window(qtbot, window, tmp_path / "out")  # held: its key is not trusted yet
    page = window.keys
    qtbot.waitUntil(lambda: page.table.rowCount() == 1)
    page.table.selectRow(0)
    page.label_edit.setText("Айгүл, Ал")
    page._loaded((list_keys(hq), _log_rows(hq)))  # what a reload delivers
    assert page.selected_key() is not None and page.label_edit.text() == "Айгүл, Ал"


def test_rules_dialog_saves_the_rule_shown_next_to_the_tables(qtbot, hq) -> None:
    window = CoordinatorWindow(hq)
    qtbot.addWidget(window)
    page = window.comparison
    assert load_rules(hq).active is False
    dialog = page.edit_rules()
    assert isinstance(dialog, RulesDialog)
    dialog.photo.setChecked(True)
    assert load_rules(hq).require_protocol_photo is False  # nothing saved before OK
    with qtbot.waitSignal(page.rulesChanged, timeout=5000):
        dialog.accept()
    rules = load_rules(hq)
    assert rules.require_protocol_photo and not rules.only_trusted_keys and not rules.exclude_failed_checks
    assert rules.describe() in page.rule.text()


def test_official_import_lists_bad_rows_with_line_numbers_and_writes_nothing(qtbot, hq, tmp_path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[station]\ncode = "uik"\nregion = "region"\n\n[lines]\nregistered = "reg"\nissued = "issued"\n',
        encoding="utf-8",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "uik;region;reg;issued\n101;KZ-ALA;1500;900\n102;KZ-ALA;abc;800\n103;KZ-ALA;1200;-5\n", encoding="utf-8"
    )
    dialog = ImportDialog(hq, KIND_OFFICIAL)
    qtbot.addWidget(dialog)
    dialog.csv.edit.setText(str(bad))
    dialog.mapping.edit.setText(str(mapping))
    op = dialog.start()
    assert op is not None
    with qtbot.waitSignal(op.finished, timeout=10000):
        pass
    assert op.outcome == "failure"
    assert not dialog.problems.isHidden()
    lines = [dialog.problems.item(r, 0).text() for r in range(dialog.problems.rowCount())]
    assert lines == ["3", "4"]
    assert hq.station_count() == 0

    good = tmp_path / "good.csv"
    good.write_text("uik;region;reg;issued\n101;KZ-ALA;1500;900\n102;KZ-ALA;1400;800\n", encoding="cp1251")
    dialog.csv.edit.setText(str(good))
    with qtbot.waitSignal(dialog.imported, timeout=10000) as sig:
        dialog.start()
    assert sig.args[0].rows == 2
    assert dialog.problems.isHidden()
    assert hq.station_count() == 2
    report = sig.args[0]
    assert (report.stations_created, report.delimiter) == (2, ";")
    assert dialog.outcome_label.text() == report.summary()
    assert "good.csv" in report.summary("en") and "2 rows imported" in report.summary("en")


def test_station_list_import_without_mapping(qtbot, hq, tmp_path) -> None:
    csv = tmp_path / "stations.csv"
    csv.write_text(
        "code,region,district,address,registered\n501,KZ-AST,Есиль,ул. 1,1200\n502,KZ-AST,Есиль,ул. 2,900\n",
        encoding="utf-8",
    )
    dialog = ImportDialog(hq, KIND_STATIONS)
    qtbot.addWidget(dialog)
    dialog.csv.edit.setText(str(csv))
    with qtbot.waitSignal(dialog.imported, timeout=10000):
        dialog.start()
    assert {s.code: s.registered for s in hq.stations()} == {"501": 1200, "502": 900}


def test_report_dialog_builds_previews_and_saves(qtbot, hq, tmp_path, template_2021) -> None:
    window = CoordinatorWindow(hq)
    qtbot.addWidget(window)
    keys = KeyPair.generate()
    hq.set_meta("trust_new_keys", "1")
    make_package(tmp_path, "a", "101", "Айгүл", keys, template_2021, BASE)
    _merge_via_window(qtbot, window, tmp_path / "out")
    dialog = window.open_report()
    assert isinstance(dialog, ReportDialog)
    dialog.lang.setCurrentIndex(dialog.lang.findData("kk"))
    dialog.org.setText("Жас сайлаушылар лигасы")
    with qtbot.waitSignal(dialog.built, timeout=120000) as sig:
        dialog.build_button.click()
    info = sig.args[0]
    assert info.path.is_file() and info.pages >= 3 and info.lang == "kk"
    assert info.path.read_bytes().startswith(b"%PDF")
    assert dialog.document.pageCount() == info.pages
    saved = dialog.save_as(str(tmp_path / "copy.pdf"))
    assert saved is not None and saved.read_bytes() == info.path.read_bytes()
    assert dialog.open_button.isEnabled()
    assert dialog.title.placeholderText() == i18n.tr("report.default_title", "kk")


def test_forensics_page_draws_the_fingerprint_from_official_results(qtbot, hq, tmp_path) -> None:
    rng = random.Random(3)
    mapping = tmp_path / "map.toml"
    parties = ("nur_otan", "ak_zhol", "qhp", "auyl", "adal")
    mapping.write_text(
        '[station]\ncode = "uik"\nregion = "region"\n\n[lines]\nregistered = "reg"\nissued = "issued"\n'
        'in_boxes = "issued"\ninvalid = "inv"\n\n[parties]\n' + "".join(f'{p} = "{p}"\n' for p in parties),
        encoding="utf-8",
    )
    rows = ["uik;region;reg;issued;inv;" + ";".join(parties)]
    regions = ("KZ-ALA", "KZ-AST", "KZ-KAR", "KZ-PAV")
    for i in range(600):
        reg = rng.randint(500, 2500)
        issued = int(reg * rng.uniform(0.45, 0.75))
        inv = rng.randint(0, 20)
        valid = issued - inv
        shares = [0.5, 0.2, 0.15, 0.1]
        votes = [int(valid * s) for s in shares]
        votes.append(valid - sum(votes))
        rows.append(f"{1000 + i};{regions[i % 4]};{reg};{issued};{inv};" + ";".join(map(str, votes)))
    (tmp_path / "official.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    from db.official import import_official

    import_official(hq, tmp_path / "official.csv", mapping)
    page = ForensicsPage(hq)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    with qtbot.waitSignal(page.analysed, timeout=120000) as sig:
        page.run_button.click()
    result = sig.args[0]
    assert result.leader == "nur_otan"
    assert result.fingerprint.voters.sum() > 0
    assert page.map._image is not None
    text = page.text.toPlainText()
    # toPlainText() writes a no-break space as a plain one.
    assert i18n.tr("forensics.h.fingerprint") in text and "≥ " + formatter().pct(80, 0).replace("\u00a0", " ") in text
    # Every figure states its method, sample and uncertainty.
    from observer.forensics import figure_notes

    assert figure_notes(result.fingerprint)["sample"].split(";")[0] in text
    assert figure_notes(result.turnout)["method"].split(".")[0] in text
    grab = page.map.grab().toImage()
    # The heat map is drawn: some pixels are dark blue, not just the white background.
    dark = sum(
        1
        for x in range(0, grab.width(), 4)
        for y in range(0, grab.height(), 4)
        if grab.pixelColor(x, y).lightness() < 120
    )
    assert dark > 10
