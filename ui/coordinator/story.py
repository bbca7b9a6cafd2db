"""A station's whole story, one double-click (or Enter) away from every coordinator table.

Read by :func:`db.services.station_story.station_story` in the background; shown
as a heading with the figures that matter (status, official and observed turnout,
the gap with its one sign) above tabs: protocol versions side by side with the
official figures and their photos (full size on Enter or double-click), turnout
reports, violations with severity, text and media, checklist answers, the
packages and their signers, decisions, and the audit log. "Previous" / "Next"
(Alt+Left / Alt+Right) walk the list the dialog was opened from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db.services.station_story import StationStory, station_story
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.regions import region_name
from ui.operations import Operation
from ui.qt import (
    QAbstractItemView,
    QBrush,
    QColor,
    QDialog,
    QEvent,
    QHBoxLayout,
    QHeaderView,
    QKeyEvent,
    QLabel,
    QObject,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
    is_alive,
)
from ui.widgets.evidence import EvidenceList

if TYPE_CHECKING:
    from db.store import ElectionStore

SECTIONS = ("protocols", "turnout", "violations", "checklist", "packages", "decisions", "audit")
_DIFF = QColor(255, 205, 210)
_COUNTED = QColor(200, 230, 201)


def _table(name: str) -> QTableWidget:
    table = QTableWidget()
    table.setObjectName(name)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setTabKeyNavigation(False)  # Tab leaves the table: the dialog stays keyboard navigable
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    table.setWordWrap(True)
    return table


def _fill(table: QTableWidget, headers: list[str], rows: list[list[str]]) -> None:
    table.clear()
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    table.resizeColumnsToContents()
    for c in range(table.columnCount() - 1):
        table.setColumnWidth(c, min(table.columnWidth(c), 320))


class StoryDialog(QDialog):
    """``StoryDialog(store, station_id, ids)``; ``ids``: the list it was opened from, for next / previous."""

    conflictRequested = Signal(str)  # station id: decide its versions on the conflicts tab
    loaded = Signal()

    def __init__(
        self, store: ElectionStore, station_id: str, ids: list[str] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("storyDialog")
        self.store = store
        self.story: StationStory | None = None
        self._generation = 0
        self.heading = QLabel()
        self.heading.setObjectName("storyHeading")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.heading.setWordWrap(True)
        self.sections = QTabWidget()
        self.tables = {name: _table(f"story_{name}") for name in SECTIONS}
        self.protocol_photos = EvidenceList(locate=store.evidence_path)
        self.protocol_photos.setObjectName("storyProtocolPhotos")
        self.violation_media = EvidenceList(locate=store.evidence_path)
        self.violation_media.setObjectName("storyViolationMedia")
        for name in SECTIONS:
            page = QWidget()
            col = QVBoxLayout(page)
            col.addWidget(self.tables[name], 2)
            if name == "protocols":
                col.addWidget(self.protocol_photos, 1)
            elif name == "violations":
                col.addWidget(self.violation_media, 1)
            self.sections.addTab(page, "")
        for widget in (self, self.sections, *self.tables.values(), self.protocol_photos, self.violation_media):
            widget.installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.sections, 1)
        layout.addLayout(self._build_buttons())
        self.resize(1200, 700)
        self.show_station(station_id, ids)

    def _build_buttons(self) -> QHBoxLayout:
        self.previous = QPushButton()
        self.previous.setObjectName("storyPrevious")
        self.previous.clicked.connect(lambda: self.step(-1))
        self.next = QPushButton()
        self.next.setObjectName("storyNext")
        self.next.clicked.connect(lambda: self.step(1))
        self.decide = QPushButton()
        self.decide.setObjectName("storyDecide")
        self.decide.clicked.connect(self._decide)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.close)
        row = QHBoxLayout()
        for button in (self.previous, self.next, self.decide):
            row.addWidget(button)
        row.addStretch()
        row.addWidget(self.close_button)
        return row

    # ---- which station ---------------------------------------------------------------
    def show_station(self, station_id: str, ids: list[str] | None = None) -> Operation[StationStory]:
        if ids is not None:
            self.ids = list(ids)
        elif not hasattr(self, "ids"):
            self.ids = [station_id]
        self.station_id = station_id
        self._generation += 1
        generation = self._generation
        store = self.store

        def done(story: StationStory) -> None:
            if is_alive(self) and generation == self._generation:
                self.story = story
                self.retranslate()
                self.loaded.emit()

        self.operation: Operation[StationStory] = Operation(
            self, lambda _ctx: station_story(store, station_id), show_progress=False, cancellable=False
        ).success(done)
        self._update_buttons()
        return self.operation.run_in_background()

    def step(self, delta: int) -> None:
        """Show the previous (-1) or next (+1) station of the list the dialog was opened from."""
        if self.station_id not in self.ids:
            return
        i = self.ids.index(self.station_id) + delta
        if 0 <= i < len(self.ids):
            self.show_station(self.ids[i])

    def _update_buttons(self) -> None:
        i = self.ids.index(self.station_id) if self.station_id in self.ids else -1
        self.previous.setEnabled(i > 0)
        self.next.setEnabled(0 <= i < len(self.ids) - 1)
        self.decide.setVisible(self.story is not None and self.story.status == "undecided")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Alt+Left / Alt+Right wherever the focus is: a table would take them as moves of its cursor.
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.modifiers() == Qt.KeyboardModifier.AltModifier and event.key() in (
                Qt.Key.Key_Left,
                Qt.Key.Key_Right,
            ):
                self.step(-1 if event.key() == Qt.Key.Key_Left else 1)
                return True
        return super().eventFilter(watched, event)

    def _decide(self) -> None:
        self.conflictRequested.emit(self.station_id)

    # ---- showing -------------------------------------------------------------------
    def retranslate(self) -> None:
        self.setWindowTitle(tr("coordui.story.title", code=self.story.code if self.story else "…"))
        for i, name in enumerate(SECTIONS):
            self.sections.setTabText(i, tr(f"coordui.story.tab.{name}"))
        self.previous.setText(tr("coordui.story.previous"))
        self.next.setText(tr("coordui.story.next"))
        self.previous.setToolTip("Alt+←")
        self.next.setToolTip("Alt+→")
        self.decide.setText(tr("coordui.story.decide"))
        self.close_button.setText(tr("coordui.story.close"))
        self._update_buttons()
        story = self.story
        if story is None or story.station_id != self.station_id:
            self.heading.setText(tr("coordui.story.loading"))
            return
        self.heading.setText(self._heading(story))
        self._fill_protocols(story)
        self._fill_rest(story)

    def _heading(self, s: StationStory) -> str:
        fmt = formatter(current_language())
        place = ", ".join(x for x in (region_name(s.region) if s.region else "", s.district, s.address) if x)
        return tr(
            "coordui.story.heading",
            code=s.code,
            place=place,
            registered=fmt.integer(s.registered),
            status=tr(f"coordui.story.status.{s.status}"),
            official=fmt.pct(s.official_pct),
            observed=fmt.pct(s.observed_pct),
            gap="—" if s.gap_pp is None else tr("coordui.story.gap", gap=fmt.pp(s.gap_pp)),
        )

    def _fill_protocols(self, s: StationStory) -> None:
        """One row per line: the official figure, then every observer's version; differing lines marked."""
        tpl = self.store.template
        fmt = formatter(current_language())
        keys = [k for k in tpl.all_keys if (s.official and k in s.official) or any(k in p.values for p in s.protocols)]
        headers = [tr("coordui.story.col.line"), tr("coordui.story.col.official")]
        for i, p in enumerate(s.protocols):
            mark = tr("coordui.story.counted") if p.counted else ""
            headers.append(tr("coordui.story.version", n=i + 1, observer=p.observer_name or "—", counted=mark).strip())
        rows = [
            [tpl.label(k), fmt.integer((s.official or {}).get(k))] + [fmt.integer(p.values.get(k)) for p in s.protocols]
            for k in keys
        ]
        rows.append(
            [tr("coordui.story.turnout_row"), fmt.pct(s.official_pct)] + [fmt.pct(p.turnout_pct) for p in s.protocols]
        )
        table = self.tables["protocols"]
        _fill(table, headers, rows)
        for r, key in enumerate(keys):
            for c in range(table.columnCount()):
                item = table.item(r, c)
                if item is None:
                    continue
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if key in s.differing_keys:
                    item.setBackground(QBrush(_DIFF))
                elif c >= 2 and s.protocols[c - 2].counted:
                    item.setBackground(QBrush(_COUNTED))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.protocol_photos.set_evidence([e for p in s.protocols for e in p.photos])

    def _fill_rest(self, s: StationStory) -> None:
        fmt = formatter(current_language())
        when = fmt.date_time

        def category(code: str) -> str:
            known = self.store.template.category(code)
            return known.labels.get() if known else code

        sections: dict[str, tuple[list[str], list[list[Any]]]] = {
            "turnout": (
                ["observer", "slot", "announced", "headcount"],
                [[t.observer_name, t.slot, fmt.integer(t.announced), fmt.integer(t.observed)] for t in s.turnout],
            ),
            "violations": (
                ["severity", "category", "observer", "at", "text"],
                [
                    [tr(f"coordui.story.severity.{v.severity}"), category(v.category), v.observer_name]
                    + [when(v.occurred_at), v.description]
                    for v in s.violations
                ],
            ),
            "checklist": (
                ["observer", "checklist", "question", "answer", "note"],
                [[o, c, q, a or "—", n] for o, c, q, a, n in s.checklist],
            ),
            "packages": (
                ["file", "signer", "key", "outcome", "at", "reason"],
                [
                    [p.file_name, p.signer_name, p.key_fingerprint[:16], tr(f"package.outcome.{p.outcome}")]
                    + [when(p.merged_at) if p.merged_at else "—", p.reason]
                    for p in s.packages
                ],
            ),
            "decisions": (
                ["status", "by", "at", "reason"],
                [
                    [tr(f"coordui.story.decision.{d.status}"), d.decided_by, when(d.decided_at), d.reason]
                    for d in s.decisions
                ],
            ),
            "audit": (
                ["at", "observer", "record", "action", "old", "new"],
                [
                    [when(a.at), a.observer_name, f"{a.record_table}.{a.field}", a.action, a.old or "—", a.new or "—"]
                    for a in s.audit
                ],
            ),
        }
        for name, (cols, rows) in sections.items():
            _fill(self.tables[name], [tr(f"coordui.story.col.{c}") for c in cols], rows)
        self.violation_media.set_evidence([e for v in s.violations for e in v.media])
