"""Forensics tab: the statistical fingerprints of falsification, each with method, sample and uncertainty.

The official per-station results (and the observers' sample, for the parallel
vote tabulation and the observed-vs-official comparison) are read and analysed
by :func:`db.cli_forensics.run_forensics`, the same call as ``baqylau forensics``,
on a worker thread (the whole set takes a second or two at 100,000
stations). The heat map is drawn by :class:`ui.coordinator.heatmap.FingerprintMap`;
the figures are listed beside it, every one followed by the three sentences of
:func:`observer.forensics.figure_notes` and, for the tests, a cautious verdict.
"""

from __future__ import annotations

import html
import math

from db.cli_forensics import party_namer, run_forensics
from db.store import ElectionStore
from observer.forensics import NATIONAL, ForensicsError, ForensicsResult, figure_notes, verdict
from observer.i18n import tr
from observer.regions import region_name
from ui.coordinator.heatmap import FingerprintMap
from ui.coordinator.text import plain_labels
from ui.operations import Operation, OperationContext
from ui.qt import QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QTextBrowser, QVBoxLayout, QWidget, Signal


def run_analysis(store: ElectionStore, level: str, ctx: OperationContext | None = None) -> ForensicsResult:
    """What ``baqylau forensics`` computes, with a progress label for the dialog."""
    if ctx is not None:
        ctx.progress(0, 0, tr("coordui.forensics.computing"))
    return run_forensics(store, level)


