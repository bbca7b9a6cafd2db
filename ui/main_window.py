"""The observer's window: the day's pages in order, a language switch, a message bar."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TypeVar

from db.store import ElectionStore
from observer import i18n
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.review import Progress, progress, review_items
from ui.pages.base import Page
from ui.pages.checklists import ChecklistsPage
from ui.pages.export import ExportPage
from ui.pages.protocol import ProtocolPage
from ui.pages.review import ReviewPage, day_record
from ui.pages.setup import SetupPage
from ui.pages.spoiled import SpoiledPage
from ui.pages.turnout import TurnoutPage
from ui.pages.violations import ViolationsPage
from ui.qt import (
    QAction,
    QCloseEvent,
    QHBoxLayout,
    QKeySequence,
    QLabel,
    QListWidget,
    QMainWindow,
    QSizePolicy,
    QStackedWidget,
    Qt,
    QTimer,
    QToolBar,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ui.settings import Settings
from ui.widgets.language import LanguageCombo, language_bridge
from ui.widgets.messages import MessageBar, message_bridge
from ui.widgets.style import wrap_text

P = TypeVar("P", bound=Page)

PAGE_CLASSES: tuple[type[Page], ...] = (
    SetupPage,
    TurnoutPage,
    ProtocolPage,
    SpoiledPage,
    ViolationsPage,
    ChecklistsPage,
    ReviewPage,
    ExportPage,
)


# The names observer.review uses for the pages its items link to, in PAGE_CLASSES order.
PAGE_NAMES: tuple[str, ...] = (
    "setup",
    "turnout",
    "protocol",
    "spoiled",
    "violations",
    "checklists",
    "review",
    "export",
)
# The page list takes what the page beside it can spare at 125% (1093 logical pixels wide).
NAV_MIN_WIDTH, NAV_MAX_WIDTH = 190, 240
NAV_PADDING = 40
MIN_WIDTH, MIN_HEIGHT = 900, 460  # the item's padding (style sheet) and the frame


class MainWindow(QMainWindow):
    """One open observer file. File actions are signals: the launcher swaps windows."""

    new_requested = Signal()
    open_requested = Signal()
    close_requested = Signal()

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.settings = settings
        # Fits a 1366x768 laptop at 150% scaling (910x512 logical pixels, less a task bar), so at 125% too;
        # no page needs a sideways scroll bar at this size (tests/ui/test_observer_day.py), each scrolls down.
        self.setMinimumSize(MIN_WIDTH, MIN_HEIGHT)
        # Records are written under the observer's id; make sure there is one before the first click.
        if store.observer_id is None:
            store.set_observer(settings.observer_name, settings.organisation)

        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.message_bar = MessageBar(central)
        outer.addWidget(self.message_bar)
        row = QHBoxLayout()
        row.setSpacing(0)
        self.nav = QListWidget(central)
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(NAV_MIN_WIDTH)  # widened to the longest page name in retranslate()
        self.nav.setWordWrap(True)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stack = QStackedWidget(central)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        outer.addLayout(row, 1)
        self.setCentralWidget(central)

        self.pages: list[Page] = []
        for cls in PAGE_CLASSES:
            page = cls(store, settings, self.stack)
            self.stack.addWidget(page)
            self.pages.append(page)
            self.nav.addItem("")
        self.setup_page = self.page(SetupPage)
        self.setup_page.station_changed.connect(self._station_changed)
        self.review_page = self.page(ReviewPage)
        self.export_page = self.page(ExportPage)
        self.review_page.jump_requested.connect(self.jump_to)
        self.review_page.export_anyway.connect(self._export_anyway)
        self.export_page.review_requested.connect(lambda: self.show_page(self.pages.index(self.review_page)))
        self.marks: list[str] = [""] * len(self.pages)
        # Marks follow every saved edit; a zero timer folds a burst of edits into one read.
        self._marks_timer = QTimer(self)
        self._marks_timer.setSingleShot(True)
        self._marks_timer.setInterval(0)
        self._marks_timer.timeout.connect(self.update_marks)

        self.toolbar = QToolBar(self)
        self.toolbar.setMovable(False)
        self.addToolBar(self.toolbar)
        self.station_label = QLabel(self.toolbar)
        self.station_label.setTextFormat(Qt.TextFormat.PlainText)
        self.station_label.setStyleSheet("font-weight: bold; padding: 0 12px;")
        self.toolbar.addWidget(self.station_label)
        spacer = QWidget(self.toolbar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.language_label = QLabel(self.toolbar)
        self.toolbar.addWidget(self.language_label)
        self.language_combo = LanguageCombo(self.toolbar)
        self.toolbar.addWidget(self.language_combo)

        self._build_menu()
        self.saved_label = QLabel(self)
        self._saved_at: datetime | None = None  # shown again in a new language
        self.statusBar().addPermanentWidget(self.saved_label)

        self.nav.currentRowChanged.connect(self.show_page)
        language_bridge().changed.connect(self._language_changed)
        message_bridge().saved.connect(self._saved)
        self.retranslate()
        self.nav.setCurrentRow(0 if store.current_station() is None else 1)

    def _build_menu(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("")
        self.new_action = QAction(self)
        self.new_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_action.triggered.connect(self.new_requested)
        self.open_action = QAction(self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.open_requested)
        self.close_action = QAction(self)
        self.close_action.triggered.connect(self.close_requested)
        self.quit_action = QAction(self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.triggered.connect(self.close)
        for action in (self.new_action, self.open_action, self.close_action):
            self.file_menu.addAction(action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)
        self.go_menu = bar.addMenu("")
        self.page_actions: list[QAction] = []
        for index in range(len(self.pages)):
            action = QAction(self)
            action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
            action.triggered.connect(lambda _checked=False, i=index: self.nav.setCurrentRow(i))
            self.go_menu.addAction(action)
            self.page_actions.append(action)
        self.language_menu = bar.addMenu("")
        self.language_actions: dict[str, QAction] = {}
        for lang in i18n.LANGUAGES:
            action = QAction(i18n.LANGUAGE_NAMES[lang], self)
            action.setCheckable(True)
            action.triggered.connect(lambda _checked=False, l=lang: i18n.set_language(l))
            self.language_menu.addAction(action)
            self.language_actions[lang] = action

    def page(self, cls: type[P]) -> P:
        return next(p for p in self.pages if isinstance(p, cls))

    # ---- behaviour -----------------------------------------------------
    def show_page(self, index: int) -> None:
        if 0 <= index < len(self.pages):
            self.pages[index].refresh()
            self.stack.setCurrentIndex(index)
            if self.nav.currentRow() != index:
                self.nav.setCurrentRow(index)

    def jump_to(self, page_name: str, target: str) -> None:
        """Show a page and put the cursor on a field (a review item's link)."""
        index = PAGE_NAMES.index(page_name) if page_name in PAGE_NAMES else -1
        if not 0 <= index < len(self.pages):
            return
        self.show_page(index)
        focus = getattr(self.pages[index], "focus_target", None)
        if focus is not None:
            focus(target)

    def _export_anyway(self, reason: str) -> None:
        folder = self.export_page.folder.text().strip()
        self.show_page(self.pages.index(self.export_page))
        if not folder:
            self.export_page.export_clicked()  # says that a folder is needed
            return
        if self.export_page.export_to(Path(folder), reason) is not None:
            self.review_page.clear_reason()

    def update_marks(self) -> None:
        """Progress marks in the page list: what is still open on each page."""
        record = day_record(self.store)
        marks = [""] * len(self.pages)
        if record is not None:
            prog = progress(self.store.template, record)
            open_items = len(review_items(self.store.template, record))
            for index, page in enumerate(self.pages):
                marks[index] = _mark(page, prog, open_items)
        self.marks = marks
        self._fit_nav()
        for index, page in enumerate(self.pages):
            self.nav.item(index).setText(self._nav_text(index, tr(page.title_key), marks[index]))

    def _nav_text(self, index: int, title: str, mark: str) -> str:
        """A page's number, name and mark, wrapped by hand to the list's width (a list item never wraps)."""
        self.nav.ensurePolished()  # the style sheet's font
        metrics = self.nav.fontMetrics()
        indent = "      "
        width = self.nav.width() - NAV_PADDING - metrics.horizontalAdvance(indent)
        number = f"{index + 1}  "
        lines = wrap_text(metrics, title, width)  # the number is narrower than the indent
        lines[0] = number + lines[0]
        if mark:
            lines += wrap_text(metrics, mark, width, sep=" · ")  # a mark's parts stay whole
        return "\n".join([lines[0], *(indent + line for line in lines[1:])])

    def _station_changed(self) -> None:
        for page in self.pages:
            if page is not self.setup_page:
                page.refresh()
        self._update_station_label()
        self.update_marks()

    def _language_changed(self, lang: str) -> None:
        self.settings.language = lang
        if self.message_bar.property("kind") == "info":
            self.message_bar.hide()  # a notice in the old language; errors stay until closed
        self.retranslate()

    def _saved(self) -> None:
        self._marks_timer.start()
        self._saved_at = self.store.clock().astimezone()
        self._show_saved()
        self._update_station_label()  # the observer name may just have been typed

    def _show_saved(self) -> None:
        at = self._saved_at
        self.saved_label.setText(tr("ui.status.saved", time=at.strftime("%H:%M:%S")) if at else "")

    def _update_station_label(self) -> None:
        st = self.store.current_station()
        obs = self.store.observer()
        name = obs.name if obs and obs.name else ""
        self.station_label.setText(
            tr("ui.window.station", code=st.code, observer=name) if st else tr("ui.window.no_station")
        )

    def retranslate(self) -> None:
        """Set every visible string again in the current language."""
        self.setWindowTitle(tr("ui.window.title", file=self.store.path.name))
        for index, page in enumerate(self.pages):
            page.retranslate()
            self.nav.item(index).setToolTip(f"Ctrl+{index + 1}")
            self.page_actions[index].setText(tr(page.title_key))
        self.file_menu.setTitle(tr("ui.menu.file"))
        self.new_action.setText(tr("ui.menu.new"))
        self.open_action.setText(tr("ui.menu.open"))
        self.close_action.setText(tr("ui.menu.close"))
        self.quit_action.setText(tr("ui.menu.quit"))
        self.go_menu.setTitle(tr("ui.menu.go"))
        self.language_menu.setTitle(tr("ui.menu.language"))
        for lang, action in self.language_actions.items():
            action.setChecked(lang == i18n.current_language())
        self.language_label.setText(tr("ui.window.language"))
        self.message_bar.retranslate()
        self.update_marks()
        self.statusBar().showMessage(str(Path(self.store.path)))
        self._show_saved()
        self._update_station_label()

    def _fit_nav(self) -> None:
        """As wide as the longest page name in this language, up to a limit: longer names wrap (never "…")."""
        self.nav.ensurePolished()
        metrics = self.nav.fontMetrics()
        texts = [f"{index + 1}  {tr(page.title_key)}" for index, page in enumerate(self.pages)]
        texts += [f"      {mark}" for mark in self.marks]
        longest = max(metrics.horizontalAdvance(text) for text in texts)
        self.nav.setFixedWidth(max(NAV_MIN_WIDTH, min(NAV_MAX_WIDTH, longest + NAV_PADDING)))

    def closeEvent(self, event: QCloseEvent) -> None:
        # Nothing to save: every edit is already on disk. Just release the file.
        event.accept()


def _mark(page: Page, prog: Progress, open_items: int) -> str:
    """The short status under a page's name in the list."""
    parts: list[str] = []
    n = formatter(current_language()).integer  # numbers as the language writes them
    if isinstance(page, TurnoutPage):
        parts.append(tr("review.mark.slots", filled=n(prog.slots_filled), total=n(prog.slots_total)))
    elif isinstance(page, ProtocolPage):
        if not prog.protocol_started:
            parts.append(tr("review.mark.not_entered"))
        else:
            if prog.broken:
                parts.append(tr("review.mark.broken", count=n(prog.broken)))
            if prog.empty_lines:
                parts.append(tr("review.mark.empty", count=n(prog.empty_lines)))
    elif isinstance(page, ViolationsPage):
        if prog.uncategorised:
            parts.append(tr("review.mark.no_category", count=n(prog.uncategorised)))
    elif isinstance(page, ChecklistsPage):
        parts.append(tr("review.mark.answered", answered=n(prog.answered), total=n(prog.questions)))
    elif isinstance(page, ReviewPage):
        parts.append(tr("review.mark.open", count=n(open_items)) if open_items else tr("review.mark.ready"))
    name = next((n for n, cls in zip(PAGE_NAMES, PAGE_CLASSES) if isinstance(page, cls)), "")
    if prog.warnings.get(name):
        parts.append(tr("review.mark.warnings", count=n(prog.warnings[name])))
    return " · ".join(parts)
