"""Conflict view: stations whose protocol versions disagree, side by side, and the decision.

The coordinator sees every version of a station's protocol in adjacent columns,
line by line, with the lines that differ highlighted; chooses one version or
marks the station disputed, always with a reason; and sees (and can change) the
history of decisions. Decisions are appended by :func:`db.conflicts.resolve_station`,
never overwritten, so the report can say who decided what and why.
"""

from __future__ import annotations

from typing import Literal

from db.conflicts import (
    STATUS_CHOSEN,
    STATUS_DISPUTED,
    ResolutionInfo,
    StationConflict,
    resolution_history,
    resolve_station,
    station_conflicts,
)
from db.store import ElectionStore
from observer.fmt import formatter
from observer.i18n import current_language, tr
from ui.coordinator.text import hold_read_only, plain_labels, plain_tooltip
from ui.operations import Operation, run_query
from ui.qt import (
    QAbstractItemView,
    QBrush,
    QButtonGroup,
    QCheckBox,
    QColor,
    QEvent,
    QFont,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QKeyEvent,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QObject,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
    is_alive,
)
from ui.settings import Settings
from ui.widgets.evidence import EvidenceList

_DIFF = QColor(255, 205, 210)
_CHOSEN = QColor(200, 230, 201)


def version_title(index: int, conflict: StationConflict) -> str:
    v = conflict.versions[index]
    who = v.observer_name or tr("coordui.conflicts.unknown_observer")
    return tr("coordui.conflicts.version", n=index + 1, observer=who, source=tr(f"coordui.source.{v.source}"))


