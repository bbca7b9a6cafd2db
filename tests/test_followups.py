"""Follow-ups: Qt's own strings in the user's language, sealed packages in the merge dialog,
the reused-photo flag (stations table) and report subsection, typed key settings, column reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from db import models as m
from db.merge import import_keys, merge_packages, set_trust_on_first_use
from db.package import export_station_package
from db.services.station_table import FLAG_REUSED
from db.store import ROLE_HQ, ElectionStore
from observer import i18n
from observer.errors import BaqylauError
from observer.i18n import tr
from observer.sealed import generate_org_keys, load_org_private, load_org_public, org_fingerprint
from observer.signing import KeyPair
from reports.build import build_report
from ui.app import make_application, qt_translations
from ui.coordinator.merge import MergeDialog
from ui.coordinator.stations import StationsPage, flag_text
from ui.coordinator.window import CoordinatorWindow
from ui.qt import QDialogButtonBox, QSettings, Qt
from ui.settings import Settings

pytestmark = pytest.mark.gui

# The Kazakh and Russian texts of Qt's standard Cancel button, from PySide6's qtbase_kk.qm / qtbase_ru.qm.
QT_CANCEL = {"kk": "Бас тарту", "ru": "Отмена", "en": "Cancel"}


# ---- 1. Qt's own strings -------------------------------------------------------------


def test_standard_buttons_follow_the_language(qtbot: Any) -> None:
    make_application()
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    qtbot.addWidget(box)
    cancel = box.button(QDialogButtonBox.StandardButton.Cancel)
    assert cancel.text() == QT_CANCEL["ru"]  # the default language, installed by make_application

    i18n.set_language("kk")
    qtbot.waitUntil(lambda: cancel.text() == QT_CANCEL["kk"], timeout=3000)
    assert qt_translations().language == "kk"
    # A dialog made after the switch is in Kazakh from the start.
    fresh = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    qtbot.addWidget(fresh)
    assert fresh.button(QDialogButtonBox.StandardButton.Cancel).text() == QT_CANCEL["kk"]

    i18n.set_language("en")
    qtbot.waitUntil(lambda: cancel.text() == QT_CANCEL["en"], timeout=3000)
    i18n.set_language("ru")
    qtbot.waitUntil(lambda: cancel.text() == QT_CANCEL["ru"], timeout=3000)


# ---- 4. typed settings ------------------------------------------------------------------


def test_org_key_paths_are_typed_and_keep_the_old_setting(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    # What the export page wrote before the typed properties existed.
    old = QSettings(str(path), QSettings.Format.IniFormat)
    old.setValue("export/org_public_key", str(tmp_path / "org-public.pem"))
    old.setValue("export/encrypt", "1")
    old.sync()
    settings = Settings(path)
    assert settings.org_public_key_path == tmp_path / "org-public.pem"
    assert settings.encrypt_exports is True
    assert settings.org_private_key_path is None

    settings.org_private_key_path = tmp_path / "org-private.pem"
    settings.encrypt_exports = False
    again = Settings(path)
    assert again.org_private_key_path == tmp_path / "org-private.pem"
    assert again.encrypt_exports is False
    again.org_public_key_path = None
    assert Settings(path).org_public_key_path is None


# ---- 2. sealed packages in the merge dialog --------------------------------------------------


def _sealed_package(tmp: Path, template: Any, recipient: Path, keys: KeyPair) -> Path:
    station = ElectionStore.create(tmp / "station.baqylau", template)
    try:
        station.set_observer("Айгүл Қасымова", "MISK")
        st = station.upsert_station("777", "KZ-ALA", "Алмалы", "", 1500)
        station.select_station(st.id)
        pid = station.protocol_id(st.id)
        station.set_protocol_value(pid, "registered", 1500)
        station.set_protocol_value(pid, "valid", 850)
        return export_station_package(station, tmp / "usb", keys, encrypt_to=load_org_public(recipient))
    finally:
        station.close()


def _merge(qtbot: Any, dialog: MergeDialog) -> None:
    with qtbot.waitSignal(dialog.merged, timeout=20000):
        dialog.merge_button.click()
    qtbot.waitUntil(lambda: dialog.merge_button.isEnabled())


def _reason(dialog: MergeDialog) -> str:
    item = dialog.results.item(0, 4)
    assert item is not None
    return item.text()


def test_merge_dialog_opens_sealed_packages_with_the_chosen_key(qtbot: Any, tmp_path: Path, template_2021: Any) -> None:
    org = generate_org_keys(tmp_path / "org")
    other = generate_org_keys(tmp_path / "other-org")
    keys = KeyPair.generate()
    sealed = _sealed_package(tmp_path, template_2021, org.public, keys)
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role=ROLE_HQ)
    trusted = tmp_path / "trusted.txt"
    trusted.write_text(f"{keys.public_hex} observer\n", encoding="utf-8")
    import_keys(hq, trusted, decided_by="test")
    try:
        dialog = MergeDialog(hq)
        qtbot.addWidget(dialog)
        dialog.add_paths([sealed.parent])
        assert dialog.org_key_label.text() == tr("followup.merge.org_key_none")

        # No key: refused, and the reason points at this dialog's button, not at a command-line option.
        _merge(qtbot, dialog)
        assert dialog.outcomes() == {sealed.name: "refused"}
        assert _reason(dialog) == tr("followup.merge.need_key", file=sealed.name)

        # Not a key file: refused at once, nothing remembered.
        junk = tmp_path / "notes.pem"
        junk.write_text("hello", encoding="utf-8")
        assert dialog.set_org_key(junk) is False
        assert dialog.org_key_label.text() == tr("rel.orgkey.bad", file=junk.name)
        assert Settings().org_private_key_path is None

        # Another organisation's key: the package says so (SealedError text in the outcome list).
        assert dialog.set_org_key(other.private) is True
        _merge(qtbot, dialog)
        assert dialog.outcomes() == {sealed.name: "refused"}
        wrong = load_org_private(other.private)
        assert _reason(dialog) == tr("rel.sealed.wrong_key", file=sealed.name, fingerprint=org_fingerprint(wrong))

        # A chosen key that has gone missing since: its own error in every sealed row.
        moved = tmp_path / "elsewhere.pem"
        other.private.rename(moved)
        _merge(qtbot, dialog)
        with pytest.raises(BaqylauError) as gone:
            load_org_private(other.private)
        assert _reason(dialog) == str(gone.value)
        assert hq.station_count() == 0  # nothing merged so far

        # The organisation's key: merged, and remembered for the next dialog.
        assert dialog.set_org_key(org.private) is True
        _merge(qtbot, dialog)
        assert dialog.outcomes() == {sealed.name: "merged"}
        assert [s.code for s in hq.stations()] == ["777"]
        assert Settings().org_private_key_path == org.private
        later = MergeDialog(hq)
        qtbot.addWidget(later)
        fingerprint = org_fingerprint(load_org_private(org.private))
        assert later.org_key_label.text() == tr(
            "followup.merge.org_key_shown", file=org.private.name, fingerprint=fingerprint
        )
        i18n.set_language("kk")
        later.retranslate()
        assert later.org_key_button.text() == "Ұйым кілті…"
    finally:
        hq.close()


# ---- 3. reused photos: stations table and report -----------------------------------------------


# The photo and package makers of the reuse tests (tests/ is on sys.path under pytest's default import mode).
from test_reuse import scene as _scene  # noqa: E402
from test_reuse import station_package as _package  # noqa: E402


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    out = {"original": tmp_path / "IMG_0001.jpg", "smaller": tmp_path / "photo_2021-01-10.jpg"}
    _scene(1).save(out["original"], "JPEG", quality=90)
    _scene(1).resize((800, 600)).save(out["smaller"], "JPEG", quality=35)  # what a messenger makes of it
    for i in range(3):
        out[f"other{i}"] = tmp_path / f"other{i}.jpg"
        _scene(100 + i).save(out[f"other{i}"], "JPEG", quality=85)
    return out


@pytest.fixture
def hq_reuse(tmp_path: Path, template_2021: Any, photos: dict[str, Path]) -> Iterator[ElectionStore]:
    """101 and 102 sent the same file; 103 a recompressed copy of it; 104 photos of its own."""
    packages = [
        _package(tmp_path, template_2021, "101", "Айгүл", [photos["original"], photos["other0"]]),
        _package(tmp_path, template_2021, "102", "Бауыржан", [photos["original"]]),
        _package(tmp_path, template_2021, "103", "Сәуле", [photos["smaller"]]),
        _package(tmp_path, template_2021, "104", "Данияр", [photos["other1"]]),
    ]
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role=ROLE_HQ)
    assert merge_packages(hq, packages, trust_new_keys=True).counts()["merged"] == 4
    yield hq
    hq.close()


def _row_of(page: StationsPage, code: str) -> Any:
    model = page.model
    for r in range(model.rowCount()):
        row = model.row_data(r)
        if row is not None and row.code == code:
            return row
    raise AssertionError(f"station {code} not in the table")


def test_stations_table_flags_reused_photos(qtbot: Any, hq_reuse: ElectionStore) -> None:
    page = StationsPage(hq_reuse)
    qtbot.addWidget(page)
    assert FLAG_REUSED not in _row_of(page, "101").flags  # nothing until the background scan is done
    op = page.scan_reused_evidence()
    with qtbot.waitSignal(op.finished, timeout=20000):
        pass
    assert op.outcome == "success"
    flagged = {code for code in ("101", "102", "103", "104") if FLAG_REUSED in _row_of(page, code).flags}
    assert flagged == {"101", "102", "103"}
    row = _row_of(page, "102")
    assert tr("followup.flag.reused") in flag_text(row)
    assert {p.kind for p in row.reused} == {"identical", "near"}

    # The tooltip of the flag names the other stations, their observers and the files.
    index = page.model.index(next(r for r in range(page.model.rowCount()) if page.model.station_id(r) == row.id), 7)

    tip = str(page.model.data(index, Qt.ItemDataRole.ToolTipRole))
    assert tr("followup.reuse.tip_title") in tip
    assert "101" in tip and "Айгүл" in tip and "103" in tip and "Сәуле" in tip
    assert "IMG_0001.jpg" in tip and "photo_2021-01-10.jpg" in tip
    assert tr("rel.reuse.identical") in tip

    page.reused.setChecked(True)
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)
    assert sorted(page.model.row_data(r).code for r in range(3)) == ["101", "102", "103"]  # type: ignore[union-attr]


def test_window_scans_on_open_and_after_a_merge(
    qtbot: Any, tmp_path: Path, template_2021: Any, photos: dict[str, Path]
) -> None:
    first = [
        _package(tmp_path, template_2021, "201", "Айгүл", [photos["other0"]]),
        _package(tmp_path, template_2021, "202", "Бауыржан", [photos["other2"]]),
    ]
    later = _package(tmp_path, template_2021, "203", "Сәуле", [photos["other0"]])  # 201's photo again
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role=ROLE_HQ)
    try:
        set_trust_on_first_use(hq, True)  # the merge through the dialog must not hold the new key
        assert merge_packages(hq, first).counts()["merged"] == 2
        window = CoordinatorWindow(hq)
        qtbot.addWidget(window)
        page = window.stations
        op = page.reuse_operation
        assert op is not None  # started by opening the window
        qtbot.waitUntil(lambda: op.outcome != "pending", timeout=20000)
        assert op.outcome == "success"
        assert FLAG_REUSED not in _row_of(page, "201").flags

        dialog = window.open_merge()
        dialog.add_paths([later])
        _merge(qtbot, dialog)
        assert dialog.outcomes() == {later.name: "merged"}
        qtbot.waitUntil(lambda: FLAG_REUSED in _row_of(page, "203").flags, timeout=20000)
        assert FLAG_REUSED in _row_of(page, "201").flags
        assert FLAG_REUSED not in _row_of(page, "202").flags
        window.close()
    finally:
        hq.close()


def _section_text(pdf: Path, heading: str, until: str) -> str:
    """The text from ``heading`` (not the table of contents' line) to ``until``."""
    text = "\n".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
    start = text.rfind(heading)
    assert start >= 0, heading
    end = text.find(until, start)
    return text[start : end if end > 0 else None]


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_report_lists_photos_submitted_for_more_than_one_station(
    hq_reuse: ElectionStore, tmp_path: Path, lang: str
) -> None:
    pdf = tmp_path / f"report-{lang}.pdf"
    build_report(hq_reuse, pdf, lang)
    section = _section_text(pdf, tr("followup.report.reuse", lang), tr("report.annex.disputed", lang))
    assert tr("followup.report.reuse_intro", lang, pairs=3, identical=1, near=2) in " ".join(section.split())
    for code in ("101", "102", "103"):
        assert code in section
    assert "104" not in section
    for name in ("Айгүл", "Бауыржан", "Сәуле", "IMG_0001.jpg"):
        assert name in section
    assert tr("followup.report.identical", lang) in section


def test_report_says_when_no_photo_was_reused(tmp_path: Path, template_2021: Any, photos: dict[str, Path]) -> None:
    packages = [
        _package(tmp_path, template_2021, "301", "Айгүл", [photos["other0"]]),
        _package(tmp_path, template_2021, "302", "Бауыржан", [photos["other1"]]),
    ]
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role=ROLE_HQ)
    try:
        merge_packages(hq, packages, trust_new_keys=True)
        pdf = tmp_path / "report.pdf"
        build_report(hq, pdf, "en")
    finally:
        hq.close()
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(str(pdf)).pages).split())
    assert tr("followup.report.reuse_none", "en") in text
    assert tr("followup.report.col.match", "en") not in text


# ---- 5. reading only the named columns ------------------------------------------------------


def test_iter_table_reads_only_the_named_columns(store: ElectionStore) -> None:
    sid = store.stations()[0].id
    rows = list(store.iter_table(m.Station, "code", "registered"))
    assert [(r.code, r.registered) for r in rows] == [("101", 1500)]
    assert rows[0]._fields == ("code", "registered")
    full = list(store.iter_table(m.Station))
    assert full[0].id == sid and full[0].created_at is not None
    with pytest.raises(KeyError):
        list(store.iter_table(m.Station, "no_such_column"))
