"""Fast triage: drop packages on the window to merge them; trusting keys releases the packages they hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.merge import list_keys, trust_key
from db.store import ROLE_HQ, ElectionStore
from observer.i18n import tr
from observer.signing import KeyPair
from tests.ui.test_coordinator_merge import BASE, make_package
from ui.coordinator.merge import MergeDialog
from ui.coordinator.window import CoordinatorWindow
from ui.qt import QApplication, QDragEnterEvent, QDropEvent, QMimeData, QPointF, Qt, QUrl

pytestmark = pytest.mark.gui


@pytest.fixture
def hq(tmp_path: Path, template_2021):
    store = ElectionStore.create(tmp_path / "hq.baqylau", template_2021, role=ROLE_HQ)
    yield store
    store.close()


@pytest.fixture
def window(qtbot, hq):
    w = CoordinatorWindow(hq)
    qtbot.addWidget(w)
    w.show()
    return w


def _drop(target, paths: list[Path]) -> bool:
    """A real drag entering ``target`` and the drop, as the window system delivers them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(target.width() / 2, target.height() / 2)
    enter = QDragEnterEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def _packages(tmp: Path, template, n: int) -> tuple[list[KeyPair], list[Path]]:
    """``n`` stations' packages, each signed by its own observer's key (a key signs for one observer)."""
    keys = [KeyPair.generate() for _ in range(n)]
    return keys, [
        make_package(tmp, f"s{i}", f"{101 + i}", f"Observer {i}", k, template, BASE) for i, k in enumerate(keys)
    ]


def test_dropping_a_folder_on_the_window_merges_it(qtbot, window, hq, tmp_path, template_2021) -> None:
    keys, packages = _packages(tmp_path, template_2021, 2)
    for k in keys:
        trust_key(hq, k.public_hex, "stick", "test")
    # A USB stick is a folder: the drop merges everything under it.
    dialog: MergeDialog | None = None
    with qtbot.waitSignal(window.dataChanged, timeout=20000):
        assert _drop(window, [tmp_path / "out"])
        dialog = next(d for d in window._dialogs if isinstance(d, MergeDialog))
    assert dialog is not None
    assert dialog.outcomes() == {p.name: "merged" for p in packages}
    assert {s.code for s in hq.stations()} == {"101", "102"}
    qtbot.waitUntil(lambda: window.stations.model.rowCount() == 2)

    # Files dropped on the open dialog join its list; plain text (no files) is not taken.
    (tmp_path / "second").mkdir()
    _, more = _packages(tmp_path / "second", template_2021, 1)
    assert _drop(dialog, more)
    assert more[0] in dialog.chosen_paths()
    text = QMimeData()
    text.setText("not a file")
    enter = QDragEnterEvent(
        QPointF(dialog.rect().center()),
        Qt.DropAction.CopyAction,
        text,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(dialog, enter)
    assert not enter.isAccepted()


def test_importing_the_key_list_releases_held_packages_with_the_chosen_role(
    qtbot, window, hq, tmp_path, template_2021
) -> None:
    keys, packages = _packages(tmp_path, template_2021, 3)
    dialog = window.open_merge()
    dialog.add_paths([tmp_path / "out"])
    with qtbot.waitSignal(dialog.merged, timeout=20000):
        dialog.merge_button.click()
    assert set(dialog.outcomes().values()) == {"held"}
    page = window.show_tab("keys")
    qtbot.waitUntil(lambda: page.table.rowCount() == 3)

    key_list = tmp_path / "keys.txt"
    key_list.write_text("".join(f"{k.public_hex} district office\n" for k in keys), encoding="utf-8")
    page.role_combo.setCurrentIndex(page.role_combo.findData("district"))
    with qtbot.waitSignal(window.dataChanged, timeout=20000):
        page.import_keys_file(key_list)
    infos = list_keys(hq)
    assert {(i.status, i.role, i.held_packages, i.merged_packages) for i in infos} == {("trusted", "district", 0, 1)}
    assert len(infos) == len(packages)
    assert page.status.text() == tr("coordui.keys.imported_released", n=3, merged=len(packages), refused=0)
    assert {s.code for s in hq.stations()} == {"101", "102", "103"}
    qtbot.waitUntil(
        lambda: page.table.item(0, 3) is not None and page.table.item(0, 3).text() == tr("package.role.district")
    )


def test_release_all_merges_what_keys_trusted_elsewhere_hold(qtbot, window, hq, tmp_path, template_2021) -> None:
    keys, packages = _packages(tmp_path, template_2021, 2)
    dialog = window.open_merge()
    dialog.add_paths([tmp_path / "out"])
    with qtbot.waitSignal(dialog.merged, timeout=20000):
        dialog.merge_button.click()
    for k in keys:
        trust_key(hq, k.public_hex, "by the command line", "cli")  # trusted, but nothing released yet
    page = window.show_tab("keys")
    qtbot.waitUntil(lambda: page.release_all_button.isEnabled())
    assert page.release_all_button.text() == tr("coordui.keys.release_all", n=2)
    with qtbot.waitSignal(window.dataChanged, timeout=20000):
        qtbot.mouseClick(page.release_all_button, Qt.MouseButton.LeftButton)
    assert [k.merged_packages for k in list_keys(hq)] == [1, 1]
    qtbot.waitUntil(lambda: not page.release_all_button.isEnabled())
    assert page.release_all_button.text() == tr("coordui.keys.release_all", n=0)
