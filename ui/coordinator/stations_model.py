"""The stations table's model: 100,000 stations, rows read a page at a time.

Anki's browser pattern (STYLE.md §7): the model holds only the ordered list of
station ids, so ``rowCount`` is exact and the scroll bar is right from the
start; row contents are computed a page at a time the first time the view asks
for one of its cells, and kept in a bounded cache. Numbers are written by
:mod:`observer.fmt`, as the command line and the report write them.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from db.services.station_table import (
    FLAGS,
    ReuseIndex,
    StationFilter,
    StationRow,
    StationSource,
)
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.regions import region_name
from ui.coordinator.text import plain_tooltip
from ui.qt import (
    QAbstractTableModel,
    QBrush,
    QColor,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

if TYPE_CHECKING:
    from db.reuse import ReusePair


log = logging.getLogger("baqylau.ui")

PAGE_SIZE = 200
MAX_CACHED_PAGES = 64  # ~13,000 rows: enough for fast back-and-forth scrolling, bounded memory

COLUMNS: tuple[str, ...] = ("code", "region", "district", "registered", "observed", "official", "gap", "flags")
_NUMERIC = {"registered", "observed", "official", "gap"}
# Columns that depend on which protocol counts at a station (db.conflicts.effective_protocols).
_NEEDS_EFFECTIVE = {"observed", "gap", "flags"}
_FIGURES_POLL_MS = 30  # how often the table looks whether the observers' figures have arrived
_IDS_POLL_MS = 20  # how often a shared HQ's table looks whether its id list has arrived
_WARN = QColor(255, 236, 179)  # pale amber: prints and reads in grey too
_BAD = QColor(255, 205, 210)

Index = QModelIndex | QPersistentModelIndex


def _num(value: float | None) -> str:
    """A percentage under a "…, %" header, written as the CLI and the report write it (observer/fmt.py)."""
    return "" if value is None else formatter(current_language()).num(value)


def _pp(value: float | None) -> str:
    return "" if value is None else formatter(current_language()).pp(value)


def flag_text(row: StationRow) -> str:
    parts = []
    for flag in FLAGS:
        if flag in row.flags:
            if flag == "violations":
                parts.append(tr("coordui.flag.violations_n", n=row.violations))
            else:
                parts.append(tr(f"coordui.flag.{flag}"))
    return ", ".join(parts)


def reuse_kind(pair: ReusePair) -> str:
    from db.reuse import IDENTICAL  # loaded already: a pair comes from the scan

    return tr("rel.reuse.identical") if pair.kind == IDENTICAL else tr("rel.reuse.near", distance=pair.distance)


def reuse_text(row: StationRow) -> str:
    """The photos this station shares with others, one line per pair, this station's side first."""
    lines = [tr("rel.reuse.tip_title")]
    for pair in row.reused:
        mine, other = (pair.a, pair.b) if pair.a.station_code == row.code else (pair.b, pair.a)
        lines.append(
            tr(
                "rel.reuse.tip_pair",
                kind=reuse_kind(pair),
                file=mine.original_name,
                observer=mine.observer_name,
                other_station=other.station_code,
                other_observer=other.observer_name,
                other_file=other.original_name,
            )
        )
    return "\n".join(lines)


