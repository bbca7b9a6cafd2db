"""Comparison tables: observed vs official by nation, region or district, with the rule in force.

Figures come from :func:`db.aggregate.aggregate` with ``source="both"``: the
observed totals and the official totals over the *same* stations, their
difference in percentage points, the official totals over all stations, and
coverage. The inclusion rule in force is shown above the table and can be
changed in a small dialog; every figure is recomputed under the new rule.
"""

from __future__ import annotations

from db.aggregate import aggregate, rules_note, turnout_gaps
from db.aggregate_output import unit_label
from db.rules import InclusionRules, load_rules, save_rules
from db.store import ElectionStore
from observer.aggregate import StationGap, UnitResult
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.regions import region_name
from ui.coordinator.text import hold_read_only, plain_labels
from ui.input_guard import ComboBox
from ui.operations import Operation, run_query
from ui.qt import (
    QAbstractItemView,
    QBrush,
    QCheckBox,
    QColor,
    QDialog,
    QDialogButtonBox,
    QFont,
    QFontMetrics,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)

LEVELS = ("national", "region", "district")
GAP_ROWS = 100  # the stations most worth a phone call; the full list is in the CLI and the report annex
_BIG_GAP = QColor(255, 205, 210)
_SECTION = QColor(236, 239, 241)


def _pct(v: float | None) -> str:
    """A percentage under a "…, %" header, as the CLI and the report write it (observer/fmt.py)."""
    return formatter(current_language()).num(v)


def _pp(v: float | None) -> str:
    return formatter(current_language()).pp(v)


def _int(v: int | None) -> str:
    return formatter(current_language()).integer(v)


