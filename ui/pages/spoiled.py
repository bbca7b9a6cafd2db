"""Spoiled ballots seen at the count, by reason."""

from __future__ import annotations

from db.store import ElectionStore
from observer.i18n import tr
from observer.plausibility import DayFigures, protocol_findings
from ui.pages.base import Page, plain_label
from ui.pages.review import day_figures, warning_label
from ui.qt import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, Qt, QVBoxLayout, QWidget
from ui.settings import Settings
from ui.widgets.fields import IntField
from ui.widgets.messages import succeeded


class SpoiledPage(Page):
    title_key = "ui.nav.spoiled"

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(store, settings, parent)
        col = QVBoxLayout(self.body)
        col.setContentsMargins(0, 0, 0, 0)
        self.hint = plain_label()
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        col.addWidget(self.hint)
        self.box = QGroupBox(self.body)
        form = QFormLayout(self.box)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.spins: dict[str, IntField] = {}
        self.labels: dict[str, QLabel] = {}
        self._loading = False
        self.plus: dict[str, QPushButton] = {}
        self.minus: dict[str, QPushButton] = {}
        for reason in store.template.spoiled_reasons:
            spin = IntField(self.box)
            spin.setFixedWidth(140)
            # Tally buttons: the observer clicks once per ballot as the commission sorts the pile.
            plus, minus = QPushButton("+1", self.box), QPushButton("−1", self.box)
            plus.setMinimumWidth(90)
            minus.setMinimumWidth(70)
            plus.clicked.connect(lambda _c=False, code=reason.code: self._step(code, +1))
            minus.clicked.connect(lambda _c=False, code=reason.code: self._step(code, -1))
            row = QHBoxLayout()
            row.addWidget(spin)
            row.addWidget(plus)
            row.addWidget(minus)
            row.addStretch(1)
            label = plain_label()
            label.setBuddy(spin)
            form.addRow(label, row)
            self.plus[reason.code], self.minus[reason.code] = plus, minus
            spin.value_changed.connect(lambda value, code=reason.code: self._save(code, value))
            self.spins[reason.code], self.labels[reason.code] = spin, label
        self.total = plain_label()
        self.total.setObjectName("result")
        form.addRow(self.total)
        self.warning = warning_label(self.box)
        form.addRow(self.warning)
        self._context = DayFigures()
        col.addWidget(self.box)
        col.addStretch(1)
        self.retranslate()
        self.refresh()

    def retranslate(self) -> None:
        super().retranslate()
        self.hint.setText(tr("ui.spoiled.hint"))
        for code in self.spins:
            self.plus[code].setToolTip(tr("ui.spoiled.plus"))
            self.minus[code].setToolTip(tr("ui.spoiled.minus"))
        self.box.setTitle(tr("ui.spoiled.reasons"))
        for reason in self.store.template.spoiled_reasons:
            self.labels[reason.code].setText(reason.labels.get())
        self._update_total()

    def refresh(self) -> None:
        super().refresh()
        sid = self.station_id
        stored = self.store.spoiled(sid) if sid else {}
        self._loading = True
        try:
            for code, spin in self.spins.items():
                if not spin.hasFocus():
                    spin.set_value(stored.get(code))
        finally:
            self._loading = False
        st = self.station
        self._context = day_figures(self.store, st) if st else DayFigures()
        self._update_total()

    def _step(self, code: str, delta: int) -> None:
        spin = self.spins[code]
        value = max(0, (spin.value() or 0) + delta)
        spin.set_value(value)
        self._save(code, value)

    def _save(self, code: str, value: int | None) -> None:
        sid = self.station_id
        if self._loading or sid is None:
            return
        # An emptied field means none of that kind were seen.
        succeeded(lambda: self.store.set_spoiled(sid, code, value or 0))
        self._update_total()

    def _update_total(self) -> None:
        self.total.setText(tr("ui.spoiled.total", total=sum(s.value() or 0 for s in self.spins.values())))
        # The tally against each protocol version's invalid-ballot line: a warning, never a block.
        ctx = self._context
        tally = {code: spin.value() or 0 for code, spin in self.spins.items()}
        figures = DayFigures(ctx.registered, ctx.announced, ctx.headcount, ctx.protocols, tally)
        texts = [
            f.text()
            for source in ctx.protocols
            for f in protocol_findings(self.store.template, figures, source)
            if f.rule == "tally_vs_invalid"
        ]
        self.warning.setText("\n".join(texts))
        self.warning.setVisible(bool(texts))

    def focus_target(self, target: str) -> None:
        spin = self.spins.get(target) or next(iter(self.spins.values()), None)
        if spin is not None:
            self.scroller.ensureWidgetVisible(spin)
            spin.setFocus()
