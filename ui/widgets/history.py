"""A record's history (the audit log, who/when/before/after) and the list of deleted records to restore."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from observer.i18n import has, tr
from observer.records import AuditInfo
from observer.template import ElectionTemplate
from ui.qt import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

TIME_FORMAT = "%d.%m.%Y %H:%M:%S"
CREATED_FIELDS = ("occurred_at", "category", "severity", "description")
SHORT = 80


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SHORT else line[: SHORT - 1] + "…"


def local_time(at: datetime) -> str:
    return at.astimezone().strftime(TIME_FORMAT)


def _parse_utc(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


_FORM_NAMES = {"occurred_at": "time"}  # stored column -> the form's label


def field_label(field: str) -> str:
    """A violation field's name as its form shows it ("Category"), else the stored name."""
    key = f"ui.violations.{_FORM_NAMES.get(field, field)}"
    return tr(key).rstrip(":") if has(key) else field


def show_value(template: ElectionTemplate, field: str, value: str | None) -> str:
    """A logged value as the observer typed or picked it: times local, codes as their labels."""
    if value is None or value == "":
        return "—"
    if field in ("occurred_at", "deleted_at"):
        at = _parse_utc(value)
        return local_time(at) if at else value
    if field == "category":
        cat = template.category(value)
        return cat.labels.get() if cat else value
    if field == "severity" and has(f"ui.severity.{value}"):
        return tr(f"ui.severity.{value}")
    if field == "action" and has(f"ui.action.{value}"):
        return tr(f"ui.action.{value}")
    return value


def describe_change(template: ElectionTemplate, row: AuditInfo) -> tuple[str, str, str]:
    """(what, before, after) of one audit row, in the current language."""
    if row.action == "create":
        try:
            first = json.loads(row.new or "{}")
        except ValueError:
            first = {}
        # The fields that say what the record was when it was first saved; the rest is in the editor.
        shown = [
            f"{field_label(k)}: {_short(show_value(template, k, first[k]))}"
            for k in CREATED_FIELDS
            if first.get(k) not in (None, "")
        ]
        return tr("ui.history.created"), "", "\n".join(shown)
    if row.action in ("delete", "restore"):
        return tr(f"ui.history.{row.action}_{'file' if row.record_table == 'evidence' else 'record'}"), "", ""
    return (
        field_label(row.field),
        show_value(template, row.field, row.old),
        show_value(template, row.field, row.new),
    )


class HistoryDialog(QDialog):
    """Every logged change of one record, oldest first. Read-only; the log cannot be edited."""

    def __init__(self, template: ElectionTemplate, rows: list[AuditInfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("ui.history.title"))
        self.resize(980, 460)
        col = QVBoxLayout(self)
        self.hint = QLabel(tr("ui.history.hint"), self)
        self.hint.setWordWrap(True)
        self.hint.setObjectName("hint")
        col.addWidget(self.hint)
        self.table = QTableWidget(len(rows), 5, self)
        self.table.setHorizontalHeaderLabels(
            [tr(f"ui.history.col.{c}") for c in ("when", "who", "what", "before", "after")]
        )
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        for r, row in enumerate(rows):
            what, before, after = describe_change(template, row)
            when = local_time(row.at)
            if row.last_at != row.at:
                when = f"{when} – {row.last_at.astimezone().strftime('%H:%M:%S')}"
            for c, text in enumerate((when, row.who or "—", what, before, after)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
                self.table.setItem(r, c, item)
        # Row heights follow the columns' final widths (a one-off resize would use the first, narrow ones).
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        col.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)

    def cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item else ""


class DeletedDialog(QDialog):
    """Records deleted since the last export, each with a Restore button."""

    def __init__(
        self,
        title: str,
        entries: list[tuple[str, str]],  # (record id, one-line description)
        restore: Callable[[str], bool],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(640, 360)
        self._restore = restore
        col = QVBoxLayout(self)
        hint = QLabel(tr("ui.deleted.hint"), self)
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        col.addWidget(hint)
        self.table = QTableWidget(len(entries), 1, self)
        self.table.horizontalHeader().setVisible(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for r, (rid, text) in enumerate(entries):
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, rid)
            self.table.setItem(r, 0, item)
        col.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.restore_button = buttons.addButton(tr("ui.deleted.restore"), QDialogButtonBox.ButtonRole.ActionRole)
        self.restore_button.clicked.connect(self.restore_selected)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)
        if entries:
            self.table.selectRow(0)

    def restore_selected(self) -> None:
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 else None
        if item is not None and self._restore(item.data(Qt.ItemDataRole.UserRole)):
            self.table.removeRow(row)
