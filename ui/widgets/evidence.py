"""Thumbnails of attached photos and videos with their fingerprint and EXIF time."""

from __future__ import annotations

from observer.i18n import tr
from observer.records import EvidenceInfo
from ui.qt import QAbstractItemView, QListWidget, QListWidgetItem, QPixmap, QSize, Qt, QWidget

THUMB = QSize(128, 128)


def describe_evidence(info: EvidenceInfo) -> str:
    """Short plain-text caption: file name, short SHA-256 and EXIF time."""
    lines = [info.original_name, tr("ui.evidence.sha", sha=info.sha256[:12])]
    lines.append(tr("ui.evidence.exif", time=info.exif_time) if info.exif_time else tr("ui.evidence.no_exif"))
    return "\n".join(lines)


class EvidenceList(QListWidget):
    """Icon view of evidence records; item data holds the evidence id."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(THUMB)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setWrapping(True)
        self.setGridSize(QSize(THUMB.width() + 90, THUMB.height() + 76))
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setMinimumHeight(THUMB.height() + 90)
        self.infos: list[EvidenceInfo] = []

    def set_evidence(self, infos: list[EvidenceInfo]) -> None:
        self.infos = list(infos)
        self.clear()
        for info in infos:
            item = QListWidgetItem(describe_evidence(info))
            pix = QPixmap()
            if info.thumbnail and pix.loadFromData(info.thumbnail):
                item.setIcon(pix)
            else:
                item.setText(tr("ui.evidence.video") + "\n" + describe_evidence(info))
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setToolTip(
                f"{info.original_name}\nSHA-256 {info.sha256}\n{info.media_type}, {info.size:,} B".replace(",", " ")
            )
            self.addItem(item)

    def selected_id(self) -> str | None:
        item = self.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None
