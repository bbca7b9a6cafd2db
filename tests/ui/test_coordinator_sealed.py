"""Sealed (encrypted) packages in the coordinator's merge dialog, and the typed key settings it keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from db.merge import import_keys
from db.package import export_station_package
from db.store import ROLE_HQ, ElectionStore
from observer import i18n
from observer.errors import BaqylauError
from observer.i18n import tr
from observer.sealed import generate_org_keys, load_org_private, load_org_public, org_fingerprint
from observer.signing import KeyPair
from ui.coordinator.merge import MergeDialog
from ui.qt import QSettings
from ui.settings import Settings

pytestmark = pytest.mark.gui


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
        assert dialog.org_key_label.text() == tr("coordui.merge.org_key_none")

        # No key: refused, and the reason points at this dialog's button, not at a command-line option.
        _merge(qtbot, dialog)
        assert dialog.outcomes() == {sealed.name: "refused"}
        assert _reason(dialog) == tr("coordui.merge.need_key", file=sealed.name)

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
            "coordui.merge.org_key_shown", file=org.private.name, fingerprint=fingerprint
        )
        i18n.set_language("kk")
        later.retranslate()
        assert later.org_key_button.text() == "Ұйым кілті…"
    finally:
        hq.close()