class RulesDialog(QDialog):
    """The three inclusion rules as checkboxes, with the sentence that will be printed."""

    def __init__(self, rules: InclusionRules, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rulesDialog")
        self.setWindowTitle(tr("coordui.rules.title"))
        self.intro = QLabel(tr("coordui.rules.intro"))
        self.intro.setWordWrap(True)
        self.trusted = QCheckBox(tr("coordui.rules.trusted"))
        self.trusted.setChecked(rules.only_trusted_keys)
        self.photo = QCheckBox(tr("coordui.rules.photo"))
        self.photo.setChecked(rules.require_protocol_photo)
        self.checks = QCheckBox(tr("coordui.rules.checks"))
        self.checks.setChecked(rules.exclude_failed_checks)
        self.preview = QLabel()
        self.preview.setObjectName("rulesPreview")
        self.preview.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        # Qt's own button texts are not translated by our catalogues: set them ourselves.
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(tr("coordui.ok"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("coordui.op.cancel"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        for box in (self.trusted, self.photo, self.checks):
            layout.addWidget(box)
            box.toggled.connect(lambda _c: self._update_preview())
        layout.addWidget(self.preview)
        layout.addWidget(buttons)
        self.resize(560, 280)
        plain_labels(self)
        self._update_preview()

    def rules(self) -> InclusionRules:
        return InclusionRules(self.trusted.isChecked(), self.photo.isChecked(), self.checks.isChecked())

    def _update_preview(self) -> None:
        self.preview.setText(tr("coordui.rules.preview", rule=self.rules().describe()))


class ComparisonPage(QWidget):
    rulesChanged = Signal()
    loaded = Signal()
    storyRequested = Signal(str, list)  # station id, the gap list's station ids (for next / previous)

    def __init__(self, store: ElectionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.read_only = False  # set_read_only: a database role that may only read
        self.units: list[UnitResult] = []
        self.gaps: list[StationGap] = []

        self.level = ComboBox()
        self.level.setObjectName("comparisonLevel")
        for lv in LEVELS:
            self.level.addItem("", lv)
        self.level_label = QLabel()
        self.rule = QLabel()
        self.rule.setObjectName("ruleInForce")
        self.rule.setWordWrap(True)
        self.rules_button = QPushButton()
        self.rules_button.setObjectName("editRules")
        self.refresh_button = QPushButton()
        top = QHBoxLayout()
        top.addWidget(self.level_label)
        top.addWidget(self.level)
        top.addWidget(self.rule, 1)
        top.addWidget(self.rules_button)
        top.addWidget(self.refresh_button)

        self.table = QTableWidget()
        self.table.setObjectName("comparisonTable")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(48)
        # Headers wrap onto three lines so columns can be as narrow as their numbers.
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)
        header.setFixedHeight(3 * self.fontMetrics().height() + 14)
        self.note = QLabel()
        self.note.setObjectName("comparisonNote")
        self.note.setWordWrap(True)

        self.gap_box = QGroupBox()
        self.gap_table = QTableWidget(0, 6)
        self.gap_table.setObjectName("gapTable")
        self.gap_table.cellActivated.connect(self._gap_activated)
        self.gap_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.gap_table.verticalHeader().hide()
        self.gap_table.horizontalHeader().setStretchLastSection(True)
        gl = QVBoxLayout(self.gap_box)
        gl.addWidget(self.gap_table)

        upper = QWidget()
        ul = QVBoxLayout(upper)
        ul.setContentsMargins(0, 0, 0, 0)
        ul.addWidget(self.table, 1)
        ul.addWidget(self.note)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(self.gap_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

        self.level.setCurrentIndex(1)
        self.level.currentIndexChanged.connect(lambda _i: self.reload())
        self.rules_button.clicked.connect(self.edit_rules)
        self.refresh_button.clicked.connect(self.reload)
        plain_labels(self)
        self.retranslate()
        self.reload()

    # ---- data ----------------------------------------------------------------
    def reload(self) -> None:
        store = self.store
        level = str(self.level.currentData())
        self.rule.setText(tr("coordui.cmp.rule", rule=rules_note(store)))
        run_query(self, lambda _ctx: (aggregate(store, level, "both"), turnout_gaps(store)), self._loaded)

    def _loaded(self, data: tuple[list[UnitResult], list[StationGap]]) -> None:
        self.units, self.gaps = data
        self._fill_units()
        self._fill_gaps()
        self.loaded.emit()

    def _columns(self) -> list[tuple[str, str]]:
        """(key, header) of every column: coverage, turnout, invalid share, then each party."""
        cols = [
            ("unit", tr("coordui.cmp.col.unit")),
            ("observed", tr("coordui.cmp.col.observed")),
            ("cov_st", tr("coordui.cmp.col.cov_stations")),
            ("cov_reg", tr("coordui.cmp.col.cov_registered")),
            ("t_obs", tr("coordui.cmp.col.turnout_obs")),
            ("t_off", tr("coordui.cmp.col.turnout_off")),
            ("t_diff", tr("coordui.cmp.col.diff")),
            ("t_head", tr("coordui.cmp.col.turnout_head")),
            ("t_ann", tr("coordui.cmp.col.turnout_ann")),
            ("t_all", tr("coordui.cmp.col.turnout_all")),
            ("i_obs", tr("coordui.cmp.col.invalid_obs")),
            ("i_off", tr("coordui.cmp.col.invalid_off")),
            ("i_diff", tr("coordui.cmp.col.diff")),
        ]
        tpl = self.store.template
        for p in tpl.parties:
            name = p.short_name()
            cols += [
                (f"p_obs:{p.key}", tr("coordui.cmp.col.party_obs", party=name)),
                (f"p_off:{p.key}", tr("coordui.cmp.col.party_off", party=name)),
                (f"p_diff:{p.key}", tr("coordui.cmp.col.diff")),
            ]
        return cols

    def cell(self, u: UnitResult, key: str) -> str:
        c, o, f, fa = u.comparison, u.observed, u.official, u.official_all
        if key == "unit":
            return unit_label(u, self.store.template)
        if key == "observed":
            return tr("coordui.cmp.of", part=_int(c.stations_counted), whole=_int(c.stations_total)) if c else "—"
        if key == "cov_st":
            return _pct(c.coverage_stations_pct) if c else "—"
        if key == "cov_reg":
            return _pct(c.coverage_registered_pct) if c else "—"
        if key == "t_obs":
            return _pct(o.turnout_pct) if o else "—"
        if key == "t_off":
            return _pct(f.turnout_pct) if f else "—"
        if key == "t_diff":
            return _pp(c.diff_pp.get("turnout")) if c else "—"
        if key == "t_head":
            return _pct(c.headcount_turnout_pct) if c else "—"
        if key == "t_ann":
            return _pct(c.announced_turnout_pct) if c else "—"
        if key == "t_all":
            return _pct(fa.turnout_pct) if fa else "—"
        if key == "i_obs":
            return _pct(o.invalid_pct) if o else "—"
        if key == "i_off":
            return _pct(f.invalid_pct) if f else "—"
        if key == "i_diff":
            return _pp(c.diff_pp.get("invalid")) if c else "—"
        kind, party = key.split(":", 1)
        if kind == "p_obs":
            return _pct(o.party_pct.get(party)) if o else "—"
        if kind == "p_off":
            return _pct(f.party_pct.get(party)) if f else "—"
        return _pp(c.diff_pp.get(party)) if c else "—"

    def _fill_units(self) -> None:
        cols = self._columns()
        self.table.clear()
        self.table.setColumnCount(len(cols))
        self.table.setRowCount(len(self.units))
        for i, (key, head) in enumerate(cols):
            item = QTableWidgetItem(head)
            item.setToolTip(tr(f"coordui.cmp.tip.{key.split(':')[0]}"))
            self.table.setHorizontalHeaderItem(i, item)
        bold = QFont(self.table.font())
        bold.setBold(True)
        for r, u in enumerate(self.units):
            for i, (key, _head) in enumerate(cols):
                item = QTableWidgetItem(self.cell(u, key))
                if key != "unit":
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if "diff" in key and u.comparison is not None:
                    d = u.comparison.diff_pp.get(
                        "turnout" if key == "t_diff" else "invalid" if key == "i_diff" else key.split(":")[1]
                    )
                    if d is not None and abs(d) >= 5:
                        item.setBackground(QBrush(_BIG_GAP))
                    item.setFont(bold)
                elif key in ("t_obs", "t_off"):
                    item.setBackground(QBrush(_SECTION))
                self.table.setItem(r, i, item)
        bold_fm = QFontMetrics(bold)
        for i, (key, head) in enumerate(cols):
            cells = [cell.text() for r in range(self.table.rowCount()) if (cell := self.table.item(r, i)) is not None]
            content = max((bold_fm.horizontalAdvance(t) for t in cells), default=0) + 16
            # The header may wrap, but no single word of it should be cut.
            word = max((bold_fm.horizontalAdvance(w) for w in head.split()), default=0) + 24
            limit = 250 if key == "unit" else 170
            self.table.setColumnWidth(i, min(max(content, word, 106), limit))
        not_counted = sum(u.comparison.not_counted for u in self.units if u.comparison) if self.units else 0
        disputed = (
            sum(u.comparison.disputed + u.comparison.undecided for u in self.units if u.comparison) if self.units else 0
        )
        unmatched = sum(u.comparison.unmatched for u in self.units if u.comparison) if self.units else 0
        self.note.setText(tr("coordui.cmp.note", not_counted=not_counted, disputed=disputed, unmatched=unmatched))

    def _fill_gaps(self) -> None:
        rows = self.gaps[:GAP_ROWS]
        self.gap_table.setRowCount(len(rows))
        for r, g in enumerate(rows):
            cells = [
                g.code,
                region_name(g.region) if g.region else "",
                g.district,
                _pct(g.observed_turnout_pct),
                _pct(g.headcount_turnout_pct),
                _pct(g.official_turnout_pct) + "  (" + _pp(g.gap_pp) + ")",
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 5 and g.gap_pp <= -5:  # observed minus official (observer.definitions)
                    item.setBackground(QBrush(_BIG_GAP))
                self.gap_table.setItem(r, c, item)
        self.gap_table.resizeColumnsToContents()
        self.gap_table.horizontalHeader().setStretchLastSection(True)
        self.gap_box.setTitle(tr("coordui.cmp.gaps_title", shown=len(rows), total=len(self.gaps)))

    def _gap_activated(self, row: int, _column: int) -> None:
        shown = self.gaps[:GAP_ROWS]
        if 0 <= row < len(shown):
            self.storyRequested.emit(shown[row].station_id, [g.station_id for g in shown])

    # ---- rules -----------------------------------------------------------------
    def set_read_only(self, on: bool) -> None:
        """A role that may only read: the comparison is shown, the inclusion rules cannot be changed."""
        self.read_only = on
        if on:
            hold_read_only(self.rules_button)

    def edit_rules(self) -> RulesDialog:
        dialog = RulesDialog(load_rules(self.store), self)
        dialog.accepted.connect(lambda: self.apply_rules(dialog.rules()))
        dialog.open()
        return dialog

    def apply_rules(self, rules: InclusionRules) -> Operation[None]:
        store = self.store
        op: Operation[None] = Operation(self, lambda _c: save_rules(store, rules), show_progress=False)
        op.success(self._rules_saved)
        return op.run_in_background()

    def _rules_saved(self, _result: None) -> None:
        self.rulesChanged.emit()
        self.reload()

    # ---- language --------------------------------------------------------------
    def retranslate(self) -> None:
        self.level_label.setText(tr("coordui.cmp.level"))
        for i, lv in enumerate(LEVELS):
            self.level.setItemText(i, tr(f"coordui.cmp.level.{lv}"))
        self.rules_button.setText(tr("coordui.cmp.edit_rules"))
        if self.read_only:
            hold_read_only(self.rules_button)
        self.refresh_button.setText(tr("coordui.cmp.refresh"))
        self.rule.setText(tr("coordui.cmp.rule", rule=rules_note(self.store)))
        self.gap_table.setHorizontalHeaderLabels(
            [tr(f"coordui.cmp.gap.{c}") for c in ("code", "region", "district", "observed", "headcount", "official")]
        )
        if self.units:
            self._fill_units()
        self.gap_box.setTitle(tr("coordui.cmp.gaps_title", shown=min(len(self.gaps), GAP_ROWS), total=len(self.gaps)))
        if self.gaps:
            self._fill_gaps()
