"""Export: the station package onto a folder or USB stick, signed with this installation's key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from db.store import ElectionStore, storage_error
from observer.errors import BaqylauError
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.review import MIN_REASON, REVIEW_META_KEY, review_json
from observer.sealed import load_org_public, org_fingerprint
from observer.signing import KeyPair
from ui.pages.base import Page, plain_label
from ui.pages.review import current_items
from ui.qt import QApplication, QGroupBox, QHBoxLayout, QLineEdit, QPushButton, Qt, QVBoxLayout, QWidget, Signal
from ui.settings import Settings
from ui.widgets.dialogs import ask_folder, ask_open_file
from ui.widgets.fields import WrapCheck
from ui.widgets.messages import post_error, post_info


class ExportPage(Page):
    title_key = "ui.nav.export"

    review_requested = Signal()  # open items: the window shows the review before anything is written

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(store, settings, parent)
        self.last_package: Path | None = None
        self._result_text: Callable[[], str] | None = None  # the result, rendered again in a new language
        col = QVBoxLayout(self.body)
        col.setContentsMargins(0, 0, 0, 0)
        self.hint = plain_label()
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        col.addWidget(self.hint)

        self.summary_box = QGroupBox(self.body)
        sc = QVBoxLayout(self.summary_box)
        self.summary = plain_label()
        self.summary.setWordWrap(True)
        sc.addWidget(self.summary)
        self.review_state = plain_label()
        self.review_state.setWordWrap(True)
        sc.addWidget(self.review_state)
        col.addWidget(self.summary_box)

        self.folder_box = QGroupBox(self.body)
        fc = QVBoxLayout(self.folder_box)
        row = QHBoxLayout()
        self.folder = QLineEdit(self.folder_box)
        self.browse = QPushButton(self.folder_box)
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse)
        fc.addLayout(row)
        # The "encrypt for the organisation" switch: its text is long (Russian) and wraps; the key
        # below it counts only while it is on.
        self.seal_box = WrapCheck(self.folder_box)
        self.seal_box.setChecked(settings.encrypt_exports)
        fc.addWidget(self.seal_box)
        self.seal_row = QWidget(self.folder_box)
        seal_row = QHBoxLayout(self.seal_row)
        seal_row.setContentsMargins(24, 0, 0, 0)
        self.org_key_label = plain_label()
        self.org_key_label.setWordWrap(True)
        self.org_key_button = QPushButton(self.seal_row)
        seal_row.addWidget(self.org_key_label, 1)
        seal_row.addWidget(self.org_key_button)
        self.seal_row.setEnabled(settings.encrypt_exports)
        self.seal_box.toggled.connect(self.seal_row.setEnabled)
        fc.addWidget(self.seal_row)
        self.export_button = QPushButton(self.folder_box)
        self.export_button.setObjectName("primary")
        self.export_button.setMinimumHeight(48)
        fc.addWidget(self.export_button)
        self.result = plain_label()
        self.result.setObjectName("result")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        fc.addWidget(self.result)
        col.addWidget(self.folder_box)

        self.key_box = QGroupBox(self.body)
        kc = QVBoxLayout(self.key_box)
        self.key_label = plain_label()
        self.key_label.setWordWrap(True)
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        kc.addWidget(self.key_label)
        col.addWidget(self.key_box)
        col.addStretch(1)

        if settings.export_dir:
            self.folder.setText(str(settings.export_dir))
        self.browse.clicked.connect(self._choose_folder)
        self.org_key_button.clicked.connect(self._choose_org_key)
        self.seal_box.toggled.connect(self._remember_encrypt)
        self.export_button.clicked.connect(self.export_clicked)
        self.retranslate()
        self.refresh()

    def retranslate(self) -> None:
        super().retranslate()
        self.hint.setText(tr("ui.export.hint"))
        self.summary_box.setTitle(tr("ui.export.summary"))
        self.folder_box.setTitle(tr("ui.export.folder"))
        self.folder.setPlaceholderText(tr("ui.export.folder_hint"))
        self.browse.setText(tr("ui.export.browse"))
        self.export_button.setText(tr("ui.export.button"))
        self.seal_box.setText(tr("rel.ui.encrypt"))
        self.org_key_button.setText(tr("rel.ui.choose_key"))
        self._show_org_key()
        self.key_box.setTitle(tr("ui.export.key"))
        self._show_key()
        self._show_summary()
        if self._result_text is not None:
            self.result.setText(self._result_text())

    def refresh(self) -> None:
        super().refresh()
        self._show_summary()

    def _show_summary(self) -> None:
        st = self.station
        if st is None:
            self.summary.setText("")
            self.review_state.setText("")
            return
        open_items = len(current_items(self.store))
        self.review_state.setText(
            tr("review.ui.summary_open", count=formatter(current_language()).integer(open_items))
            if open_items
            else tr("review.ui.summary_clean")
        )
        self.review_state.setStyleSheet("font-weight: bold; color: #b3261e;" if open_items else "color: #2e7d32;")
        obs = self.store.observer()
        self.summary.setText(
            tr(
                "ui.export.summary_text",
                code=st.code,
                observer=obs.name if obs and obs.name else "—",
                count=self.store.headcount(st.id),
                violations=len(self.store.violations(st.id)),
                files=len(self.store.evidence(st.id)),
            )
        )

    def _keys(self) -> KeyPair | None:
        from observer.signing import load_or_create_keypair

        try:
            return load_or_create_keypair()
        except (BaqylauError, OSError) as exc:
            post_error(str(exc))
            return None

    def _show_key(self) -> None:
        keys = self._keys()
        fingerprint = getattr(keys, "fingerprint", None)
        self.key_label.setText(
            tr("ui.export.fingerprint", fingerprint=fingerprint) if fingerprint else tr("ui.export.no_key")
        )

    def _org_key_path(self) -> Path | None:
        return self.settings.org_public_key_path

    def _remember_encrypt(self, on: bool) -> None:
        self.settings.encrypt_exports = on

    def _show_org_key(self) -> None:
        path = self._org_key_path()
        if path is None:
            self.org_key_label.setText(tr("rel.ui.org_key"))
            return
        try:
            fingerprint = org_fingerprint(load_org_public(path))
        except BaqylauError as exc:
            self.org_key_label.setText(str(exc))
            return
        self.org_key_label.setText(f"{path.name}\n" + tr("rel.ui.org_key_shown", fingerprint=fingerprint))

    def _choose_org_key(self) -> None:
        path = ask_open_file(self, tr("rel.ui.org_key"), "PEM (*.pem);;* (*)", self._org_key_path())
        if path is not None:
            self.set_org_key(path)

    def set_org_key(self, path: Path) -> bool:
        """Check and remember the organisation's public key file; False (after saying why) if it is not one."""
        try:
            load_org_public(path)
        except BaqylauError as exc:
            post_error(str(exc))
            return False
        self.settings.org_public_key_path = path
        self.seal_box.setChecked(True)
        self._show_org_key()
        return True

    def _choose_folder(self) -> None:
        start = Path(self.folder.text()) if self.folder.text().strip() else None
        folder = ask_folder(self, tr("ui.export.folder"), start)
        if folder is not None:
            self.folder.setText(str(folder))

    def export_clicked(self) -> None:
        text = self.folder.text().strip()
        if not text:
            post_error(tr("ui.export.no_folder"))
            return
        self.export_to(Path(text))

    def export_to(self, folder: Path, reason: str | None = None) -> Path | None:
        """Write the package into ``folder``; returns its path, or None after showing why not.

        With open review items nothing is written unless ``reason`` says why the
        observer exports anyway; the reason and the items go into the package.
        """
        from db import package

        if not folder.is_dir():
            post_error(tr("ui.export.not_folder", folder=str(folder)))
            return None
        keys = self._keys()
        if keys is None:
            return None
        recipient = None
        if self.seal_box.isChecked():
            key_path = self._org_key_path()
            if key_path is None:
                post_error(tr("rel.ui.no_org_key"))
                return None
            try:
                recipient = load_org_public(key_path)
            except BaqylauError as exc:
                post_error(str(exc))
                return None
        items = current_items(self.store)
        if items and reason is None:
            post_error(tr("review.ui.stopped", count=len(items)))
            self.review_requested.emit()
            return None
        reason = (reason or "").strip()
        if items and len(reason) < MIN_REASON:
            post_error(tr("review.ui.need_reason", min=MIN_REASON))
            self.review_requested.emit()
            return None
        # The station file's meta travels in the package's snapshot: the coordinator sees the review.
        review = review_json(items, reason if items else "", datetime.now(UTC), current_language())
        try:
            self.store.set_meta(REVIEW_META_KEY, review)
        except BaqylauError as exc:
            post_error(str(exc))
            return None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            path: Path = package.export_station_package(self.store, folder, keys, encrypt_to=recipient)
        except BaqylauError as exc:
            self._result_text = exc.__str__
            self.result.setText(str(exc))
            post_error(str(exc))
            return None
        except OSError as exc:  # a stick pulled out mid-write, a full or read-only stick
            err = storage_error(exc, folder)
            self._result_text = err.__str__
            self.result.setText(str(err))
            post_error(str(err))
            return None
        finally:
            QApplication.restoreOverrideCursor()
        self.settings.export_dir = folder
        self.last_package = path
        done = {
            "name": path.name,
            "size": formatter(current_language()).file_size(path.stat().st_size),
            "folder": str(folder),
            "fingerprint": getattr(keys, "fingerprint", "—"),
        }
        anyway = len(items)

        def result_text() -> str:  # again in the current language after a switch
            text = tr("ui.export.done", **done)
            return text + "\n" + tr("review.ui.exported_anyway", count=anyway) if anyway else text

        self._result_text = result_text
        text = self._result_text()
        self.result.setText(text)
        post_info(text)
        self._show_key()
        return path
