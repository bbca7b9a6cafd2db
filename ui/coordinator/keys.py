"""Trusted keys and the import log.

Every package is signed with its observer's Ed25519 key. The coordinator
approves (trusts) or revokes keys here, by fingerprint; packages signed by a
key nobody has approved yet are held, and "Release held packages" merges them
once the key is trusted. Below, the import log lists every package the HQ file
has seen and what happened to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from db.held import release_held
from db.merge import (
    PENDING,
    REVOKED,
    TRUSTED,
    KeyInfo,
    MergeReport,
    list_keys,
    revoke_key,
    set_trust_on_first_use,
    trust_on_first_use,
)
from db.services.keys import import_and_release, import_log, release_all, trust_and_release
from db.store import ElectionStore
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.package import KEY_ROLES
from ui.coordinator.text import hold_read_only, plain_labels, plain_tooltip
from ui.input_guard import ComboBox
from ui.operations import Operation, run_query
from ui.qt import (
    QAbstractItemView,
    QAbstractTableModel,
    QBrush,
    QCheckBox,
    QColor,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QModelIndex,
    QPersistentModelIndex,
    QPushButton,
    QSplitter,
    Qt,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ui.settings import Settings

KEY_COLUMNS = ("fingerprint", "label", "status", "role", "merged", "held", "decided")
LOG_COLUMNS = ("file", "outcome", "station", "signer", "fingerprint", "merged_at", "reason")
_STATUS_COLOURS = {TRUSTED: QColor(200, 230, 201), REVOKED: QColor(255, 205, 210), PENDING: QColor(255, 236, 179)}

Index = QModelIndex | QPersistentModelIndex


def group_fingerprint(fp: str) -> str:
    """Fingerprints are read aloud over the phone to check them: groups of four help.

    observer.signing already writes them grouped with dashes; an ungrouped one is grouped here.
    """
    if "-" in fp:
        return fp
    return "-".join(fp[i : i + 4] for i in range(0, len(fp), 4))


class ImportLogModel(QAbstractTableModel):
    """The ``packages`` table as plain tuples (tens of thousands of short rows fit in memory)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, str, str, str, str, str, str]] = []

    def set_rows(self, rows: list[tuple[str, str, str, str, str, str, str]]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(LOG_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(LOG_COLUMNS)
        ):
            return tr(f"coordui.keys.log.{LOG_COLUMNS[section]}")
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = LOG_COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = row[index.column()]
            if col == "outcome":
                return tr(f"coordui.outcome.{value}")
            if col == "fingerprint":
                return value[:16]
            return value
        if role == Qt.ItemDataRole.ToolTipRole and col in ("reason", "fingerprint", "file"):
            return plain_tooltip(row[index.column()]) or None
        return None


def _log_rows(store: ElectionStore) -> list[tuple[str, str, str, str, str, str, str]]:
    return [
        (
            e.file_name,
            e.outcome,
            e.station_code,
            e.signer_name,
            e.key_fingerprint,
            e.merged_at.astimezone().strftime("%Y-%m-%d %H:%M") if e.merged_at else "",
            e.reason,
        )
        for e in import_log(store)
    ]


class KeysPage(QWidget):
    changed = Signal()  # keys or merged data changed: other pages refresh

    def __init__(self, store: ElectionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._keys: list[KeyInfo] = []
        self.read_only = False  # set_read_only: a database role that may only read

        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.tofu = QCheckBox()
        self.tofu.setObjectName("trustOnFirstUse")
        self.tofu.setChecked(trust_on_first_use(store))
        self.table = QTableWidget(0, len(KEY_COLUMNS))
        self.table.setObjectName("keysTable")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        actions = self._build_actions()

        self.keys_box = QGroupBox()
        kl = QVBoxLayout(self.keys_box)
        kl.addWidget(self.intro)
        kl.addWidget(self.tofu)
        kl.addWidget(self.table, 1)
        kl.addLayout(actions)
        kl.addWidget(self.status)

        self.log_model = ImportLogModel(self)
        self.log = QTableView()
        self.log.setObjectName("importLog")
        self.log.setModel(self.log_model)
        self.log.verticalHeader().hide()
        self.log.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.log.horizontalHeader().setStretchLastSection(True)
        self.log.setAlternatingRowColors(True)
        self.log_box = QGroupBox()
        ll = QVBoxLayout(self.log_box)
        ll.addWidget(self.log)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.keys_box)
        split.addWidget(self.log_box)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.approve.clicked.connect(self.approve_selected)
        self.revoke.clicked.connect(self.revoke_selected)
        self.release.clicked.connect(self.release_selected)
        self.release_all_button.clicked.connect(self.release_all)
        self.role_combo.currentIndexChanged.connect(lambda _i: self._update_approve())
        self.import_button.clicked.connect(self._import_file)
        self.tofu.toggled.connect(self._tofu_toggled)
        plain_labels(self)
        self.retranslate()
        self.reload()

    def _build_actions(self) -> QVBoxLayout:
        self.label_edit = QLineEdit()
        self.label_edit.setObjectName("keyLabel")
        self.approve = QPushButton()
        self.approve.setObjectName("approveKey")
        self.revoke = QPushButton()
        self.revoke.setObjectName("revokeKey")
        self.release = QPushButton()
        self.release.setObjectName("releaseHeld")
        self.release_all_button = QPushButton()
        self.release_all_button.setObjectName("releaseAll")
        self.release_all_button.setEnabled(False)  # until the keys are read
        # Which role approving or importing gives a key: an observer's (station packages) or a district's.
        self.role_combo = ComboBox()
        self.role_combo.setObjectName("keyRole")
        for role in KEY_ROLES:
            self.role_combo.addItem("", role)
        self.import_button = QPushButton()
        self.status = QLabel()
        self.status.setObjectName("keysStatus")
        self.status.setWordWrap(True)
        # Two rows: deciding about the selected key; merging what keys hold and importing a list.
        decide = QHBoxLayout()
        decide.addWidget(self.label_edit, 1)
        for w in (self.role_combo, self.approve, self.revoke):
            decide.addWidget(w)
        release = QHBoxLayout()
        for w in (self.release, self.release_all_button):
            release.addWidget(w)
        release.addStretch()
        release.addWidget(self.import_button)
        actions = QVBoxLayout()
        actions.addLayout(decide)
        actions.addLayout(release)
        return actions

    # ---- data ----------------------------------------------------------------
    def reload(self) -> None:
        store = self.store
        run_query(self, lambda _ctx: (list_keys(store), _log_rows(store)), self._loaded)

    def _loaded(self, data: tuple[list[KeyInfo], list[tuple[str, str, str, str, str, str, str]]]) -> None:
        keys, log = data
        selected = self.selected_key()
        # A label being typed for the selected key stays (a reload may come from a change made elsewhere:
        # on a shared HQ, another coordinator's, polled).
        typed = self.label_edit.text() if selected is not None and self.label_edit.text() != selected.label else None
        self._keys = keys
        self.table.setRowCount(len(keys))
        for r, k in enumerate(keys):
            decided = ""
            if k.decided_at is not None:
                decided = f"{k.decided_by} · {k.decided_at.astimezone().strftime('%Y-%m-%d %H:%M')}".strip(" ·")
            cells = [
                group_fingerprint(k.fingerprint),
                k.label,
                tr(f"coordui.keys.status.{k.status}"),
                tr(f"package.role.{k.role}"),
                formatter(current_language()).integer(k.merged_packages),
                formatter(current_language()).integer(k.held_packages),
                decided,
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 0:
                    item.setData(Qt.ItemDataRole.UserRole, k.fingerprint)
                    item.setToolTip(tr("coordui.keys.public", key=k.public_key))
                if c == 2 and k.status in _STATUS_COLOURS:
                    item.setBackground(QBrush(_STATUS_COLOURS[k.status]))
                if c in (4, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        if selected is not None:
            for r, k in enumerate(keys):
                if k.fingerprint == selected.fingerprint:
                    self.table.selectRow(r)
        self.log_model.set_rows(log)
        self.log.resizeColumnsToContents()
        self.log.horizontalHeader().setStretchLastSection(True)
        self._selection_changed()
        now = self.selected_key()
        if typed is not None and selected is not None and now is not None and now.fingerprint == selected.fingerprint:
            self.label_edit.setText(typed)

    def selected_key(self) -> KeyInfo | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        row = rows.pop()
        return self._keys[row] if 0 <= row < len(self._keys) else None

    def select_fingerprint(self, fingerprint: str) -> bool:
        for r, k in enumerate(self._keys):
            if k.fingerprint == fingerprint:
                self.table.selectRow(r)
                return True
        return False

    def _selection_changed(self) -> None:
        k = self.selected_key()
        if k is not None:
            self.role_combo.blockSignals(True)
            self.role_combo.setCurrentIndex(max(self.role_combo.findData(k.role), 0))
            self.role_combo.blockSignals(False)
        self._update_approve()
        self.revoke.setEnabled(k is not None and k.status != REVOKED)
        held = sum(x.held_packages for x in self._keys if x.status == TRUSTED)
        self.release_all_button.setText(tr("coordui.keys.release_all", n=formatter(current_language()).integer(held)))
        self.release_all_button.setEnabled(held > 0)
        self.release.setEnabled(k is not None and k.status == TRUSTED and k.held_packages > 0)
        self.label_edit.setEnabled(k is not None)
        if k is not None:
            self.label_edit.setText(k.label)
        self._hold_read_only()

    def set_read_only(self, on: bool) -> None:
        """A role that may only read: keys and the import log are shown, no key can be trusted or revoked."""
        self.read_only = on
        self._hold_read_only()

    def _hold_read_only(self) -> None:
        if self.read_only:
            hold_read_only(
                self.approve,
                self.revoke,
                self.release,
                self.release_all_button,
                self.import_button,
                self.tofu,
                self.label_edit,
                self.role_combo,
            )

    def _update_approve(self) -> None:
        """Approving also changes a trusted key's role: enabled when either would change."""
        k = self.selected_key()
        self.approve.setEnabled(k is not None and (k.status != TRUSTED or k.role != self.role_combo.currentData()))
        self._hold_read_only()

    # ---- actions -------------------------------------------------------------
    def _decider(self) -> str:
        return Settings().observer_name or tr("coordui.keys.coordinator")

    def approve_selected(self) -> Operation[tuple[KeyInfo, MergeReport]] | None:
        """Trust the selected key with the chosen role and merge the packages it held (as ``keys trust``)."""
        k = self.selected_key()
        if k is None:
            return None
        store, label, who, role = self.store, self.label_edit.text(), self._decider(), self.role_combo.currentData()
        op: Operation[tuple[KeyInfo, MergeReport]] = Operation(
            self,
            lambda _c: trust_and_release(store, k.fingerprint, label, who, role=role),
            title=tr("coordui.keys.releasing"),
            cancellable=False,
        )
        op.success(self._approved)
        return op.run_in_background()

    def _approved(self, result: tuple[KeyInfo, MergeReport]) -> None:
        info, report = result
        counts = report.counts()
        self._after(
            tr(
                "coordui.keys.approved_released",
                fp=info.fingerprint[:16],
                role=tr(f"package.role.{info.role}"),
                merged=counts["merged"],
                refused=counts["refused"],
            )
        )

    def release_all(self) -> Operation[MergeReport]:
        """Merge every package held for a trusted key."""
        store = self.store
        op: Operation[MergeReport] = Operation(
            self, lambda _c: release_all(store), title=tr("coordui.keys.releasing"), cancellable=False
        )
        op.success(self._released)
        return op.run_in_background()

    def revoke_selected(self) -> Operation[KeyInfo] | None:
        k = self.selected_key()
        if k is None:
            return None
        store, who = self.store, self._decider()
        op: Operation[KeyInfo] = Operation(self, lambda _c: revoke_key(store, k.fingerprint, who), show_progress=False)
        op.success(lambda info: self._after(tr("coordui.keys.revoked", fp=info.fingerprint[:16])))
        return op.run_in_background()

    def release_selected(self) -> Operation[MergeReport] | None:
        k = self.selected_key()
        if k is None:
            return None
        store = self.store
        op: Operation[MergeReport] = Operation(
            self, lambda _c: release_held(store, k.fingerprint), title=tr("coordui.keys.releasing"), cancellable=False
        )
        op.success(self._released)
        return op.run_in_background()

    def _released(self, report: MergeReport) -> None:
        counts = report.counts()
        self._after(
            tr(
                "coordui.keys.released",
                merged=counts["merged"],
                refused=counts["refused"],
                duplicate=counts["duplicate"],
            )
        )

    def _import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, tr("coordui.keys.import"), "", tr("coordui.filter.keys"))
        if path:
            self.import_keys_file(Path(path))

    def import_keys_file(self, path: Path) -> Operation[tuple[list[KeyInfo], MergeReport]]:
        """Trust every key of the list with the chosen role, and merge the packages they held (as ``keys import``)."""
        store, who, role = self.store, self._decider(), self.role_combo.currentData()
        op: Operation[tuple[list[KeyInfo], MergeReport]] = Operation(
            self,
            lambda _c: import_and_release(store, path, who, role=role),
            title=tr("coordui.keys.releasing"),
            cancellable=False,
        )
        op.success(self._imported)
        return op.run_in_background()

    def _imported(self, result: tuple[list[KeyInfo], MergeReport]) -> None:
        keys, report = result
        counts = report.counts()
        self._after(
            tr("coordui.keys.imported_released", n=len(keys), merged=counts["merged"], refused=counts["refused"])
        )

    def _tofu_toggled(self, on: bool) -> None:
        store = self.store
        Operation(self, lambda _c: set_trust_on_first_use(store, on), show_progress=False).run_in_background()

    def _after(self, message: str) -> None:
        self.status.setText(message)
        self.reload()
        self.changed.emit()

    # ---- language --------------------------------------------------------------
    def retranslate(self) -> None:
        self.keys_box.setTitle(tr("coordui.keys.title"))
        self.log_box.setTitle(tr("coordui.keys.log_title"))
        self.intro.setText(tr("coordui.keys.intro"))
        self.tofu.setText(tr("coordui.keys.tofu"))
        self.label_edit.setPlaceholderText(tr("coordui.keys.label_hint"))
        self.approve.setText(tr("coordui.keys.approve"))
        self.revoke.setText(tr("coordui.keys.revoke"))
        self.release.setText(tr("coordui.keys.release"))
        self.role_combo.setToolTip(tr("coordui.keys.role_tip"))
        for i in range(self.role_combo.count()):
            self.role_combo.setItemText(i, tr(f"package.role.{self.role_combo.itemData(i)}"))
        held = sum(x.held_packages for x in self._keys if x.status == TRUSTED)
        self.release_all_button.setText(tr("coordui.keys.release_all", n=formatter(current_language()).integer(held)))
        self.import_button.setText(tr("coordui.keys.import"))
        self._hold_read_only()  # the read-only tip in the new language
        self.table.setHorizontalHeaderLabels([tr(f"coordui.keys.col.{c}") for c in KEY_COLUMNS])
        self.log_model.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(LOG_COLUMNS) - 1)
        if self._keys:
            for r, k in enumerate(self._keys):
                item = self.table.item(r, 2)
                if item is not None:
                    item.setText(tr(f"coordui.keys.status.{k.status}"))