class StationsModel(QAbstractTableModel):
    """Rows are station ids; cells come from :class:`StationSource` pages on demand."""

    countChanged = Signal(int)
    figuresReady = Signal()  # the effective protocols arrived: observed figures and flags are shown

    def __init__(self, source: StationSource, parent: Any = None) -> None:
        super().__init__(parent)
        self._source = source
        # Polled on the UI thread rather than called back from the worker: a worker's callback that
        # holds the model can drop its last reference there, and PySide then deletes it unsafely.
        self._figures_timer = QTimer(self)
        self._figures_timer.setInterval(_FIGURES_POLL_MS)
        self._figures_timer.timeout.connect(self._poll_figures)
        self._pending_pages = False  # a cached page was read before the figures were known
        self._filter = StationFilter()
        self._sort = ("code", False)
        self._ids: list[str] = []
        # After reload(first_screen=True): rows the table has, while _ids holds only the first page.
        self._count: int | None = None
        self._generation = 0  # bumped by every reload: a late completion of an older list is dropped
        # A shared HQ (a server, maybe slow or far): the id list is read on a helper thread; the table
        # shows the previous list until it comes (generation, the read).
        self._ids_read: tuple[int, Future[list[str]], bool] | None = None
        self._ids_timer = QTimer(self)
        self._ids_timer.setInterval(_IDS_POLL_MS)
        self._ids_timer.timeout.connect(self._poll_ids)
        # Likewise its pages of rows, as the view asks for them: page number -> (the list's state, the read).
        self._page_reads: dict[int, tuple[int, Future[dict[str, StationRow]]]] = {}
        self._pages_state = 0  # bumped whenever the cached pages are dropped: older reads are then dropped too
        self._pages_timer = QTimer(self)
        self._pages_timer.setInterval(_IDS_POLL_MS)
        self._pages_timer.timeout.connect(self._poll_pages)
        self._pages: OrderedDict[int, list[StationRow | None]] = OrderedDict()
        self.pages_loaded = 0  # for tests and measurements: how much work scrolling caused

    # ---- state -------------------------------------------------------------
    @property
    def source(self) -> StationSource:
        return self._source

    @property
    def station_filter(self) -> StationFilter:
        return self._filter

    def set_filter(self, flt: StationFilter) -> None:
        self._filter = flt
        self.reload()

    def reload(self, first_screen: bool = False) -> None:
        """Re-read ids (after a filter change, a merge or a decision); drops the row cache.

        ``first_screen`` (the unfiltered table, as a window opens): read the first
        page's ids and the station count now, the whole ordered list once the event
        loop runs (or as soon as a row past the first page is asked for).
        """
        # The id list first, then the effective protocols in the background: run side by side, the
        # worker's Python holds the GIL that each of the 100,000 fetched rows waits for (7x slower).
        self._generation += 1
        if self._source.reads_in_background and not (first_screen and self._filter == StationFilter()):
            self._read_ids_later()  # the rows on screen stay until the new list is in
            return
        self.beginResetModel()
        if first_screen and self._filter == StationFilter():
            self._ids = self._source.ids(self._filter, *self._sort, limit=PAGE_SIZE)
            self._count = self._source.total()
            if len(self._ids) >= self._count:
                self._count = None  # it all fitted in one page
            elif self._source.reads_in_background:
                self._read_ids_later(completes_first_screen=True)  # the rest of the list, off the UI thread
            else:
                generation = self._generation
                QTimer.singleShot(0, lambda: self._complete_ids(generation))
        else:
            self._ids = self._source.ids(self._filter, *self._sort)
            self._count = None
        self._drop_pages()
        self._pending_pages = False
        self.endResetModel()
        self._ids_shown()

    def _ids_shown(self) -> None:
        self.countChanged.emit(self.rowCount())
        if not self._source.effective_ready():
            self._source.prefetch()  # starts the read (once the store is open) if none is under way
            self._figures_timer.start()

    # ---- a shared HQ's id list, read on a helper thread -------------------------------------
    def _read_ids_later(self, completes_first_screen: bool = False) -> None:
        """Ask for the id list of the current filter and order; :meth:`_poll_ids` shows it when it comes.

        ``completes_first_screen``: the first screen is showing (its first page read, the count
        known) and the list completes it, as :meth:`_complete_ids` does for a file. Otherwise the
        rows on screen stay until the new list replaces them.
        """
        read = self._source.ids_in_background(self._filter, *self._sort)
        self._ids_read = (self._generation, read, completes_first_screen)
        self._ids_timer.start()
        if not completes_first_screen and not self._source.effective_ready():
            self._source.prefetch()  # the figures are read meanwhile, on their own helper thread
            self._figures_timer.start()

    def _poll_ids(self) -> None:
        read = self._ids_read
        if read is None or self._source.closed:
            self._ids_timer.stop()
            return
        if read[1].done():
            self._take_ids()

    def _take_ids(self, in_paint: bool = False) -> None:
        """The list asked for by :meth:`_read_ids_later` (waits for it if it has not come yet)."""
        read, self._ids_read = self._ids_read, None
        self._ids_timer.stop()
        if read is None:
            return
        generation, future, completes_first_screen = read
        ids = future.result()  # a failure (the server's message) reaches the app's error dialog
        if generation != self._generation or self._source.closed:
            return  # a newer reload asked for another list meanwhile
        head, expected = self._ids, self._count
        self._ids, self._count = ids, None
        if completes_first_screen and len(ids) == expected and ids[: len(head)] == head:
            return  # the rows on screen are the same rows: nothing to redraw
        if in_paint:  # asked for inside data(), where no model reset may happen: from the event loop
            QTimer.singleShot(0, self._reset_rows)
            return
        self._reset_rows()
        self._ids_shown()

    def _poll_figures(self) -> None:
        if self._source.closed or self._source.stopped:
            self._figures_timer.stop()
        elif self._source.effective_ready():
            self._figures_timer.stop()
            self._figures_arrived()

    def _complete_ids(self, generation: int | None = None, in_paint: bool = False) -> None:
        """Read the whole ordered id list after a first-screen reload (or take the one being read)."""
        if self._ids_read is not None:
            self._take_ids(in_paint)
            return
        if self._count is None or (generation is not None and generation != self._generation) or self._source.closed:
            return
        expected = self._count
        ids = self._source.ids(self._filter, *self._sort)
        head = self._ids
        self._count = None
        self._ids = ids
        if len(ids) == expected and ids[: len(head)] == head:
            return  # the rows on screen are the same rows: nothing to redraw
        # The file changed between the two reads. This may run inside data() (a row past the first
        # page was asked for), where a model reset must not happen: reset from the event loop.
        QTimer.singleShot(0, self._reset_rows)

    def _reset_rows(self) -> None:
        self.beginResetModel()
        self._drop_pages()
        self._pending_pages = False
        self.endResetModel()
        self.countChanged.emit(len(self._ids))

    def _figures_arrived(self) -> None:
        if self._pending_pages:
            # Rows read meanwhile showed "loading": read them again with the figures.
            self._pending_pages = False
            self._drop_pages()
            if self.rowCount():
                self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, len(COLUMNS) - 1))
        self.figuresReady.emit()

    def refresh(self) -> None:
        """The data changed underneath: forget derived sets too."""
        self._source.invalidate()
        self.reload()

    def set_reuse(self, reuse: ReuseIndex) -> None:
        """A finished reused-photo scan: flag the rows without losing the coordinator's place."""
        self._source.set_reuse(reuse)
        if self._filter.reused_evidence:
            self.reload()  # the filtered id list itself changes
            return
        self._drop_pages()
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, len(COLUMNS) - 1))

    def station_ids(self) -> list[str]:
        """Every station id of the table, in its order."""
        self._complete_ids()
        return list(self._ids)

    def station_id(self, row: int) -> str:
        if row >= len(self._ids):
            self._complete_ids()
        return self._ids[row]

    def row_data(self, row: int, wait: bool = True) -> StationRow | None:
        """The row's contents; with ``wait`` complete with the observers' figures (waits for them).

        The view's cells (:meth:`data`) never wait: until the figures are read they
        show the row marked ``pending``.
        """
        if not 0 <= row < self.rowCount():
            return None
        if row >= len(self._ids):
            self._complete_ids(in_paint=True)  # scrolled before the whole list was read: read it now
            if row >= len(self._ids):
                return None
        page_no = row // PAGE_SIZE
        page = self._pages.get(page_no)
        if page is None and not wait and self._source.reads_in_background:
            self._read_page_later(page_no)  # the view is painting: never wait for a server
            return None
        if page is None or (wait and any(r is not None and r.pending for r in page)):
            page = self._load_page(page_no, wait)
        else:
            self._pages.move_to_end(page_no)
        return page[row - page_no * PAGE_SIZE]

    def _drop_pages(self) -> None:
        """Forget the cached pages (and the pages being read: they would show an older state)."""
        self._pages.clear()
        self._page_reads.clear()
        self._pages_state += 1

    def _read_page_later(self, page_no: int) -> None:
        """A shared HQ: read the page on the helper thread; :meth:`_poll_pages` shows it when it comes."""
        if page_no in self._page_reads:
            return
        ids = self._ids[page_no * PAGE_SIZE : (page_no + 1) * PAGE_SIZE]
        self._page_reads[page_no] = (self._pages_state, self._source.rows_in_background(ids))
        self._pages_timer.start()

    def _poll_pages(self) -> None:
        if self._source.closed:
            self._pages_timer.stop()
            self._page_reads.clear()
            return
        for page_no, (state, future) in list(self._page_reads.items()):
            if not future.done():
                continue
            del self._page_reads[page_no]
            if state != self._pages_state:
                continue
            exc = future.exception()
            if exc is not None:
                # The view asks again when it next paints the rows; a server that is gone says so
                # through the window's other reads. Never a dialog per page.
                log.warning("a page of the stations table was not read: %s", exc)
                continue
            rows = future.result()
            self._store_page(page_no, [rows.get(i) for i in self._ids[page_no * PAGE_SIZE : (page_no + 1) * PAGE_SIZE]])
            first = page_no * PAGE_SIZE
            last = min(first + PAGE_SIZE, self.rowCount()) - 1
            if last >= first:
                self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
        if not self._page_reads:
            self._pages_timer.stop()

    @property
    def pages_reading(self) -> int:
        """Pages being read on the helper thread (a shared HQ's table; tests wait for none)."""
        return len(self._page_reads)

    def _load_page(self, page_no: int, wait: bool) -> list[StationRow | None]:
        ids = self._ids[page_no * PAGE_SIZE : (page_no + 1) * PAGE_SIZE]
        rows = self._source.rows(ids, wait=wait)
        page: list[StationRow | None] = [rows.get(i) for i in ids]
        self._store_page(page_no, page)
        return page

    def _store_page(self, page_no: int, page: list[StationRow | None]) -> None:
        if any(r is not None and r.pending for r in page):
            self._pending_pages = True
        self._pages[page_no] = page
        self._pages.move_to_end(page_no)
        self.pages_loaded += 1
        while len(self._pages) > MAX_CACHED_PAGES:
            self._pages.popitem(last=False)

    # ---- Qt model interface -------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return len(self._ids) if self._count is None else self._count

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return tr(f"coordui.stations.col.{COLUMNS[section]}")
        if role == Qt.ItemDataRole.ToolTipRole:
            return tr(f"coordui.stations.tip.{COLUMNS[section]}")
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.column() >= len(COLUMNS):
            return None
        if role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.TextAlignmentRole,
            Qt.ItemDataRole.BackgroundRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            h = Qt.AlignmentFlag.AlignRight if col in _NUMERIC else Qt.AlignmentFlag.AlignLeft
            return int(h | Qt.AlignmentFlag.AlignVCenter)
        row = self.row_data(index.row(), wait=False)  # the view is painting: never wait here
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == Qt.ItemDataRole.BackgroundRole:
            if "conflict" in row.flags or "disputed" in row.flags:
                return QBrush(_BAD)
            if col == "flags" and row.flags - {"no_official"}:
                return QBrush(_WARN)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.pending and col in _NEEDS_EFFECTIVE:
                return tr("coordui.stations.loading_tip")
            if col == "flags" and (row.failed_checks or row.reused):
                # The rule in words with the numbers that disagree, never the raw expression ("in_boxes <= issued").
                template = self._source.reader.template
                parts = ["\n".join(o.describe(template) for o in row.check_outcomes)] if row.check_outcomes else []
                if row.reused:
                    parts.append(reuse_text(row))
                return plain_tooltip("\n\n".join(parts))  # "a <= b" and file names must not be read as markup
            if col == "region":
                return plain_tooltip(row.region)
            return None
        return None

    @staticmethod
    def _display(row: StationRow, col: str) -> str:
        if row.pending and col in _NEEDS_EFFECTIVE:
            return "…"  # still being read: never shown as "not observed"
        if col == "code":
            return row.code
        if col == "region":
            return region_name(row.region) if row.region else ""
        if col == "district":
            return row.district
        if col == "registered":
            return "" if row.registered is None else formatter(current_language()).integer(row.registered)
        if col == "observed":
            return _num(row.observed_pct)
        if col == "official":
            return _num(row.official_pct)
        if col == "gap":
            return _pp(row.gap_pp)  # observed minus official, as everywhere (observer.definitions.gap_pp)
        return flag_text(row)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        # A reset, not a layout change: rows move wholesale and persistent indexes would point at the wrong stations.
        self._sort = (COLUMNS[column], order == Qt.SortOrder.DescendingOrder)
        self.reload()
