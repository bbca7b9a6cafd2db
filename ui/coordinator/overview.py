"""Election night at a glance: the coordinator window's first tab.

Counters of what needs attention (undecided conflicts, held and refused packages,
serious violations, control relations broken, turnout gaps), each a button that
opens the list behind it; stations reported against expected by region, as bars
that fill as packages arrive; packages merged per hour; a map of the regions
coloured by coverage (stations reported / expected) or, at a switch, by the turnout
gap (observed minus official, the stations' mean, in percentage points). The figures
are :func:`db.services.overview.read_overview`'s, the command line's own, read in the
background after each change: the tab never blocks the window. The gap per region is
read (in the background too) only once the map is switched to it.

The page is what the window opens on, so it is built with the window, before the HQ's store
has opened (``StoreOpener``, as the stations table): counters say "…" and the figures are
read once the window asks (:meth:`OverviewPage.reload`), on a helper thread that waits for the
store. The modules that read them (``db.services.overview``, ``db.aggregate``: SQLAlchemy,
numpy) are imported there, off the window's start; the map's file is read when the first
figures are shown, which is when it is first drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from db.services.hq import StoreOpener
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.regionmap import COVERAGE, GAP, MapError, RegionMap, region_gaps, template_map
from observer.regions import region_name
from ui.coordinator.text import plain_labels
from ui.operations import Operation
from ui.qt import (
    QColor,
    QFont,
    QFontMetrics,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPainter,
    QPaintEvent,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
    is_alive,
)
from ui.widgets.choropleth import ChoroplethMap

if TYPE_CHECKING:
    from db.services.overview import Overview
    from db.store import ElectionStore
    from observer.template import ElectionTemplate

# Counters in reading order: name -> where it leads (the window maps targets to tabs and filters).
COUNTERS: tuple[str, ...] = (
    "reported",
    "undecided",
    "disputed",
    "held",
    "refused",
    "serious",
    "checks",
    "gaps",
)
_ATTENTION = QColor(198, 40, 40)
_CAPTION_WIDTH = 290  # a counter's caption wraps to this: four counters a row fit a 1366-pixel screen


def wrap_words(text: str, fm: QFontMetrics, width: int) -> str:
    """``text`` broken into lines of at most ``width`` pixels, between words (a push button does not wrap)."""
    lines: list[str] = []
    for word in text.split():
        if lines and fm.horizontalAdvance(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def counter_value(ov: Overview, name: str) -> int:
    """The figure a counter shows (the tests compare these with the command line's)."""
    values = {
        "reported": ov.reported,
        "undecided": ov.undecided,
        "disputed": ov.disputed,
        "held": ov.held_packages,
        "refused": ov.refused_packages,
        "serious": ov.violations_by_severity.get("high", 0),
        "checks": ov.checks_official + ov.checks_observed,
        "gaps": ov.gaps_over,
    }
    return values[name]


class Timeline(QWidget):
    """Packages merged per hour, as bars (the hours with none are gaps in the row)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overviewTimeline")
        self.setMinimumHeight(90)
        self.hours: tuple[tuple[object, int], ...] = ()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if not self.hours:
            return
        top = max(n for _h, n in self.hours)
        fm = self.fontMetrics()
        label_h = fm.height() + 2
        width = max(4, min(40, (self.width() - 8) // len(self.hours)))
        for i, (hour, n) in enumerate(self.hours):
            h = int((self.height() - label_h - 6) * n / top)
            x = 4 + i * width
            painter.fillRect(x, self.height() - label_h - h, width - 2, h, QColor(66, 133, 244))
            if width >= fm.horizontalAdvance("00") + 2:
                painter.drawText(x, self.height() - 2, f"{getattr(hour, 'hour', 0):02d}")
        painter.end()


def shape_names(codes: tuple[str, ...]) -> str:
    """A shape's name: its unit, or its units when the map draws several as one (it predates their split)."""
    names = " + ".join(region_name(c) for c in codes)
    return tr("coordui.overview.map.shared", names=names) if len(codes) > 1 else names


def store_map(template: ElectionTemplate, opener: StoreOpener) -> RegionMap | None:
    """The map the HQ's template names (observer.regionmap.template_map), or None."""
    return template_map(template.map_file, None if opener.url else Path(opener.path))


def _read_overview(opener: StoreOpener) -> Overview:
    from db.services.overview import read_overview  # SQLAlchemy, numpy: on the helper thread, not at start

    return read_overview(opener.result())


def _read_gaps(opener: StoreOpener) -> dict[str, tuple[float, float]]:
    from db.aggregate import turnout_gaps

    return region_gaps((g.region, g.gap_pp) for g in turnout_gaps(opener.result()))


class OverviewPage(QWidget):
    """``openRequested(target)``: a counter was clicked (one of COUNTERS).
    ``regionRequested(codes)``: a region of the map was clicked (the units its shape stands for).

    ``store`` is the open store, or the ``StoreOpener`` of one still opening (the window's start:
    give ``template`` then, the one its stations reader parsed). ``load`` False: the figures are
    read at the first :meth:`reload`, which the window calls once the store is open.
    """

    openRequested = Signal(str)
    regionRequested = Signal(list)
    loaded = Signal()  # fresh figures are shown

    def __init__(
        self,
        store: ElectionStore | StoreOpener,
        parent: QWidget | None = None,
        template: ElectionTemplate | None = None,
        load: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("overviewPage")
        self._opener = store if isinstance(store, StoreOpener) else StoreOpener.opened(store)
        self.template = template if template is not None else self._opener.result().template
        self.overview: Overview | None = None
        self._generation = 0
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        for i, name in enumerate(COUNTERS):
            button = QPushButton()
            button.setObjectName(f"counter_{name}")
            button.setMinimumHeight(3 * self.fontMetrics().height() + 20)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            button.clicked.connect(lambda _c=False, n=name: self.openRequested.emit(n))
            self.buttons[name] = button
            grid.addWidget(button, i // 4, i % 4)
        self.regions_box = QGroupBox()
        self.region_grid = QGridLayout(self.regions_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.regions_box)
        self.timeline_box = QGroupBox()
        self.timeline = Timeline()
        QVBoxLayout(self.timeline_box).addWidget(self.timeline)
        self.summary = QLabel()
        self.summary.setObjectName("overviewSummary")
        self.summary.setWordWrap(True)
        self._build_map()
        right = QVBoxLayout()
        right.addWidget(scroll, 3)
        right.addWidget(self.timeline_box, 2)
        lower = QHBoxLayout()
        lower.addWidget(self.map_box, 3)
        lower.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(grid)
        layout.addLayout(lower, 1)
        self.bars: dict[str, tuple[QLabel, QProgressBar]] = {}
        plain_labels(self)
        self.retranslate()
        if load:
            self.reload()

    @property
    def store(self) -> ElectionStore:
        """The open store; waits for it if the window came up first."""
        return self._opener.result()

    @property
    def reads_started(self) -> bool:
        """Whether the figures were asked for (a :meth:`reload` ran), read or still being read."""
        return self._generation > 0

    def _build_map(self) -> None:
        self.map_box = QGroupBox()
        self.map_box.setObjectName("overviewMapBox")
        self.map = ChoroplethMap()
        self.map.regionClicked.connect(self.regionRequested)
        self.map.shape_name = shape_names
        self.map_modes = {COVERAGE: QRadioButton(), GAP: QRadioButton()}
        self.map_modes[COVERAGE].setChecked(True)
        modes = QHBoxLayout()
        for mode, button in self.map_modes.items():
            button.setObjectName(f"mapMode_{mode}")
            button.toggled.connect(lambda on, m=mode: self._mode_toggled(on, m))
            modes.addWidget(button)
        modes.addStretch(1)
        self.map_note = QLabel()
        self.map_note.setObjectName("overviewMapNote")
        self.map_note.setWordWrap(True)
        self.map_note.setTextFormat(Qt.TextFormat.PlainText)
        box = QVBoxLayout(self.map_box)
        box.addLayout(modes)
        box.addWidget(self.map, 1)
        box.addWidget(self.map_note)
        self.map_mode = COVERAGE
        self.region_map: RegionMap | None = None
        self.map_error = ""
        self.missing: tuple[str, ...] = ()
        self._gaps: dict[str, tuple[float, float]] | None = None  # read for the current generation, on demand
        self._gap_generation = -1
        self._map_read = False  # the map's file is read with the first figures (_load_map)
        self.map.setVisible(bool(self.template.map_file))

    def _load_map(self) -> None:
        if self._map_read:
            return
        self._map_read = True
        try:
            self.region_map = store_map(self.template, self._opener)
        except MapError as exc:
            self.map_error = exc.message()
        self.map.setVisible(self.region_map is not None)

    def _mode_toggled(self, on: bool, mode: str) -> None:
        if on:
            self.show_map_mode(mode)

    def show_map_mode(self, mode: str) -> None:
        """Colour the map by ``mode`` (COVERAGE or GAP); the gaps are read in the background the first time."""
        self.map_mode = mode
        if mode == GAP and self._gap_generation != self._generation:
            self._read_gaps()
        self._fill_map()

    def _read_gaps(self) -> None:
        generation = self._generation
        self._gap_generation = generation
        self._gaps = None
        opener = self._opener

        def done(gaps: dict[str, tuple[float, float]]) -> None:
            if is_alive(self) and generation == self._generation:
                self._gaps = gaps
                self._fill_map()

        self.gap_operation: Operation[dict[str, tuple[float, float]]] = Operation(
            self,
            lambda _ctx: _read_gaps(opener),
            show_progress=False,
            cancellable=False,
        ).success(done)
        self.gap_operation.run_in_background()

    def _fill_map(self) -> None:
        if self.overview is None:
            return
        self._load_map()
        ov, region_map = self.overview, self.region_map
        if region_map is None:
            return
        units = self.template.units
        codes = [u.code for u in units.on(self.template.date)] if units is not None else []
        codes += [r.region for r in ov.regions if r.region not in codes]
        shapes, self.missing = region_map.for_units(codes)
        self.map.set_shapes(shapes, region_map.width, region_map.height)
        if self.map_mode == COVERAGE:
            values = {r.region: (float(r.reported), float(r.expected)) for r in ov.regions}
        else:
            values = self._gaps or {}
        self.map.set_values(self.map_mode, values)
        self._retranslate_map()

    def _retranslate_map(self) -> None:
        fmt = formatter(current_language())
        self.map_box.setTitle(tr("coordui.overview.map"))
        self.map_modes[COVERAGE].setText(tr("coordui.overview.map.coverage"))
        self.map_modes[GAP].setText(tr("coordui.overview.map.gap"))
        if self.map_mode == COVERAGE:
            self.map.legend_title = tr("coordui.overview.map.coverage_legend")
            self.map.value_text = lambda v: (
                tr("coordui.overview.map.no_data") if v is None else fmt.pct(100 * v, 0 if self.map.top >= 0.1 else 1)
            )
        else:
            self.map.legend_title = tr("coordui.overview.map.gap_legend")
            self.map.value_text = lambda v: tr("coordui.overview.map.no_data") if v is None else fmt.pp(v)
        self.map.detail = self._detail
        notes = []
        if self.map_error:
            notes.append(self.map_error)
        elif self.region_map is None and (self._map_read or not self.template.map_file):
            notes.append(tr("coordui.overview.map.none"))
        if self.map_mode == GAP and self._gaps is None and self.region_map is not None:
            notes.append(tr("coordui.overview.map.reading"))
        if self.missing:
            notes.append(tr("coordui.overview.map.missing", units=", ".join(region_name(c) for c in self.missing)))
        if self.region_map is not None and self.region_map.source:
            notes.append(tr("coordui.overview.map.source", source=self.region_map.source))
        self.map_note.setText("\n".join(notes))
        self.map.update()

    def _detail(self, codes: tuple[str, ...], value: float | None) -> str:
        """The tooltip's figures: reported of expected stations, or the mean gap and over how many stations."""
        fmt = formatter(current_language())
        if value is None:
            return tr("coordui.overview.map.no_data")
        if self.map_mode == GAP:
            n = sum(self._gaps.get(c, (0.0, 0.0))[1] for c in codes) if self._gaps else 0
            return tr("coordui.overview.map.gap_tip", gap=fmt.pp(value), n=fmt.integer(n))
        ov = self.overview
        rows = [r for r in ov.regions if r.region in codes] if ov is not None else []
        reported, expected = sum(r.reported for r in rows), sum(r.expected for r in rows)
        return tr(
            "coordui.overview.map.coverage_tip",
            reported=fmt.integer(reported),
            expected=fmt.integer(expected),
            pct=fmt.pct(100 * value),
        )

    # ---- reading -------------------------------------------------------------------
    def reload(self) -> Operation[Overview]:
        """Read the figures again in the background; a later reload wins over an earlier one."""
        self._generation += 1
        generation = self._generation
        opener = self._opener

        def done(ov: Overview) -> None:
            if is_alive(self) and generation == self._generation:
                self.show_overview(ov)

        self.operation: Operation[Overview] = Operation(
            self, lambda _ctx: _read_overview(opener), show_progress=False, cancellable=False
        ).success(done)
        return self.operation.run_in_background()

    def show_overview(self, ov: Overview) -> None:
        self.overview = ov
        self._fill_regions(ov)
        if self.map_mode == GAP:
            self._read_gaps()  # the figures changed: so may the gaps
        self._fill_map()
        self.timeline.hours = ov.timeline
        self.timeline.update()
        self.retranslate()
        self.loaded.emit()

    def _fill_regions(self, ov: Overview) -> None:
        for label, bar in self.bars.values():
            label.deleteLater()
            bar.deleteLater()
        self.bars.clear()
        for i, r in enumerate(ov.regions):
            label = QLabel()
            label.setTextFormat(Qt.TextFormat.PlainText)
            bar = QProgressBar()
            bar.setObjectName(f"regionBar_{r.region}")
            bar.setRange(0, max(r.expected, 1))
            bar.setValue(r.reported)
            self.region_grid.addWidget(label, i, 0)
            self.region_grid.addWidget(bar, i, 1)
            self.bars[r.region] = (label, bar)

    # ---- language ------------------------------------------------------------------
    def retranslate(self) -> None:
        fmt = formatter(current_language())
        ov = self.overview
        self.regions_box.setTitle(tr("coordui.overview.regions"))
        self.timeline_box.setTitle(tr("coordui.overview.timeline"))
        self._retranslate_map()
        for name, button in self.buttons.items():
            value = fmt.integer(counter_value(ov, name)) if ov is not None else "…"
            params: dict[str, object] = {}
            if name == "reported":
                params["total"] = fmt.integer(ov.stations) if ov is not None else "…"
            if name == "gaps":
                # The file's own threshold, known with the figures (and no number to write before them:
                # the window's first paint then needs no CLDR data, ~25 ms of Babel's loading).
                params["threshold"] = fmt.num(ov.gap_threshold) if ov is not None else "…"
            bold = QFont(button.font())
            bold.setBold(True)
            text = wrap_words(tr(f"coordui.overview.{name}", **params), QFontMetrics(bold), _CAPTION_WIDTH)
            button.setText(f"{value}\n{text}")
            button.setToolTip(tr(f"coordui.overview.tip.{name}"))
            urgent = ov is not None and name not in ("reported",) and counter_value(ov, name) > 0
            style = f"color: {_ATTENTION.name()}; font-weight: bold;" if urgent else ""
            if button.styleSheet() != style:  # setting one, even the same, restyles the button (start-up time)
                button.setStyleSheet(style)
        if ov is None:
            self.summary.setText(tr("coordui.overview.loading"))
            return
        self.summary.setText(
            tr(
                "coordui.overview.summary",
                counted=fmt.integer(ov.counted),
                excluded=fmt.integer(ov.excluded),
                merged=fmt.integer(ov.merged_packages),
                violations=fmt.integer(ov.violations),
                medium=fmt.integer(ov.violations_by_severity.get("medium", 0)),
            )
        )
        for region, (label, bar) in self.bars.items():
            r = next(x for x in ov.regions if x.region == region)
            label.setText(region_name(region))
            bar.setFormat(
                tr(
                    "coordui.overview.bar",
                    reported=fmt.integer(r.reported),
                    expected=fmt.integer(r.expected),
                    pct=fmt.pct(100.0 * r.reported / r.expected if r.expected else 0.0),
                )
            )
