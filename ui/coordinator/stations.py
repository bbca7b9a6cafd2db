"""The coordinator's stations table page: filters and search above the lazy table.

The model is :mod:`ui.coordinator.stations_model`; Enter or a double-click on a
row opens the station's story (``storyRequested``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from db.services.station_table import (
    QueryGuard,
    ReuseIndex,
    ScanStopped,
    StationFilter,
    StationSource,
    reuse_index,
)
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.regions import region_name
from ui.coordinator.stations_model import (  # noqa: F401  - re-exported: tests and benchmarks import them here
    COLUMNS,
    PAGE_SIZE,
    StationsModel,
    flag_text,
    reuse_text,
)
from ui.coordinator.text import plain_labels
from ui.input_guard import ComboBox
from ui.operations import Operation, OperationContext
from ui.qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFont,
    QFontMetrics,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QModelIndex,
    Qt,
    QTableView,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
    is_alive,
)
from ui.widgets.style import two_lines

if TYPE_CHECKING:
    from db.services.hq import StoreOpener
    from db.services.station_reader import StationReader
    from db.store import ElectionStore
    from ui.qt import QShowEvent

log = logging.getLogger("baqylau.ui")


class StationsPage(QWidget):
    """Filters above the table; double-clicking a conflicting station asks to open it.

    With ``controls=False`` only the model is made (its first screen read, the
    observers' figures and the reused-photo scan as usual): the filters and the
    table are built when the page is first shown, or by :meth:`build`. The
    coordinator window opens on its overview, and building them (a combo box of
    regions, a table view) cost a tenth of its start.
    """

    stationActivated = Signal(str)  # station id
    storyRequested = Signal(str, list)  # station id, the table's station ids in order (for next / previous)

    def __init__(
        self,
        store: ElectionStore | StoreOpener,
        parent: QWidget | None = None,
        reader: StationReader | None = None,
        controls: bool = True,
    ) -> None:
        super().__init__(parent)
        self.model = StationsModel(StationSource(store, reader), self)
        self.reuse_operation: Operation[ReuseIndex] | None = None
        self._reuse_guard: QueryGuard | None = None
        self._reuse_generation = 0
        # An overview counter's own list of stations (gaps above a threshold, control relations as
        # `baqylau check` finds them), the key of its label, and the threshold the label names.
        self._only: frozenset[str] | None = None
        self._picked = ""
        self._threshold: float | None = None
        self.built = False  # the filters and the table exist (build() ran)
        self.model.countChanged.connect(self._update_count)
        if controls:
            self.build()
        self.model.reload(first_screen=True)

    def build(self) -> None:
        """Make the filters and the table, once (a page made with ``controls=False``)."""
        if self.built:
            return
        self.built = True
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_filters())
        layout.addLayout(self._build_flags())
        layout.addWidget(self._build_view())

        # Typing a station code re-queries after a short pause, not on every key.
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.region.currentIndexChanged.connect(lambda _i: self.apply_filters())
        for box in self._flag_boxes():
            box.toggled.connect(lambda _c: self.apply_filters())
        plain_labels(self)

        self._fill_regions()
        self.retranslate()

    def showEvent(self, event: QShowEvent) -> None:
        self.build()  # added to a page on screen, the controls are shown as the event loop runs next
        super().showEvent(event)

    def _build_filters(self) -> QHBoxLayout:
        self.region = ComboBox()
        self.region.setObjectName("regionFilter")
        self.search = QLineEdit()
        self.search.setObjectName("codeSearch")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(190)
        self.count = QLabel()
        self.count.setObjectName("stationCount")
        self.region_label = QLabel()
        self.search_label = QLabel()
        # Long region names and translated labels: keep the combo from sizing to its longest item,
        # and put the check boxes on their own row so the page fits a 1366-pixel screen.
        self.region.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.region.setMinimumContentsLength(22)
        filters = QHBoxLayout()
        filters.addWidget(self.search_label)
        filters.addWidget(self.search)
        filters.addWidget(self.region_label)
        filters.addWidget(self.region)
        filters.addStretch()
        filters.addWidget(self.count)
        return filters

    def _build_flags(self) -> QHBoxLayout:
        self.observed = QCheckBox()
        self.observed.setObjectName("observedFilter")
        self.disputed = QCheckBox()
        self.disputed.setObjectName("disputedFilter")
        self.violations = QCheckBox()
        self.violations.setObjectName("violationsFilter")
        self.checks = QCheckBox()
        self.checks.setObjectName("checksFilter")
        self.reused = QCheckBox()
        self.reused.setObjectName("reusedFilter")
        self.picked = QCheckBox()  # shown only while an overview counter's list narrows the table
        self.picked.setObjectName("pickedFilter")
        self.picked.setVisible(False)
        flags = QHBoxLayout()
        for box in self._flag_boxes():
            flags.addWidget(box)
        flags.addStretch()
        return flags

    def _flag_boxes(self) -> tuple[QCheckBox, ...]:
        return (self.observed, self.disputed, self.violations, self.checks, self.reused, self.picked)

    def _build_view(self) -> QTableView:
        self.view = QTableView()
        self.view.setObjectName("stationsView")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setSortingEnabled(False)  # enabling it would sort by column 0 at once; we sort on click
        header = self.view.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.sortIndicatorChanged.connect(self.model.sort)
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)
        header.setFixedHeight(2 * self.fontMetrics().height() + 16)
        # Fixed row heights: the view must not measure 100,000 rows to lay them out.
        vheader = self.view.verticalHeader()
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(self.fontMetrics().height() + 8)
        vheader.hide()
        # "activated": a double-click, and Enter on the current row (the keyboard's way in).
        self.view.activated.connect(self._activated)
        return self.view

    def _set_column_widths(self) -> None:
        """Wide enough for the translated header and typical contents; the flags column takes the rest."""
        minimum = {
            "code": 80,
            "region": 290,
            "district": 150,
            "registered": 100,
            "observed": 100,
            "official": 100,
            "gap": 100,
        }
        header = self.view.horizontalHeader()
        bold = QFont(header.font())
        bold.setBold(True)
        fm = QFontMetrics(bold)
        for i, col in enumerate(COLUMNS):
            if col in minimum:
                # The header has room for two lines: the column needs the wider line of the best split
                # in two, not just the longest word ("Official turnout, %" took three lines and clipped).
                lines = two_lines(fm, str(self.model.headerData(i, Qt.Orientation.Horizontal))).split("\n")
                self.view.setColumnWidth(i, max(minimum[col], max(fm.horizontalAdvance(line) for line in lines) + 30))

    def _fill_regions(self) -> None:
        if not self.built:
            return  # filled when built
        current = self.region.currentData()
        self.region.blockSignals(True)
        self.region.clear()
        self.region.addItem(tr("coordui.stations.all_regions"), "")
        for code in self.model.source.regions():
            self.region.addItem(region_name(code), code)
        idx = self.region.findData(current) if current else 0
        self.region.setCurrentIndex(max(idx, 0))
        self.region.blockSignals(False)

    def retranslate(self) -> None:
        if not self.built:
            return  # build() translates
        self.search_label.setText(tr("coordui.stations.search"))
        self.search.setPlaceholderText(tr("coordui.stations.search_hint"))
        self.region_label.setText(tr("coordui.stations.region"))
        self.observed.setText(tr("coordui.stations.only_observed"))
        self.picked.setText(
            tr(f"coordui.stations.picked_{self._picked}", threshold=formatter(current_language()).num(self._threshold))
            if self._picked
            else ""
        )
        self.disputed.setText(tr("coordui.stations.only_disputed"))
        self.violations.setText(tr("coordui.stations.only_violations"))
        self.checks.setText(tr("coordui.stations.only_checks"))
        self.reused.setText(tr("coordui.stations.only_reused"))
        self.reused.setToolTip(tr("coordui.stations.only_reused_tip"))
        self._fill_regions()
        self.model.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)
        if self.model.rowCount():
            self.model.dataChanged.emit(
                self.model.index(0, 0), self.model.index(self.model.rowCount() - 1, len(COLUMNS) - 1)
            )
        self._update_count(self.model.rowCount())
        self._set_column_widths()

    def current_filter(self) -> StationFilter:
        return StationFilter(
            region=self.region.currentData() or "",
            code_search=self.search.text(),
            disputed=self.disputed.isChecked(),
            has_violations=self.violations.isChecked(),
            breaks_checks=self.checks.isChecked(),
            reused_evidence=self.reused.isChecked(),
            observed=self.observed.isChecked(),
            only=self._only if self.picked.isChecked() else None,
        )

    def show_filtered(self, flt: StationFilter, picked: str = "", threshold: float | None = None) -> None:
        """Set the filter controls to ``flt`` (what an overview counter opens) and apply it once.

        ``flt.only``: the counter's own stations, under a check box labelled
        ``coordui.stations.picked_<picked>`` (naming ``threshold``).
        """
        self._only, self._picked, self._threshold = flt.only, picked if flt.only is not None else "", threshold
        boxes = {
            self.observed: flt.observed,
            self.disputed: flt.disputed,
            self.violations: flt.has_violations,
            self.checks: flt.breaks_checks,
            self.reused: flt.reused_evidence,
            self.picked: flt.only is not None,
        }
        for widget in (self.search, self.region, *boxes):
            widget.blockSignals(True)
        self.search.setText(flt.code_search)
        self.region.setCurrentIndex(max(self.region.findData(flt.region), 0))
        for box, checked in boxes.items():
            box.setChecked(checked)
        self.picked.setVisible(flt.only is not None)
        for widget in (self.search, self.region, *boxes):
            widget.blockSignals(False)
        self.retranslate()
        self.apply_filters()

    def apply_filters(self) -> None:
        self._debounce.stop()
        self.model.set_filter(self.current_filter())

    def refresh(self) -> None:
        self.model.refresh()  # forgets the cached region list and count too
        self._fill_regions()

    def scan_reused_evidence(self, after_figures: bool = False) -> Operation[ReuseIndex]:
        """Look for photos submitted for more than one station, off the UI thread (seconds at 10,000 photos).

        Started when the window opens and after each merge; a scan started later
        wins over one still running, so an older result never overwrites a newer one.
        With ``after_figures`` it starts once the observers' figures are shown (run
        side by side, its thumbnail decoding would slow them down for the GIL);
        :meth:`stop_background` stops it either way.
        """
        self._reuse_generation += 1
        generation = self._reuse_generation
        source = self.model.source
        if self._reuse_guard is not None:
            self._reuse_guard.interrupt()  # superseded: its result would be dropped anyway
        guard = QueryGuard()
        self._reuse_guard = guard

        def scan(_ctx: OperationContext) -> ReuseIndex:
            return reuse_index(source.store, guard)  # on the worker: waits there if the store is still opening

        def done(reuse: ReuseIndex) -> None:
            if is_alive(self) and generation == self._reuse_generation:
                self.model.set_reuse(reuse)

        op: Operation[ReuseIndex] = Operation(self, scan, show_progress=False, cancellable=False).success(done)
        op.failure(self._reuse_failed)
        self.reuse_operation = op
        if not after_figures or self.model.source.effective_ready():
            op.run_in_background()
        else:
            started = False

            def start() -> None:
                nonlocal started
                if not started and not guard.stopped:
                    started = True
                    op.run_in_background()

            self.model.figuresReady.connect(start)
        return op

    def stop_background(self) -> None:
        """The window is closing: stop the reused-photo scan and the figures read at once."""
        self._reuse_generation += 1
        if self._reuse_guard is not None:
            self._reuse_guard.interrupt()
        self.model.source.stop()

    def _reuse_failed(self, exc: BaseException) -> bool:
        if isinstance(exc, ScanStopped):
            return True  # stopped on purpose (window closing, or a newer scan)
        # The window (and its file) may be gone by the time a scan fails: nobody to tell then.
        if not is_alive(self):
            log.info("reused-photo scan ended after its window closed: %s", exc)
            return True
        return False

    def _update_count(self, shown: int) -> None:
        if not self.built:
            return  # build() shows the count
        self.count.setText(tr("coordui.stations.count", shown=shown, total=self.model.source.total()))
        if self.model.source.reads_in_background:
            # A shared HQ's regions come with the id list, read on a helper thread: a region another
            # coordinator's import added appears once they are in.
            listed = [self.region.itemData(i) for i in range(1, self.region.count())]
            if listed != self.model.source.regions():
                self._fill_regions()

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            sid = self.model.station_id(index.row())
            self.stationActivated.emit(sid)
            self.storyRequested.emit(sid, self.model.station_ids())
