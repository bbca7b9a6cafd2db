"""Thumbnails of attached photos and videos with their fingerprint and EXIF time; a full-size view."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from observer.errors import BaqylauError
from observer.i18n import tr
from observer.records import EvidenceInfo
from ui.operations import show_error
from ui.qt import (
    QAbstractItemView,
    QDesktopServices,
    QDialog,
    QDialogButtonBox,
    QGuiApplication,
    QImageReader,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPixmap,
    QScrollArea,
    QSize,
    Qt,
    QUrl,
    QVBoxLayout,
    QWidget,
)

THUMB = QSize(128, 128)


def describe_evidence(info: EvidenceInfo) -> str:
    """Short plain-text caption: file name, short SHA-256 and EXIF time."""
    lines = [info.original_name, tr("ui.evidence.sha", sha=info.sha256[:12])]
    lines.append(tr("ui.evidence.exif", time=info.exif_time) if info.exif_time else tr("ui.evidence.no_exif"))
    return "\n".join(lines)


class PhotoViewer(QDialog):
    """One photo at the largest size the screen allows (never decoded larger), turned as the camera says."""

    def __init__(self, path: Path, info: EvidenceInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{info.original_name} — SHA-256 {info.sha256[:12]}…")
        col = QVBoxLayout(self)
        self.image = QLabel(self)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroller = QScrollArea(self)
        scroller.setWidgetResizable(True)
        scroller.setWidget(self.image)
        col.addWidget(scroller, 1)
        caption = QLabel(describe_evidence(info).replace("\n", " · "), self)
        caption.setTextFormat(Qt.TextFormat.PlainText)
        caption.setWordWrap(True)
        col.addWidget(caption)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)
        screen = QGuiApplication.primaryScreen()
        room = screen.availableGeometry().size() * 0.9 if screen is not None else QSize(1200, 700)
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)  # EXIF orientation, as the thumbnail
        size = reader.size()
        if size.isValid() and (size.width() > room.width() or size.height() - 120 > room.height()):
            box = QSize(room.width() - 40, room.height() - 120)
            reader.setScaledSize(size.scaled(box, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        if image.isNull():
            self.image.setText(tr("ui.evidence.unreadable"))
        else:
            self.image.setPixmap(QPixmap.fromImage(image))
        self.resize(min(room.width(), max(image.width() + 60, 480)), min(room.height(), image.height() + 140))

    def shown_size(self) -> QSize:
        pix = self.image.pixmap()
        return pix.size() if pix is not None and not pix.isNull() else QSize()


class EvidenceList(QListWidget):
    """Icon view of evidence records; item data holds the evidence id.

    With ``locate`` (the store's ``evidence_path``) a double-click or Enter shows a
    photo full size; a video opens in the system's player.
    """

    def __init__(self, parent: QWidget | None = None, locate: Callable[[EvidenceInfo], Path] | None = None) -> None:
        super().__init__(parent)
        self.locate = locate
        self.viewer: PhotoViewer | None = None
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
        self.itemActivated.connect(lambda _item: self.open_selected())

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
                + ("\n" + tr("ui.evidence.open_hint") if self.locate else "")
            )
            self.addItem(item)

    def selected_id(self) -> str | None:
        item = self.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def selected(self) -> EvidenceInfo | None:
        eid = self.selected_id()
        return next((i for i in self.infos if i.id == eid), None)

    def open_selected(self) -> None:
        info = self.selected()
        if info is None or self.locate is None:
            return
        try:
            path = self.locate(info)
        except BaqylauError as exc:  # a server HQ's copy refused (bytes not their SHA-256), the server gone
            show_error(self, exc)
            return
        if info.kind != "photo":
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
            return
        self.viewer = PhotoViewer(path, info, self)
        self.viewer.show()
