"""The turnout × leader-share "election fingerprint" (Klimek et al. 2012) drawn with QPainter.

Each cell is the number of voters at stations with that turnout (x) and that
leading-party share (y), on a logarithmic grey-to-dark scale so that the small
cluster at 100 %/100 % that ballot stuffing produces stays visible beside the
main blob, and so the chart survives black-and-white printing. The 80/90/95 %
corners whose vote mass the figures report are outlined.
"""

from __future__ import annotations

import math

import numpy as np

from observer.fmt import formatter
from observer.forensics import Fingerprint
from observer.i18n import current_language, tr
from ui.qt import QColor, QFont, QImage, QPainter, QPaintEvent, QPen, QPointF, QRectF, QSize, QSizePolicy, Qt, QWidget


def _ramp(t: float) -> QColor:
    """0 -> white, 1 -> near black through blue: readable on screen and in grey."""
    t = min(max(t, 0.0), 1.0)
    stops = (
        (0.0, (255, 255, 255)),
        (0.25, (198, 219, 239)),
        (0.55, (66, 146, 198)),
        (0.8, (8, 69, 148)),
        (1.0, (8, 20, 50)),
    )
    for (t0, c0), (t1, c1) in zip(stops, stops[1:]):
        if t <= t1:
            f = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
            return QColor(*(int(a + (b - a) * f) for a, b in zip(c0, c1)))
    return QColor(*stops[-1][1])


class FingerprintMap(QWidget):
    """Shows one :class:`Fingerprint`; empty until :meth:`set_fingerprint`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fingerprintMap")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 300)
        self._fp: Fingerprint | None = None
        self._image: QImage | None = None
        self._leader = ""
        self._max = 0.0

    def sizeHint(self) -> QSize:
        return QSize(520, 480)

    def set_fingerprint(self, fp: Fingerprint | None, leader_name: str = "") -> None:
        self._fp = fp
        self._leader = leader_name
        self._image = self._render_cells(fp) if fp is not None else None
        self.update()

    def _render_cells(self, fp: Fingerprint) -> QImage:
        """One pixel per histogram cell, scaled up when painted (no per-cell drawing calls)."""
        voters = np.asarray(fp.voters, dtype=np.float64)
        nx, ny = voters.shape
        self._max = float(voters.max()) if voters.size else 0.0
        img = QImage(nx, ny, QImage.Format.Format_RGB32)
        img.fill(QColor(255, 255, 255))
        if self._max <= 0:
            return img
        scale = math.log1p(self._max)
        levels = np.log1p(voters) / scale
        for ix in range(nx):
            col = levels[ix]
            for iy in np.flatnonzero(col > 0):
                # y grows upwards in the chart, downwards in the image
                img.setPixelColor(ix, ny - 1 - int(iy), _ramp(0.08 + 0.92 * float(col[iy])))
        return img

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.fillRect(self.rect(), self.palette().base())
        fm = p.fontMetrics()
        left = fm.horizontalAdvance("100 %") + fm.height() + 10
        bottom = 2 * fm.height() + 10
        legend_w = 110
        side = max(50, min(self.width() - left - legend_w - 10, self.height() - bottom - 10))
        plot = QRectF(left, 8, side, side)
        p.setPen(QPen(QColor(90, 90, 90), 1))
        p.drawRect(plot)
        if self._fp is None or self._image is None:
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, tr("forensics.gui.no_data"))
            p.end()
            return
        tx0, tx1 = float(self._fp.turnout_edges[0]), float(self._fp.turnout_edges[-1])
        sy0, sy1 = float(self._fp.share_edges[0]), float(self._fp.share_edges[-1])
        p.drawImage(plot, self._image)

        def x_of(pct: float) -> float:
            return plot.left() + (pct - tx0) / (tx1 - tx0) * plot.width()

        def y_of(pct: float) -> float:
            return plot.bottom() - (pct - sy0) / (sy1 - sy0) * plot.height()

        # Grid and ticks every 10 %.
        grid = QPen(QColor(0, 0, 0, 40), 1, Qt.PenStyle.DotLine)
        for v in range(0, 101, 10):
            p.setPen(grid)
            p.drawLine(QPointF(x_of(v), plot.top()), QPointF(x_of(v), plot.bottom()))
            p.drawLine(QPointF(plot.left(), y_of(v)), QPointF(plot.right(), y_of(v)))
            p.setPen(QColor(60, 60, 60))
            if v % 20 == 0:
                label = str(v)
                p.drawText(QPointF(x_of(v) - fm.horizontalAdvance(label) / 2, plot.bottom() + fm.ascent() + 3), label)
                p.drawText(QPointF(plot.left() - fm.horizontalAdvance(label) - 4, y_of(v) + fm.ascent() / 2 - 1), label)
        # The threshold corners whose vote mass is reported.
        dash = QPen(QColor(200, 30, 30), 1.5, Qt.PenStyle.DashLine)
        p.setPen(dash)
        for m in self._fp.masses:
            corner = QRectF(QPointF(x_of(m.threshold), y_of(100)), QPointF(x_of(100), y_of(m.threshold)))
            p.drawRect(corner)
        # Axis titles.
        p.setPen(QColor(30, 30, 30))
        xt = tr("forensics.axis.turnout")
        p.drawText(QPointF(plot.center().x() - fm.horizontalAdvance(xt) / 2, plot.bottom() + 2 * fm.height() + 4), xt)
        p.save()
        yt = tr("forensics.gui.axis_share", party=self._leader or self._fp.leader)
        p.translate(fm.height() - 2, plot.center().y() + fm.horizontalAdvance(yt) / 2)
        p.rotate(-90)
        p.drawText(QPointF(0, 0), yt)
        p.restore()
        # Legend: the colour scale in voters per cell (logarithmic).
        lx = plot.right() + 14
        lh = plot.height() * 0.6
        for i in range(int(lh)):
            t = 1.0 - i / lh
            p.setPen(_ramp(0.08 + 0.92 * t))
            p.drawLine(QPointF(lx, plot.top() + i), QPointF(lx + 14, plot.top() + i))
        p.setPen(QColor(60, 60, 60))
        p.drawRect(QRectF(lx, plot.top(), 14, lh))
        small = QFont(p.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.85))
        p.setFont(small)
        p.drawText(QPointF(lx + 18, plot.top() + fm.ascent()), formatter(current_language()).integer(self._max))
        p.drawText(QPointF(lx + 18, plot.top() + lh), "1")
        p.drawText(
            QRectF(lx, plot.top() + lh + 6, legend_w - 14, 4 * fm.height()),
            Qt.TextFlag.TextWordWrap,
            tr("forensics.gui.legend"),
        )
        p.end()