class ConflictsPage(QWidget):
    """List of conflicting stations on the left, the chosen station's versions on the right."""

    decided = Signal(str)  # station id, after a decision was stored
    loaded = Signal()  # the list was (re)read
    storyRequested = Signal(str, list)  # station id, the listed stations (for next / previous)

    def __init__(self, store: ElectionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.read_only = False  # set_read_only: a database role that may only read
        self._conflicts: list[StationConflict] = []
        self._current: StationConflict | None = None
        self._history: list[ResolutionInfo] = []

        left = self._build_list()
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self._build_title())
        rl.addWidget(self.status)
        rl.addWidget(self._build_compare(), 1)
        rl.addWidget(self._build_decision())
        rl.addWidget(self._build_history())

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 3)
        split.setSizes([260, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self.station_list.currentRowChanged.connect(self._show_row)
        self.station_list.itemActivated.connect(
            lambda item: self.storyRequested.emit(
                item.data(Qt.ItemDataRole.UserRole), [c.station_id for c in self._conflicts]
            )
        )
        self.show_resolved.toggled.connect(lambda _c: self.reload())
        self.record.clicked.connect(self.record_decision)
        self.reason.textChanged.connect(lambda _t: self._update_record_enabled())
        self.decided_by.textChanged.connect(lambda _t: self._update_record_enabled())
        self.choices.buttonToggled.connect(lambda *_a: self._update_record_enabled())
        # Keyboard: 1..9 a version, D disputed, Enter records, then on to the next undecided station.
        self.reason.returnPressed.connect(self._enter)
        self.decided_by.returnPressed.connect(self._enter)
        for widget in (self.station_list, self.versions):
            widget.installEventFilter(self)
        plain_labels(self)
        self.retranslate()
        self.reload()

    def _build_list(self) -> QWidget:
        self.show_resolved = QCheckBox()
        self.show_resolved.setChecked(True)
        self.station_list = QListWidget()
        self.station_list.setObjectName("conflictStations")
        self.summary = QLabel()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.summary)
        ll.addWidget(self.show_resolved)
        ll.addWidget(self.station_list)
        return left

    def _build_title(self) -> QLabel:
        self.title = QLabel()
        self.title.setObjectName("conflictTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.versions = QTableWidget()
        self.versions.setObjectName("versionsTable")
        self.versions.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.versions.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.versions.setTabKeyNavigation(False)  # Tab moves on to the decision, not from cell to cell
        self.versions.verticalHeader().hide()
        self.versions.setWordWrap(True)
        return self.title

    def _build_compare(self) -> QTabWidget:
        """The versions side by side, and beside them (one Ctrl+Tab away) the photos of those protocols."""
        self.photos = EvidenceList(locate=self.store.evidence_path)
        self.photos.setObjectName("conflictPhotos")
        self.compare = QTabWidget()
        self.compare.addTab(self.versions, "")
        self.compare.addTab(self.photos, "")
        return self.compare

    def _fill_photos(self, c: StationConflict | None) -> None:
        """Each version's protocol photos, in version order (the caption says whose)."""
        infos = []
        if c is not None:
            by_protocol = {v.protocol_id: i for i, v in enumerate(c.versions)}
            found = [e for e in self.store.evidence(c.station_id) if e.protocol_id in by_protocol]
            infos = sorted(found, key=lambda e: by_protocol[e.protocol_id or ""])
        self.photos.set_evidence(infos)
        for row, info in enumerate(infos):
            item = self.photos.item(row)
            if item is not None and c is not None:
                index = next(i for i, v in enumerate(c.versions) if v.protocol_id == info.protocol_id)
                item.setText(version_title(index, c) + "\n" + item.text())
        self.compare.setTabText(1, tr("coordui.conflicts.photos", n=len(infos)))

    def _build_decision(self) -> QGroupBox:
        self.decision_box = QGroupBox()
        self.choices = QButtonGroup(self)
        self.choice_row = QHBoxLayout()
        self.disputed_choice = QRadioButton()
        self.reason = QLineEdit()
        self.reason.setObjectName("decisionReason")
        self.decided_by = QLineEdit(Settings().observer_name)
        self.decided_by.setObjectName("decidedBy")
        self.record = QPushButton()
        self.record.setObjectName("recordDecision")
        self.reason_label = QLabel()
        self.by_label = QLabel()
        reason_row = QHBoxLayout()
        reason_row.addWidget(self.reason_label)
        reason_row.addWidget(self.reason, 1)
        by_row = QHBoxLayout()
        by_row.addWidget(self.by_label)
        by_row.addWidget(self.decided_by, 1)
        by_row.addWidget(self.record)
        dl = QVBoxLayout(self.decision_box)
        dl.addLayout(self.choice_row)
        dl.addLayout(reason_row)
        dl.addLayout(by_row)
        return self.decision_box

    def _build_history(self) -> QGroupBox:
        self.history_box = QGroupBox()
        self.history = QTableWidget(0, 5)
        self.history.setObjectName("decisionHistory")
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.setTabKeyNavigation(False)
        self.history.horizontalHeader().setStretchLastSection(True)
        self.history.verticalHeader().hide()
        hl = QVBoxLayout(self.history_box)
        hl.addWidget(self.history)
        self.history.setFixedHeight(5 * self.fontMetrics().height() + 24)
        self.history_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        return self.history_box

    # ---- keyboard ------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The list and the table would take digits and letters as "jump to the item that starts so".
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) and self._decision_key(event):
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._decision_key(event):
            super().keyPressEvent(event)

    def _decision_key(self, event: QKeyEvent) -> bool:
        """1..9: that version; D: disputed; Enter: record. Then the reason field takes the typing."""
        if self._current is None or event.modifiers() not in (
            Qt.KeyboardModifier.NoModifier,
            Qt.KeyboardModifier.KeypadModifier,
        ):
            return False
        key = event.key()
        n = len(self._current.versions)
        if Qt.Key.Key_1 <= key <= Qt.Key.Key_9 and key - Qt.Key.Key_1 < n:
            self.choose(key - Qt.Key.Key_1)
        elif key == Qt.Key.Key_D:
            self.choose(None)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.record.isEnabled():
            self._enter()
            return True
        else:
            return False
        self.reason.setFocus()
        return True

    def _enter(self) -> None:
        if self.record.isEnabled():
            self.record_decision()

    # ---- loading -----------------------------------------------------------
    def reload(self, select_station: str | None = None) -> None:
        """Re-read the conflicts in the background; keeps the station selected when they arrive."""
        include = self.show_resolved.isChecked()

        def done(res: list[StationConflict]) -> None:
            if not is_alive(self):  # the window closed while the list was being read
                return
            # The selection at arrival, not at the call: a station picked meanwhile stays picked.
            typed = None if select_station else self._typed_decision()
            self._set_conflicts(res, select_station or (self._current.station_id if self._current else None))
            if typed is not None:
                self._restore_decision(*typed)

        run_query(self, lambda _ctx: station_conflicts(self.store, include_resolved=include), done)

    def _typed_decision(self) -> tuple[str, object, str] | None:
        """(station, the version or "disputed" picked, the reason typed) of a decision not yet recorded."""
        c = self._current
        button = self.choices.checkedButton()
        if c is None or (button is None and not self.reason.text()):
            return None
        picked = (
            None
            if button is None
            else ("disputed" if button is self.disputed_choice else button.property("protocol_id"))
        )
        return c.station_id, picked, self.reason.text()

    def _restore_decision(self, station_id: str, picked: object, reason: str) -> None:
        """A reload for a change made elsewhere (on a shared HQ: another coordinator's, polled) must not
        wipe the decision being typed here; it is kept if the same station is still shown."""
        if self._current is None or self._current.station_id != station_id:
            return
        for button in self.choices.buttons():
            mine = "disputed" if button is self.disputed_choice else button.property("protocol_id")
            if picked is not None and mine == picked:
                button.setChecked(True)
        self.reason.setText(reason)
        self._update_record_enabled()

    def load_now(self, select_station: str) -> bool:
        """Read the conflicts here and now and select ``select_station``; False if it has none.

        For a station double-clicked before this page was ever shown: the coordinator
        asked for it, and the list must not arrive after they looked away.
        """
        self._set_conflicts(
            station_conflicts(self.store, include_resolved=self.show_resolved.isChecked()), select_station
        )
        return self._current is not None and self._current.station_id == select_station

    def _set_conflicts(self, conflicts: list[StationConflict], keep: str | None) -> None:
        self._conflicts = conflicts
        self.station_list.blockSignals(True)
        self.station_list.clear()
        row_to_select = 0 if conflicts else -1
        for i, c in enumerate(conflicts):
            item = QListWidgetItem(self._list_text(c))
            item.setData(Qt.ItemDataRole.UserRole, c.station_id)
            if c.resolution is None:
                item.setBackground(QBrush(_DIFF))
            self.station_list.addItem(item)
            if c.station_id == keep:
                row_to_select = i
        self.station_list.blockSignals(False)
        unresolved = sum(1 for c in conflicts if c.resolution is None)
        self.summary.setText(tr("coordui.conflicts.summary", total=len(conflicts), unresolved=unresolved))
        self.station_list.setCurrentRow(row_to_select)
        if row_to_select < 0:
            self._show(None)
        self.loaded.emit()

    def _list_text(self, c: StationConflict) -> str:
        if c.resolution is None:
            state = tr("coordui.conflicts.state.open")
        elif c.resolution.status == STATUS_DISPUTED:
            state = tr("coordui.conflicts.state.disputed")
        else:
            state = tr("coordui.conflicts.state.chosen")
        return tr("coordui.conflicts.list_item", code=c.station_code, n=len(c.versions), state=state)

    def select_station(self, station_id: str) -> bool:
        for i, c in enumerate(self._conflicts):
            if c.station_id == station_id:
                self.station_list.setCurrentRow(i)
                return True
        return False

    def _show_row(self, row: int) -> None:
        self._show(self._conflicts[row] if 0 <= row < len(self._conflicts) else None)

    def _show(self, conflict: StationConflict | None) -> None:
        self._current = conflict
        self.decision_box.setEnabled(conflict is not None)
        self.history_box.setEnabled(conflict is not None)
        if conflict is None:
            self.title.setText(tr("coordui.conflicts.none"))
            self.status.clear()
            self.versions.clear()
            self.versions.setRowCount(0)
            self.versions.setColumnCount(0)
            self.history.setRowCount(0)
            self._rebuild_choices()
            self._fill_photos(None)
            return
        self.title.setText(tr("coordui.conflicts.station", code=conflict.station_code))
        self.status.setText(self._status_text(conflict))
        self._fill_versions(conflict)
        self._fill_photos(conflict)
        self._rebuild_choices()
        self._history = resolution_history(self.store, conflict.station_id)
        self._fill_history()

    def _status_text(self, c: StationConflict) -> str:
        res = c.resolution
        if res is None:
            return tr("coordui.conflicts.status.open", n=len(c.differing_keys))
        when = res.decided_at.astimezone().strftime("%Y-%m-%d %H:%M")
        if res.status == STATUS_DISPUTED:
            return tr("coordui.conflicts.status.disputed", who=res.decided_by, when=when, reason=res.reason)
        idx = next((i for i, v in enumerate(c.versions) if v.protocol_id == res.protocol_id), None)
        version = version_title(idx, c) if idx is not None else "?"
        return tr("coordui.conflicts.status.chosen", version=version, who=res.decided_by, when=when, reason=res.reason)

    def _fill_versions(self, c: StationConflict) -> None:
        """Column 0: the protocol line; then one column per version, differing cells highlighted."""
        tpl = self.store.template
        keys = [k for k in tpl.all_keys if any(k in v.values for v in c.versions)]
        keys += sorted({k for v in c.versions for k in v.values} - set(keys))
        self.versions.clear()
        self.versions.setColumnCount(len(c.versions) + 1)
        self.versions.setRowCount(len(keys))
        chosen_pid = c.resolution.protocol_id if c.resolution and c.resolution.status == STATUS_CHOSEN else None
        self.versions.setHorizontalHeaderItem(0, QTableWidgetItem(tr("coordui.conflicts.line")))
        for i, v in enumerate(c.versions):
            who = v.observer_name or tr("coordui.conflicts.unknown_observer")
            # Two lines: "Version 1" above the observer, so narrow columns keep the name readable.
            head = QTableWidgetItem(
                tr("coordui.conflicts.version_head", n=i + 1, observer=who, source=tr(f"coordui.source.{v.source}"))
            )
            tip = [version_title(i, c), tr("coordui.conflicts.organisation", org=v.organisation or "—")]
            if v.package_file:
                tip.append(tr("coordui.conflicts.package", file=v.package_file))
            if v.key_fingerprint:
                tip.append(tr("coordui.conflicts.fingerprint", fp=v.key_fingerprint))
            head.setToolTip(plain_tooltip("\n".join(tip)))
            self.versions.setHorizontalHeaderItem(i + 1, head)
        differing = set(c.differing_keys)
        bold = QFont(self.versions.font())
        bold.setBold(True)
        for row, key in enumerate(keys):
            try:
                label = tpl.label(key)
            except KeyError:
                label = key
            head = QTableWidgetItem(label)
            head.setToolTip(plain_tooltip(label))
            if key in differing:
                head.setFont(bold)
                head.setBackground(QBrush(_DIFF))
            self.versions.setItem(row, 0, head)
            for i, v in enumerate(c.versions):
                value = v.values.get(key)
                item = QTableWidgetItem(formatter(current_language()).integer(value))  # "—" when missing
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if key in differing:
                    item.setBackground(QBrush(_DIFF))
                    item.setFont(bold)
                    item.setData(Qt.ItemDataRole.UserRole, "differs")
                elif v.protocol_id == chosen_pid:
                    item.setBackground(QBrush(_CHOSEN))
                self.versions.setItem(row, i + 1, item)
        header = self.versions.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in range(len(c.versions)):
            header.setSectionResizeMode(i + 1, QHeaderView.ResizeMode.Interactive)
            self.versions.setColumnWidth(i + 1, 210)

    def version_column(self, observer: str) -> int:
        """Table column of the version typed by ``observer`` (versions start at column 1)."""
        for col in range(1, self.versions.columnCount()):
            head = self.versions.horizontalHeaderItem(col)
            if head is not None and observer in head.text():
                return col
        raise KeyError(observer)

    def _rebuild_choices(self) -> None:
        for b in list(self.choices.buttons()):
            self.choices.removeButton(b)
            if b is not self.disputed_choice:
                self.choice_row.removeWidget(b)
                b.deleteLater()
        self.choice_row.removeWidget(self.disputed_choice)
        c = self._current
        if c is not None:
            for i, v in enumerate(c.versions):
                rb = QRadioButton(tr("coordui.conflicts.choose", n=i + 1))
                rb.setObjectName(f"chooseVersion{i + 1}")
                rb.setProperty("protocol_id", v.protocol_id)
                self.choices.addButton(rb)
                self.choice_row.addWidget(rb)
        self.choices.addButton(self.disputed_choice)
        self.choice_row.addWidget(self.disputed_choice)
        self.choices.setExclusive(False)
        for b in self.choices.buttons():
            b.setChecked(False)
        self.choices.setExclusive(True)
        self.reason.clear()
        self._update_record_enabled()

    def _fill_history(self) -> None:
        c = self._current
        self.history.setRowCount(len(self._history))
        for row, res in enumerate(self._history):
            if res.status == STATUS_DISPUTED:
                what = tr("coordui.conflicts.state.disputed")
            else:
                idx = (
                    next((i for i, v in enumerate(c.versions) if v.protocol_id == res.protocol_id), None) if c else None
                )
                what = version_title(idx, c) if (c and idx is not None) else tr("coordui.conflicts.state.chosen")
            cells = [
                res.decided_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                what,
                res.decided_by,
                tr("coordui.conflicts.in_force") if row == 0 else "",
                res.reason,
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 4:
                    item.setToolTip(plain_tooltip(text))
                self.history.setItem(row, col, item)
        for col in range(4):
            self.history.resizeColumnToContents(col)
        self.history.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)

    # ---- deciding ----------------------------------------------------------
    def _update_record_enabled(self) -> None:
        if self.read_only:
            hold_read_only(self.record)
            return
        self.record.setEnabled(
            self._current is not None
            and self.choices.checkedButton() is not None
            and bool(self.reason.text().strip())
            and bool(self.decided_by.text().strip())
        )

    def set_read_only(self, on: bool) -> None:
        """A role that may only read: the versions and the history are shown, nothing can be decided."""
        self.read_only = on
        self._update_record_enabled()

    def choose(self, version_index: int | None) -> None:
        """Tick a version (0-based) or, with None, "disputed"; used by keyboard users and tests."""
        buttons = [b for b in self.choices.buttons() if b is not self.disputed_choice]
        (self.disputed_choice if version_index is None else buttons[version_index]).setChecked(True)

    def _next_undecided(self, after: str) -> str | None:
        """The first undecided station after ``after`` in the list's order (wrapping), None if none is left."""
        ids = [c.station_id for c in self._conflicts]
        start = ids.index(after) + 1 if after in ids else 0
        for c in self._conflicts[start:] + self._conflicts[:start]:
            if c.resolution is None and c.station_id != after:
                return c.station_id
        return None

    def record_decision(self) -> Operation[ResolutionInfo] | None:
        c = self._current
        button = self.choices.checkedButton()
        if c is None or button is None:
            return None
        disputed = button is self.disputed_choice
        pid = None if disputed else str(button.property("protocol_id"))
        status: Literal["chosen", "disputed"] = "disputed" if disputed else "chosen"
        reason = self.reason.text()
        by = self.decided_by.text()
        sid = c.station_id
        # The decision on screen: if another coordinator decided meanwhile, theirs is not overwritten unseen.
        seen = c.resolution.id if c.resolution is not None else None

        following = self._next_undecided(sid)

        def done(_res: ResolutionInfo) -> None:
            settings = Settings()
            if settings.observer_name != by.strip():
                settings.observer_name = by
            self.decided.emit(sid)
            # On to the next station nobody has decided: the keyboard user goes on with 1 / 2 / D.
            self.reload(select_station=following or sid)
            self.station_list.setFocus()

        def refused(_exc: BaseException) -> bool:
            self.reload(select_station=sid)  # e.g. decided meanwhile by another coordinator: show theirs
            return False  # and say why (the message box)

        self.record.setEnabled(False)
        op = Operation(
            self,
            lambda _ctx: resolve_station(
                self.store, sid, protocol_id=pid, status=status, reason=reason, decided_by=by, replaces=seen
            ),
            show_progress=False,
            cancellable=False,
        ).success(done)
        op.failure(refused)
        op.finished.connect(self._update_record_enabled)
        return op.run_in_background()

    # ---- language ----------------------------------------------------------
    def retranslate(self) -> None:
        self.compare.setTabText(0, tr("coordui.conflicts.versions_tab"))
        self.compare.setTabText(1, tr("coordui.conflicts.photos", n=self.photos.count()))
        self.show_resolved.setText(tr("coordui.conflicts.show_resolved"))
        self.decision_box.setTitle(tr("coordui.conflicts.decision_keys"))
        self.history_box.setTitle(tr("coordui.conflicts.history"))
        self.disputed_choice.setText(tr("coordui.conflicts.mark_disputed"))
        self.reason_label.setText(tr("coordui.conflicts.reason"))
        self.reason.setPlaceholderText(tr("coordui.conflicts.reason_hint"))
        self.by_label.setText(tr("coordui.conflicts.decided_by"))
        self.record.setText(tr("coordui.conflicts.record"))
        self._update_record_enabled()  # the read-only tip in the new language
        self.history.setHorizontalHeaderLabels(
            [tr(f"coordui.conflicts.hcol.{k}") for k in ("when", "what", "who", "state", "reason")]
        )
        if self._conflicts:
            for i, c in enumerate(self._conflicts):
                item = self.station_list.item(i)
                if item is not None:
                    item.setText(self._list_text(c))
            unresolved = sum(1 for c in self._conflicts if c.resolution is None)
            self.summary.setText(tr("coordui.conflicts.summary", total=len(self._conflicts), unresolved=unresolved))
        current = self._current
        keep_checked = self.choices.checkedButton()
        reason = self.reason.text()
        self._show(current)
        if keep_checked is not None and keep_checked in self.choices.buttons():
            keep_checked.setChecked(True)
        self.reason.setText(reason)
