"""The final protocol: every line and party, both sources, control relations checked live."""

from __future__ import annotations

from pathlib import Path

from db.store import ElectionStore
from observer.checks import Status, involved_keys, run_checks
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.plausibility import DayFigures, protocol_findings
from observer.records import PROTOCOL_SOURCES
from ui.pages.base import Page, plain_label
from ui.pages.review import day_figures, warning_label
from ui.qt import (
    QButtonGroup,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from ui.settings import Settings
from ui.widgets.comparison import ComparisonView
from ui.widgets.dialogs import ask_open_files, confirm
from ui.widgets.evidence import EvidenceList
from ui.widgets.fields import IntField
from ui.widgets.messages import attempt, succeeded

STATUS_MARK = {Status.OK: "✓", Status.FAILED: "✗", Status.INCOMPLETE: "…"}


class ProtocolPage(Page):
    title_key = "ui.nav.protocol"

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(store, settings, parent)
        self.source = PROTOCOL_SOURCES[0]
        self._pids: dict[str, str] = {}
        self._context = DayFigures()  # the other pages' figures, for the cross-checks
        row = QHBoxLayout(self.body)
        row.setContentsMargins(0, 0, 0, 0)
        self._build_switch()
        # The comparison's columns need the room more than the lines' labels, which wrap.
        row.addLayout(self._build_lines(), 2)
        row.addLayout(self._build_side(), 3)
        self.add_photo.clicked.connect(self._choose_photos)
        self.remove_photo.clicked.connect(self._remove_photo)
        self.retranslate()
        self.refresh()

    def _build_switch(self) -> None:
        """The posted-copy / as-announced switch and the comparison's summary, above the scrolling form."""
        switch = QHBoxLayout()
        self.source_caption = plain_label()
        switch.addWidget(self.source_caption)
        self.source_group = QButtonGroup(self)
        self.source_buttons: dict[str, QPushButton] = {}
        for source in PROTOCOL_SOURCES:
            button = QPushButton(self.body)
            button.setCheckable(True)
            self.source_group.addButton(button)
            self.source_buttons[source] = button
            button.clicked.connect(lambda _checked=False, s=source: self.set_source(s))
            switch.addWidget(button)
        self.source_buttons[self.source].setChecked(True)
        self.comparison = ComparisonView(self.body)
        switch.addWidget(self.comparison.summary, 1)
        # Above the scrolling form: the switch and the comparison's summary stay in sight.
        outer = self.layout()
        assert isinstance(outer, QVBoxLayout)
        outer.insertLayout(outer.indexOf(self.scroller), switch)

    def _build_lines(self) -> QVBoxLayout:
        """The protocol's lines, then the parties, each with its field, problem and warning."""
        tpl = self.store.template
        left = QVBoxLayout()
        self.lines_box = QGroupBox(self.body)
        grid = QGridLayout(self.lines_box)
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(2)
        self.fields: dict[str, IntField] = {}
        self.labels: dict[str, QLabel] = {}
        self.problems: dict[str, QLabel] = {}
        self.warnings: dict[str, QLabel] = {}
        r = 0
        for item in tpl.lines:
            self._add_row(grid, r, item.key, item.number)
            r += 1
        self.parties_caption = plain_label()
        self.parties_caption.setStyleSheet("font-weight: bold; padding-top: 8px;")
        grid.addWidget(self.parties_caption, 2 * r, 0, 1, 3)
        r += 1
        for party in tpl.parties:
            self._add_row(grid, r, party.key, "")
            r += 1
        left.addWidget(self.lines_box)
        left.addStretch(1)
        return left

    def _build_side(self) -> QVBoxLayout:
        """The comparison of the versions, the control relations and the protocol's photos."""
        right = QVBoxLayout()
        right.addWidget(self.comparison)
        self.checks_box = QGroupBox(self.body)
        checks_col = QVBoxLayout(self.checks_box)
        self.check_labels: list[QLabel] = []
        for _ in self.store.template.checks:
            label = plain_label()
            label.setWordWrap(True)
            checks_col.addWidget(label)
            self.check_labels.append(label)
        self.turnout_label = plain_label()
        self.turnout_label.setObjectName("hint")
        self.turnout_label.setWordWrap(True)
        checks_col.addWidget(self.turnout_label)
        right.addWidget(self.checks_box)
        self.photos_box = QGroupBox(self.body)
        photos_col = QVBoxLayout(self.photos_box)
        self.photos = EvidenceList(self.photos_box, self.store.evidence_path)  # double-click: full size
        self.add_photo = QPushButton(self.photos_box)
        self.remove_photo = QPushButton(self.photos_box)
        photos_col.addWidget(self.photos, 1)
        photo_buttons = QVBoxLayout()  # one above the other: side by side they widen the page (Russian)
        photo_buttons.addWidget(self.add_photo)
        photo_buttons.addWidget(self.remove_photo)
        photos_col.addLayout(photo_buttons)
        right.addWidget(self.photos_box, 1)
        return right

    def _add_row(self, grid: QGridLayout, r: int, key: str, number: str) -> None:
        label = plain_label()
        label.setWordWrap(True)
        field = IntField(self.lines_box)
        field.setMaximumWidth(160)
        problem = plain_label()
        problem.setObjectName("problem")
        problem.setWordWrap(True)
        problem.hide()
        warning = warning_label()
        label.setBuddy(field)
        grid.addWidget(plain_label(number), 2 * r, 0)
        grid.addWidget(label, 2 * r, 1)
        grid.addWidget(field, 2 * r, 2)
        # The messages go on their own row under the field, so they can be read in full.
        under = QVBoxLayout()
        under.setContentsMargins(0, 0, 0, 0)
        under.setSpacing(0)
        under.addWidget(problem)
        under.addWidget(warning)
        grid.addLayout(under, 2 * r + 1, 1, 1, 2)
        field.value_changed.connect(lambda value, k=key: self._save(k, value))
        self.fields[key], self.labels[key], self.problems[key] = field, label, problem
        self.warnings[key] = warning

    # ---- texts ---------------------------------------------------------
    def retranslate(self) -> None:
        super().retranslate()
        tpl = self.store.template
        self.source_caption.setText(tr("ui.protocol.source"))
        for source, button in self.source_buttons.items():
            button.setText(tr(f"ui.protocol.source.{source}"))
        self.lines_box.setTitle(tr("ui.protocol.lines"))
        self.parties_caption.setText(tr("ui.protocol.parties"))
        for key, label in self.labels.items():
            label.setText(tpl.label(key))
        self.checks_box.setTitle(tr("ui.protocol.checks"))
        self.photos_box.setTitle(tr("ui.protocol.photos"))
        self.add_photo.setText(tr("ui.protocol.add_photo"))
        self.remove_photo.setText(tr("ui.protocol.remove_photo"))
        self._update_checks()
        self._load_photos()
        self._update_comparison()

    # ---- data ----------------------------------------------------------
    def _existing_protocol(self, source: str) -> str | None:
        """This observer's protocol of ``source`` if one was started; never creates one.

        An untouched source must not leave an empty protocol behind: coordinators
        would see it as a second, blank version of the station's result.
        """
        if source in self._pids:
            return self._pids[source]
        sid = self.station_id
        for row in self.store.iter_table("protocols"):
            if row.station_id == sid and row.observer_id == self.store.observer_id and row.source == source:
                self._pids[source] = row.id
                return row.id
        return None

    def _protocol(self) -> str | None:
        pid = self._existing_protocol(self.source)
        sid = self.station_id
        if pid is None and sid is not None:
            pid = attempt(lambda: self.store.protocol_id(sid, self.source), confirm_save=False)
            if pid is not None:
                self._pids[self.source] = pid
        return pid

    def values(self) -> dict[str, int | None]:
        return {key: field.value() for key, field in self.fields.items()}

    def set_source(self, source: str) -> None:
        self.source = source
        self.source_buttons[source].setChecked(True)
        self.refresh()

    def refresh(self) -> None:
        super().refresh()
        self._pids.clear()  # the station may have changed
        pid = self._existing_protocol(self.source)
        stored = self.store.protocol_values(pid) if pid else {}
        for key, field in self.fields.items():
            field.set_value(stored.get(key))
        st = self.station
        self._context = day_figures(self.store, st) if st else DayFigures()
        self._update_checks()
        self._load_photos()
        self._update_comparison()

    def _save(self, key: str, value: int | None) -> None:
        pid = self._protocol()
        if pid is not None:
            succeeded(lambda: self.store.set_protocol_value(pid, key, value))
        self._update_checks()
        self._update_comparison()

    def _update_comparison(self) -> None:
        both = {s: self._existing_protocol(s) for s in PROTOCOL_SOURCES}
        values = {s: (self.store.protocol_values(pid) if pid else {}) for s, pid in both.items()}
        self.comparison.set_values(self.store.template, values["posted_copy"], values["announced"])

    def _update_checks(self) -> None:
        tpl = self.store.template
        outcomes = run_checks(tpl, self.values())
        order = list(self.fields)
        problems: dict[str, list[str]] = {key: [] for key in order}
        tips: dict[str, list[str]] = {key: [] for key in order}
        for outcome, label in zip(outcomes, self.check_labels):
            text = outcome.describe(tpl)
            if outcome.failed and outcome.check.severity == "warning":
                text = tr("ui.protocol.warning", text=text)
            label.setText(f"{STATUS_MARK[outcome.status]} {text}")
            label.setObjectName("problem" if outcome.failed else ("ok" if outcome.status is Status.OK else "hint"))
            label.style().unpolish(label)
            label.style().polish(label)
            if outcome.failed:
                keys = [k for k in order if k in involved_keys(outcome, tpl.party_keys)]
                for key in keys:
                    tips[key].append(text)
                # The message sits beside the last field of the relation: usually the one just typed.
                if keys:
                    problems[keys[-1]].append(text)
        warnings = self._warnings()
        for key in order:
            self.fields[key].set_problem(bool(tips[key]), "\n".join(tips[key] + warnings.get(key, [])))
            self.problems[key].setText("\n".join(problems[key]))
            self.problems[key].setVisible(bool(problems[key]))
            self.warnings[key].setText("\n".join(warnings.get(key, [])))
            self.warnings[key].setVisible(bool(warnings.get(key)))
        voted, registered = (
            tpl.voted.evaluate(self.values(), tpl.party_keys),
            tpl.registered.evaluate(self.values(), tpl.party_keys),
        )
        if voted is not None and registered:
            self.turnout_label.setText(
                tr("ui.protocol.turnout", pct=formatter(current_language()).pct(100.0 * voted / registered, 2))
            )
        else:
            self.turnout_label.setText("")

    def _warnings(self) -> dict[str, list[str]]:
        """Cross-checks of this version against set-up, the head-count, the announcements and the tally."""
        ctx = self._context
        figures = DayFigures(ctx.registered, ctx.announced, ctx.headcount, {self.source: self.values()}, ctx.tally)
        out: dict[str, list[str]] = {}
        for finding in protocol_findings(self.store.template, figures, self.source):
            key = finding.target.split(":", 1)[1]
            out.setdefault(key, []).append(tr("ui.protocol.warning", text=finding.text()))
        return out

    def warning_text(self, key: str) -> str:
        """The cross-check warnings shown under a field (empty when there are none)."""
        label = self.warnings[key]
        return label.text() if not label.isHidden() else ""

    def focus_target(self, target: str) -> None:
        """Show the version and put the cursor in the line a review item names ("<source>:<key>")."""
        source, _, key = target.partition(":")
        if source in self.source_buttons and source != self.source:
            self.set_source(source)
        field = self.fields.get(key) or next(iter(self.fields.values()))
        self.scroller.ensureWidgetVisible(field)
        field.setFocus()
        field.selectAll()

    def problem_text(self, key: str) -> str:
        """What is shown next to a field (empty when nothing is wrong there)."""
        label = self.problems[key]
        return label.text() if not label.isHidden() else ""

    # ---- photos --------------------------------------------------------
    def _load_photos(self) -> None:
        pid = self._pids.get(self.source)
        sid = self.station_id
        self.photos.set_evidence(self.store.evidence(sid, protocol_id=pid) if pid and sid else [])

    def _choose_photos(self) -> None:
        paths = ask_open_files(self, tr("ui.protocol.add_photo"), tr("ui.filter.photos"), purpose="photos")
        for path in paths:
            self.attach_photo(path)

    def attach_photo(self, path: Path) -> bool:
        sid, pid = self.station_id, self._protocol()
        if sid is None or pid is None:
            return False
        info = attempt(lambda: self.store.add_evidence(sid, path, protocol_id=pid))
        self._load_photos()
        return info is not None

    def _remove_photo(self) -> None:
        eid = self.photos.selected_id()
        if eid is not None and confirm(self, tr("ui.protocol.remove_photo"), tr("ui.protocol.remove_photo_confirm")):
            succeeded(lambda: self.store.delete_evidence(eid))  # recoverable until export, like a violation
            self._load_photos()