def _f(v: float | None, digits: int = 1) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _p(p: float) -> str:
    return "—" if not math.isfinite(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


class ForensicsPage(QWidget):
    analysed = Signal(object)  # ForensicsResult

    def __init__(self, store: ElectionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.result: ForensicsResult | None = None
        self.level = QComboBox()
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
            title=tr("coordui.forensics.computing"),
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

    # ---- text ------------------------------------------------------------------
    def _notes(self, figure: object) -> str:
        # Each note already starts with its own label ("Method: ...").
        notes = figure_notes(figure, None, self._party)
        parts = [html.escape(v) for v in notes.values()]
        return "<p style='color:#444; margin-left:12px'>" + "<br>".join(parts) + "</p>"

    def render_html(self, r: ForensicsResult) -> str:
        e = html.escape
        out: list[str] = []
        fp = r.fingerprint
        out.append(f"<h3>{e(tr('coordui.forensics.h.fingerprint'))}</h3>")
        out.append("<table border='1' cellspacing='0' cellpadding='3'>")
        out.append(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>".format(
                e(tr("coordui.forensics.col.threshold")),
                e(tr("coordui.forensics.col.stations")),
                e(tr("coordui.forensics.col.voters_share")),
                e(tr("coordui.forensics.col.leader_share")),
            )
        )
        for m in fp.masses:
            out.append(
                f"<tr><td>≥ {m.threshold} %</td><td align='right'>{m.stations}</td>"
                f"<td align='right'>{_f(m.voters_share, 2)} ± {_f(m.voters_se, 2)}</td>"
                f"<td align='right'>{_f(m.leader_share, 2)} ± {_f(m.leader_se, 2)}</td></tr>"
            )
        out.append("</table>")
        out.append(f"<p>{e(tr('coordui.forensics.corr', r=_f(fp.turnout_leader_corr, 3)))}</p>")
        out.append(self._notes(fp))

        t = r.turnout
        out.append(f"<h3>{e(tr('coordui.forensics.h.shpilkin'))}</h3>")
        out.append(
            f"<p>{e(tr('coordui.forensics.shpilkin', excess=f'{t.excess:,.0f}'.replace(',', ' '), se=f'{t.excess_se:,.0f}'.replace(',', ' ') if math.isfinite(t.excess_se) else '—', share=_f(t.excess_share), mode=_f(t.mode_pct)))}</p>"
        )
        out.append(self._notes(t))

        out.append(f"<h3>{e(tr('coordui.forensics.h.integer'))}</h3>")
        out.append("<table border='1' cellspacing='0' cellpadding='3'>")
        out.append(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>".format(
                e(tr("coordui.forensics.col.quantity")),
                e(tr("coordui.forensics.col.round")),
                e(tr("coordui.forensics.col.expected")),
                e(tr("coordui.forensics.col.p")),
                e(tr("coordui.forensics.col.verdict")),
            )
        )
        for test in r.integer:
            n = test.national
            out.append(
                f"<tr><td>{e(tr(f'coordui.forensics.q.{test.quantity}', step=test.step))}</td>"
                f"<td align='right'>{n.observed}</td><td align='right'>{_f(n.expected)} [{_f(n.low, 0)}–{_f(n.high, 0)}]</td>"
                f"<td align='right'>{_p(n.p_value)}</td><td>{e(verdict(test))}</td></tr>"
            )
        out.append("</table>")
        if r.integer:
            out.append(self._notes(r.integer[0]))

        out.append(f"<h3>{e(tr('coordui.forensics.h.digits'))}</h3>")
        out.append("<table border='1' cellspacing='0' cellpadding='3'>")
        out.append(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>χ²</th><th>{}</th><th>{}</th><th>{}</th></tr>".format(
                e(tr("coordui.forensics.col.party")),
                e(tr("coordui.forensics.col.test")),
                e(tr("coordui.forensics.col.n")),
                e(tr("coordui.forensics.col.p")),
                e(tr("coordui.forensics.col.mean")),
                e(tr("coordui.forensics.col.verdict")),
            )
        )
        for d in r.digits:
            out.append(
                f"<tr><td>{e(self._party(d.party))}</td><td>{e(tr(f'coordui.forensics.digit.{d.test}'))}</td>"
                f"<td align='right'>{d.n}</td><td align='right'>{_f(d.chi2, 1)}</td><td align='right'>{_p(d.p_value)}</td>"
                f"<td align='right'>{_f(d.mean, 2)} ({_f(d.expected_mean, 2)})</td><td>{e(verdict(d))}</td></tr>"
            )
        out.append("</table>")
        seen_tests: set[str] = set()
        for d in r.digits:
            if d.test not in seen_tests:
                seen_tests.add(d.test)
                out.append(self._notes(d))

        if r.pvt is not None:
            out.append(f"<h3>{e(tr('coordui.forensics.h.pvt'))}</h3>")
            out.append("<table border='1' cellspacing='0' cellpadding='3'>")
            out.append(
                "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>".format(
                    e(tr("coordui.forensics.col.quantity")),
                    e(tr("coordui.forensics.col.estimate")),
                    e(tr("coordui.forensics.col.m95")),
                    e(tr("coordui.forensics.col.m99")),
                    e(tr("coordui.forensics.col.official")),
                    e(tr("coordui.forensics.col.inside")),
                )
            )
            for est in r.pvt.national():
                name = (
                    tr(f"coordui.forensics.pq.{est.quantity}")
                    if est.quantity in ("turnout", "invalid")
                    else self._party(est.quantity)
                )
                inside = est.inside(0.95)
                inside_text = (
                    "—" if inside is None else tr("coordui.forensics.yes") if inside else tr("coordui.forensics.no")
                )
                style = "" if inside is not False else " style='background:#ffcdd2'"
                out.append(
                    f"<tr><td>{e(name)}</td><td align='right'>{_f(est.value)}</td><td align='right'>± {_f(est.margin(0.95))}</td>"
                    f"<td align='right'>± {_f(est.margin(0.99))}</td><td align='right'>{_f(est.official)}</td><td{style}>{e(inside_text)}</td></tr>"
                )
            out.append("</table>")
            out.append(self._notes(r.pvt))

        if r.comparison is not None:
            c = r.comparison
            out.append(f"<h3>{e(tr('coordui.forensics.h.compare'))}</h3>")
            out.append("<table border='1' cellspacing='0' cellpadding='3'>")
            out.append(
                "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>".format(
                    e(tr("coordui.forensics.col.quantity")),
                    e(tr("coordui.forensics.col.observed")),
                    e(tr("coordui.forensics.col.official")),
                    e(tr("coordui.forensics.col.gap")),
                    e(tr("coordui.forensics.col.stations")),
                )
            )
            for g in c.gaps:
                name = tr(f"coordui.forensics.pq.{g.quantity}")
                out.append(
                    f"<tr><td>{e(name)}</td><td align='right'>{_f(g.observed)}</td><td align='right'>{_f(g.official)}</td>"
                    f"<td align='right'>{_f(g.gap)} ± {_f(1.96 * g.se)}</td><td align='right'>{g.stations}</td></tr>"
                )
            out.append("</table>")
            s = c.signs
            out.append(
                f"<p>{e(tr('coordui.forensics.signs', threshold=s.threshold, observed=_f(s.observed_mass, 2), unobserved=_f(s.unobserved_mass, 2), p=_p(s.p_value)))}</p>"
            )
            out.append(self._notes(c))

        if r.regions:
            out.append(f"<h3>{e(tr('coordui.forensics.h.regions'))}</h3>")
            out.append("<table border='1' cellspacing='0' cellpadding='3'>")
            out.append(
                "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>".format(
                    e(tr("coordui.cmp.gap.region")),
                    e(tr("coordui.forensics.col.stations")),
                    e(tr("coordui.forensics.col.turnout")),
                    e(tr("coordui.forensics.col.high_mass", threshold=r.options.thresholds[0])),
                    e(tr("coordui.forensics.col.excess")),
                )
            )
            for reg in r.regions:
                name = region_name(reg.region) if reg.region != NATIONAL else tr("coordui.cmp.national")
                out.append(
                    f"<tr><td>{e(name)}</td><td align='right'>{reg.stations}</td><td align='right'>{_f(reg.turnout)}</td>"
                    f"<td align='right'>{_f(reg.high_mass, 2)} ± {_f(reg.high_mass_se, 2)}</td>"
                    f"<td align='right'>{f'{reg.shpilkin_excess:,.0f}'.replace(',', ' ')}</td></tr>"
                )
            out.append("</table>")
        return "\n".join(out)

    # ---- language ----------------------------------------------------------------
    def retranslate(self) -> None:
        self.intro.setText(tr("coordui.forensics.intro"))
        self.level.setItemText(0, tr("coordui.forensics.level.national"))
        self.level.setItemText(1, tr("coordui.forensics.level.region"))
        self.run_button.setText(tr("coordui.forensics.run"))
        if self.result is not None:
            self.map.set_fingerprint(self.result.fingerprint, self._party(self.result.leader))
            self.text.setHtml(self.render_html(self.result))
        else:
            self.text.setPlainText(tr("coordui.forensics.press_run"))
        self.map.update()
