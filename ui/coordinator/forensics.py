"""Forensics tab: the statistical fingerprints of falsification, each with method, sample and uncertainty.

The official per-station results (and the observers' sample, for the parallel
vote tabulation, the observers' excess estimate and the observed-vs-official
comparison) are read and analysed by :func:`db.services.forensics.run_forensics`, the
same service as ``baqylau forensics`` and the PDF report, on a worker thread
(a second or two at 100,000 stations). The heat map is drawn by
:class:`ui.coordinator.heatmap.FingerprintMap`; beside it the view of
:func:`observer.forensics.present.present` is laid out as HTML, so the tab
shows the same tables, notes and warnings, with the same numbers written the
same way, as the command line and the report.
"""

from __future__ import annotations

import html

from db.services.forensics import party_namer, run_forensics
from db.store import ElectionStore
from observer.forensics import ForensicsError, ForensicsResult
from observer.forensics.present import Chart, ForensicsView, Grid, Text, present
from observer.i18n import current_language, tr
from ui.coordinator.heatmap import FingerprintMap
from ui.coordinator.text import plain_labels
from ui.input_guard import ComboBox
from ui.operations import Operation, OperationContext
from ui.qt import QHBoxLayout, QLabel, QPushButton, QSplitter, QTextBrowser, QVBoxLayout, QWidget, Signal


def run_analysis(store: ElectionStore, level: str, ctx: OperationContext | None = None) -> ForensicsResult:
    """What ``baqylau forensics`` computes, with a progress label for the dialog."""
    if ctx is not None:
        ctx.progress(0, 0, tr("forensics.gui.computing"))
    return run_forensics(store, level)


_STYLE = {
    "note": "color:#444; margin-left:12px",
    "caveat": "color:#444; margin-left:12px; font-weight:bold",
    "warning": "border:2px solid #b71c1c; background:#ffebee; padding:4px; font-weight:bold",
    "subhead": "font-weight:bold",
}


def _grid_html(grid: Grid) -> str:
    e = html.escape
    out = ["<table border='1' cellspacing='0' cellpadding='3'>"]
    out.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in grid.headers) + "</tr>")
    for n, row in enumerate(grid.rows):
        cells = []
        for i, value in enumerate(row):
            right = " align='right' nowrap" if i >= grid.numeric_from else ""  # a figure never wraps
            flag = " style='background:#ffcdd2'" if n in grid.flagged and i >= grid.numeric_from else ""
            cells.append(f"<td{right}{flag}>{e(value)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join([*out, "</table>"])


def view_html(view: ForensicsView) -> str:
    """The view as the tab's HTML: sections, tables, notes and warnings (charts: the heat map beside it)."""
    e = html.escape
    out = [f"<p>{e(view.summary)}</p>"]
    for section in view.sections:
        out.append(f"<h3 id='{section.anchor}'>{e(section.title)}</h3>")
        for block in section.blocks:
            if isinstance(block, Grid):
                out.append(_grid_html(block))
            elif isinstance(block, Chart):
                continue  # the fingerprint is the heat map beside the text; the others are the report's
            elif isinstance(block, Text):
                style = _STYLE.get(block.kind)
                out.append(f"<p style='{style}'>{e(block.text)}</p>" if style else f"<p>{e(block.text)}</p>")
    return "\n".join(out)


class ForensicsPage(QWidget):
    analysed = Signal(object)  # ForensicsResult

    def __init__(self, store: ElectionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.result: ForensicsResult | None = None
        self.level = ComboBox()
        self.level.addItem("", "national")
        self.level.addItem("", "region")
        self.run_button = QPushButton()
        self.run_button.setObjectName("runForensics")
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.intro, 1)
        top.addWidget(self.level)
        top.addWidget(self.run_button)
        self.map = FingerprintMap()
        self.text = QTextBrowser()
        self.text.setObjectName("forensicsText")
        self.text.setOpenExternalLinks(False)
        split = QSplitter()
        split.addWidget(self.map)
        split.addWidget(self.text)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([600, 760])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.run_button.clicked.connect(self.start)
        plain_labels(self)
        self.retranslate()

    def start(self) -> Operation[ForensicsResult]:
        store, level = self.store, str(self.level.currentData())
        self.run_button.setEnabled(False)
        # Not cancellable: the analysis is one numpy computation with no point to stop at.
        op: Operation[ForensicsResult] = Operation(
            self,
            lambda ctx: run_analysis(store, level, ctx),
            title=tr("forensics.gui.computing"),
            cancellable=False,
        )
        op.success(self._show).failure(self._failed)
        op.finished.connect(lambda: self.run_button.setEnabled(True))
        return op.run_in_background()

    def _failed(self, exc: BaseException) -> bool:
        if isinstance(exc, ForensicsError):
            self.text.setPlainText(str(exc))
            return True
        return False

    def _party(self, key: str) -> str:
        return party_namer(self.store.template)(key)

    def _show(self, result: ForensicsResult) -> None:
        self.result = result
        self.map.set_fingerprint(result.fingerprint, self._party(result.leader))
        self.text.setHtml(self.render_html(result))
        self.analysed.emit(result)

    def render_html(self, r: ForensicsResult) -> str:
        lang = current_language()
        return view_html(present(r, lang, party_namer(self.store.template, lang)))

    # ---- language ----------------------------------------------------------------
    def retranslate(self) -> None:
        self.intro.setText(tr("forensics.gui.intro"))
        self.level.setItemText(0, tr("forensics.gui.level.national"))
        self.level.setItemText(1, tr("forensics.gui.level.region"))
        self.run_button.setText(tr("forensics.gui.run"))
        if self.result is not None:
            self.map.set_fingerprint(self.result.fingerprint, self._party(self.result.leader))
            self.text.setHtml(self.render_html(self.result))
        else:
            self.text.setPlainText(tr("forensics.gui.press_run"))
        self.map.update()
