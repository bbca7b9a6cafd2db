"""Spoiled ballots seen at the count, by reason."""

from __future__ import annotations

from db.store import ElectionStore
from observer.i18n import tr
from ui.pages.base import Page, plain_label
from ui.qt import QFormLayout, QGroupBox, QLabel, QSpinBox, QVBoxLayout, QWidget
from ui.settings import Settings
from ui.widgets.fields import MAX_COUNT
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
        self.spins: dict[str, QSpinBox] = {}
        self.labels: dict[str, QLabel] = {}
        self._loading = False
        for reason in store.template.spoiled_reasons:
            spin = QSpinBox(self.box)
            spin.setRange(0, MAX_COUNT)
            spin.setMinimumWidth(160)
            spin.setMinimumHeight(38)
            label = plain_label()
            label.setBuddy(spin)
            form.addRow(label, spin)
            spin.valueChanged.connect(lambda value, code=reason.code: self._save(code, value))
            self.spins[reason.code], self.labels[reason.code] = spin, label
        self.total = plain_label()
        self.total.setObjectName("result")
        form.addRow(self.total)
        col.addWidget(self.box)
        col.addStretch(1)
        self.retranslate()
        self.refresh()

    def retranslate(self) -> None:
        super().retranslate()
        self.hint.setText(tr("ui.spoiled.hint"))
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
                spin.setValue(stored.get(code, 0))
        finally:
            self._loading = False
        self._update_total()

    def _save(self, code: str, value: int) -> None:
        sid = self.station_id
        if self._loading or sid is None:
            return
        succeeded(lambda: self.store.set_spoiled(sid, code, value))
        self._update_total()

    def _update_total(self) -> None:
        self.total.setText(tr("ui.spoiled.total", total=sum(s.value() for s in self.spins.values())))
