"""File pickers behind plain functions, so tests replace them instead of clicking native dialogs."""

from __future__ import annotations

from pathlib import Path

from ui.qt import QFileDialog, QMessageBox, QWidget


def ask_open_file(parent: QWidget | None, title: str, filters: str, start: Path | None = None) -> Path | None:
    name, _ = QFileDialog.getOpenFileName(parent, title, str(start or ""), filters)
    return Path(name) if name else None


def ask_open_files(parent: QWidget | None, title: str, filters: str, start: Path | None = None) -> list[Path]:
    names, _ = QFileDialog.getOpenFileNames(parent, title, str(start or ""), filters)
    return [Path(n) for n in names]


def ask_save_file(parent: QWidget | None, title: str, filters: str, start: Path | None = None) -> Path | None:
    name, _ = QFileDialog.getSaveFileName(parent, title, str(start or ""), filters)
    return Path(name) if name else None


def ask_folder(parent: QWidget | None, title: str, start: Path | None = None) -> Path | None:
    name = QFileDialog.getExistingDirectory(parent, title, str(start or ""))
    return Path(name) if name else None


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
