"""File pickers behind plain functions, so tests replace them instead of clicking native dialogs.

Each picker can be given a ``purpose`` (photos, export, csv, election, template, key):
it then opens in the folder the last picker of that purpose was left in, and
remembers the new one. Removable drives (a USB stick, a phone's card) are listed
in the side bar of Qt's own dialog (Linux; the Windows and macOS dialogs list them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ui.qt import QFileDialog, QMessageBox, QStorageInfo, QUrl, QWidget
from ui.settings import Settings

# Where desktops mount what is plugged in; on Windows every drive but the system one counts.
_REMOVABLE_ROOTS = ("/media/", "/run/media/", "/mnt/", "/Volumes/")


def removable_drives() -> list[Path]:
    """Mounted volumes that look like a USB stick or a card, ready and listed by root."""
    system = Path(os.environ.get("SystemDrive", "C:") + "\\") if sys.platform == "win32" else None
    found: list[Path] = []
    for volume in QStorageInfo.mountedVolumes():
        if not volume.isValid() or not volume.isReady():
            continue
        root = Path(volume.rootPath())
        text = str(root).replace("\\", "/") + "/"
        if sys.platform == "win32":
            if system is not None and root != system:
                found.append(root)
        elif text.startswith(_REMOVABLE_ROOTS):
            found.append(root)
    return sorted(set(found))


def _start(purpose: str | None, start: Path | None) -> Path | None:
    if start is None and purpose is not None:
        folder = Settings().last_folder(purpose)
        if folder is not None and folder.is_dir():
            return folder
    return start


def _remember(purpose: str | None, chosen: Path | None) -> None:
    if purpose is not None and chosen is not None:
        Settings().remember_folder(purpose, chosen if chosen.is_dir() else chosen.parent)


def _dialog(parent: QWidget | None, title: str, start: Path | None, filters: str = "") -> QFileDialog:
    dialog = QFileDialog(parent, title, str(start or ""), filters)
    if sys.platform not in ("win32", "darwin"):
        # Linux: Qt's own dialog, translated with the app and with the side bar below (a desktop's
        # portal dialog ignores both). Windows and macOS list plugged-in drives themselves.
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    places = [QUrl.fromLocalFile(str(Path.home()))]
    places += [QUrl.fromLocalFile(str(p)) for p in removable_drives()]
    dialog.setSidebarUrls(places)
    return dialog


def _run(dialog: QFileDialog) -> list[Path]:
    return [Path(n) for n in dialog.selectedFiles()] if dialog.exec() else []


def ask_open_file(
    parent: QWidget | None, title: str, filters: str, start: Path | None = None, *, purpose: str | None = None
) -> Path | None:
    dialog = _dialog(parent, title, _start(purpose, start), filters)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    chosen = next(iter(_run(dialog)), None)
    _remember(purpose, chosen)
    return chosen


def ask_open_files(
    parent: QWidget | None, title: str, filters: str, start: Path | None = None, *, purpose: str | None = None
) -> list[Path]:
    dialog = _dialog(parent, title, _start(purpose, start), filters)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
    chosen = _run(dialog)
    _remember(purpose, chosen[0] if chosen else None)
    return chosen


def ask_save_file(
    parent: QWidget | None, title: str, filters: str, start: Path | None = None, *, purpose: str | None = None
) -> Path | None:
    dialog = _dialog(parent, title, _start(purpose, start), filters)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    if start is not None and not start.is_dir():
        dialog.selectFile(start.name)
    chosen = next(iter(_run(dialog)), None)
    _remember(purpose, chosen)
    return chosen


def ask_folder(
    parent: QWidget | None, title: str, start: Path | None = None, *, purpose: str | None = None
) -> Path | None:
    dialog = _dialog(parent, title, _start(purpose, start))
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    chosen = next(iter(_run(dialog)), None)
    _remember(purpose, chosen)
    return chosen


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """A yes/no question; No is the default so a stray Enter destroys nothing."""
    answer = QMessageBox.question(
        parent,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes
