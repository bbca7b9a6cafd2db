"""Start the desktop app: the observer's window, or the coordinator's for an HQ file.

``run()`` is what ``baqylau`` calls. The :class:`Launcher` owns the open
election file and swaps the first-run screen, the observer window and the
coordinator window as files are created, opened and closed.
"""

from __future__ import annotations

import logging
import shutil
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from db.fileformat import ROLE_HQ, ROLE_STATION, is_pg_url
from observer import i18n
from observer.errors import BaqylauError, StorageError
from observer.i18n import tr
from observer.paths import app_home
from ui.qt import (
    QApplication,
    QCoreApplication,
    QLibraryInfo,
    QLockFile,
    QObject,
    QTimer,
    QTranslator,
    QWidget,
    guard_singleton_refcounts,
)
from ui.settings import Settings
from ui.widgets.language import language_bridge
from ui.widgets.messages import post_error
from ui.widgets.style import apply_style

if TYPE_CHECKING:
    from db.services.hq import StoreOpener
    from db.store import ElectionStore
    from observer.template import ElectionTemplate
    from ui.first_run import FirstRunWindow
    from ui.qt import QMessageBox

# The first-run screen, the observer's window and the coordinator's are imported when
# shown: opening an HQ file must not pay for the observer's pages, and the reverse. db.store
# (SQLAlchemy and the models: the largest part of start-up) is imported when a file is opened,
# and for a current HQ file only after the coordinator window is up (see open_path).

log = logging.getLogger("baqylau.ui")
DEMO_FOLDER = "demo"
LOCK_SUFFIX = ".lock"


class FileLock:
    """One running copy per election file: a lock file beside it (``<file>.lock``, Qt's QLockFile).

    A second copy would write into the same file while showing counts read before
    the other's edits. The lock holds the process id and host; a lock left by a
    crashed copy on this machine is stale and taken over.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        self._lock = QLockFile(str(self.path) + LOCK_SUFFIX)
        self._lock.setStaleLockTime(0)  # only a dead owner makes it stale, never its age

    def acquire(self) -> None:
        """Take the lock or raise a StorageError naming who holds it.

        A folder where no lock file can be written (a read-only stick) is no reason to
        refuse: opening the file itself then says what is wrong.
        """
        if self._lock.tryLock(0):
            return
        if self._lock.error() != QLockFile.LockError.LockFailedError:
            log.warning("no lock file for %s: %s", self.path, self._lock.error())
            return
        info: tuple[object, ...] = tuple(self._lock.getLockInfo() or ())
        if info and isinstance(info[0], bool):  # some PySide6 versions put the success flag first
            info = info[1:]
        pid, host = (info[0], info[1]) if len(info) >= 2 else ("?", "?")
        raise StorageError("ui.app.locked", file=self.path.name, pid=str(pid), host=str(host) or "?")

    def release(self) -> None:
        if self._lock.isLocked():
            self._lock.unlock()


class Launcher(QObject):
    """Which window is showing, and the one election file that is open."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.store: ElectionStore | None = None
        self._opening: StoreOpener | None = None  # the shown coordinator window's store, still opening
        self._open_timer = QTimer(self)  # looks whether the store being opened is open
        self._open_timer.setInterval(20)
        self._open_timer.timeout.connect(self._poll_opening)
        self.window: QWidget | None = None
        self._demo_job: QObject | None = None  # a ui.widgets.worker.BackgroundJob
        self._lock: FileLock | None = None  # of the open (or opening) file
        # Whichever window changes the language (the coordinator's too), the next start uses it.
        language_bridge().changed.connect(self._remember_language)

    def _remember_language(self, lang: str) -> None:
        if lang in i18n.LANGUAGES:
            self.settings.language = lang

    # ---- start ---------------------------------------------------------
    def start(self, path: str | Path | None = None) -> QWidget:
        """Open ``path`` (a file, or a shared HQ's ``postgresql://`` URL), else the last file, else the first-run screen."""
        target = (str(path) if is_pg_url(path) else Path(path)) if path else self.settings.last_file
        if target is not None and (path or Path(target).is_file()) and self.open_path(target):
            assert self.window is not None
            return self.window
        if self.window is None:
            self.show_first_run()
        assert self.window is not None
        return self.window

    def _show(self, window: QWidget) -> None:
        old = self.window
        self.window = window
        screen = QApplication.primaryScreen()
        if screen is not None:
            avail = screen.availableGeometry()
            window.resize(min(1366, avail.width()), min(768, avail.height()))
        window.show()
        if old is not None and old is not window:
            old.close()
            old.deleteLater()

    def show_first_run(self, error: str | None = None) -> FirstRunWindow:
        from ui.first_run import FirstRunWindow

        self._close_store()
        window = FirstRunWindow(self.settings)
        window.create_requested.connect(self.create_election)
        window.open_requested.connect(self.open_path)
        window.demo_requested.connect(self.open_demo)
        self._show(window)
        if error:
            post_error(error)
        return window

    def shutdown(self) -> None:
        """Quitting: close the window (which stops its background reads at once), then the file."""
        if self.window is not None:
            self.window.close()
        self._close_store()

    def _close_store(self) -> None:
        opening, self._opening = self._opening, None
        if opening is not None and opening.started:
            try:
                opening.future.result().close()  # it was opening as the window went: close it once open
            except BaseException:  # noqa: BLE001 - a file that failed to open has nothing to close
                pass
        if self.store is not None:
            self.store.close()
            self.store = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _take_lock(self, path: Path) -> FileLock | None:
        """The lock of ``path`` (the one already held if it is the open file); None after saying why not."""
        if self._lock is not None and self._lock.path == Path(path).resolve():
            return self._lock
        lock = FileLock(path)
        try:
            lock.acquire()
        except StorageError as exc:
            if self.window is None:
                self.show_first_run(str(exc))
            else:
                post_error(str(exc))
            return None
        return lock

    def _keep_lock(self, lock: FileLock | None) -> None:
        """``lock``'s file is now the open one: release the previous file's.

        Work folders a crashed merge left beside it go now, not at the next merge
        (one of a merge still running, here or in another process, stays).
        A shared HQ on a server (``lock`` None) has no lock: several coordinators work on it at once.
        """
        if self._lock is not None and self._lock is not lock:
            self._lock.release()
        self._lock = lock
        if lock is None:
            return
        from db.workdirs import remove_stale_work_dirs  # standard library only

        for gone in remove_stale_work_dirs(lock.path.parent):
            log.info("removed %s left by a merge that no longer runs", gone.name)

    # ---- files ---------------------------------------------------------
    def create_election(self, template: ElectionTemplate, path: Path, role: str = ROLE_STATION) -> bool:
        """A new election file: an observer's station file, or a coordinator's HQ file (``role``)."""
        from db.store import ElectionStore

        try:
            store = ElectionStore.create(path, template, role=role)
            if role == ROLE_STATION:
                store.set_observer(self.settings.observer_name, self.settings.organisation)
        except BaqylauError as exc:
            post_error(str(exc))
            return False
        lock = self._take_lock(path)
        if lock is None:
            store.close()
            return False
        self._keep_lock(lock)
        return self._use(store)

    def open_path(self, path: Path | str) -> bool:
        """Open an election file, or a shared HQ's ``postgresql://`` URL (no lock file: it is shared)."""
        lock: FileLock | None = None
        if is_pg_url(path):
            path = str(path)
        else:
            path = Path(path)
            lock = self._take_lock(path) if path.is_file() else FileLock(path)
            if lock is None:
                return False
        try:
            if self._open_coordinator_first(path, lock):
                return True
            from db.store import ElectionStore  # only now: the fast path shows the window without it

            store = ElectionStore.open(path)
        except BaqylauError as exc:
            if lock is not None and lock is not self._lock:
                lock.release()
            if self.window is None:
                self.show_first_run(str(exc))
            else:
                post_error(str(exc))
            return False
        self._keep_lock(lock)
        return self._use(store)

    def _use(self, store: ElectionStore) -> bool:
        if store.role == ROLE_HQ:
            from ui.coordinator.window import CoordinatorWindow

            window: QWidget = CoordinatorWindow(store)
        else:
            from ui.main_window import MainWindow

            main = MainWindow(store, self.settings)
            main.new_requested.connect(lambda: self.show_first_run())
            main.open_requested.connect(self._ask_open)
            main.close_requested.connect(self._close_file)
            window = main
        previous = self.store
        self.store = store
        if store.url is None:  # a server's URL is not offered as "the last file" (it may carry a password)
            self.settings.last_file = store.path
        self._show(window)
        if previous is not None and previous is not store:
            previous.close()
        return True

    def _open_coordinator_first(self, path: Path | str, lock: FileLock | None) -> bool:
        """A current HQ (a file or a URL): show the coordinator window at once, open its store behind it.

        The window's stations table reads its first screen with plain sqlite3
        (``db.services.station_reader``); the store (SQLAlchemy) opens on a helper
        thread once the window is up. False: open ``path`` the usual way.
        """
        from db.services import hq  # sqlite3 only: cheap to ask for a station file too

        reader = hq.current_hq_reader(path)
        if reader is None:
            return False
        from ui.coordinator.window import CoordinatorWindow

        opener = hq.StoreOpener(path)
        window: QWidget = CoordinatorWindow.opening(opener, reader)
        if lock is not None and lock is self._lock:
            self._lock = None  # the same file again: _close_store must not release it
        self._close_store()
        self._keep_lock(lock)
        self._opening = opener
        self._show(window)
        QTimer.singleShot(0, opener.start)  # after the window's first paint
        self._open_timer.start()
        return True

    def _poll_opening(self) -> None:
        # Polled on the UI thread: a callback from the opening thread that holds the launcher could
        # drop the last reference to a Qt object there, which PySide cannot delete safely.
        opener = self._opening
        if opener is None:
            self._open_timer.stop()
        elif opener.future.done():
            self._open_timer.stop()
            self._store_opened(opener)

    def _store_opened(self, opener: StoreOpener) -> None:
        if opener is not self._opening:
            return  # another file (or none) took its place; _close_store closed it
        self._opening = None
        exc = opener.future.exception()
        if exc is None:
            self.store = opener.future.result()
            if opener.url is None:  # as the usual path does: only a file that opened, never a URL
                self.settings.last_file = self.store.path
            return
        if isinstance(exc, BaqylauError):
            message = str(exc)
        else:
            log.error("opening %s failed", opener.path, exc_info=exc)
            message = str(
                StorageError(
                    "error.storage.io",
                    file=opener.location,
                    problem=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
                )
            )
        self.show_first_run(message)

    def _ask_open(self) -> None:
        from ui.widgets.dialogs import ask_open_file

        start = self.settings.last_file.parent if self.settings.last_file else None
        path = ask_open_file(self.window, tr("ui.first.open"), tr("ui.filter.election"), start)
        if path is not None:
            self.open_path(path)

    def _close_file(self) -> None:
        self.settings.last_file = None
        self.show_first_run()

    # ---- demo ----------------------------------------------------------
    def open_demo(self) -> None:
        """Build the demo coordinator file off the UI thread, then open it."""
        from db.demo import demo_hq

        folder = app_home() / DEMO_FOLDER

        def build() -> Path:
            # Our own scratch folder: a fresh demo each time, never a half-built old one.
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
            return Path(demo_hq(folder))

        from ui.widgets.worker import BackgroundJob

        self._set_busy(True)
        job = BackgroundJob(build, self)
        job.finished.connect(self._demo_ready)
        job.failed.connect(self._demo_failed)
        self._demo_job = job
        job.start()

    def _set_busy(self, busy: bool) -> None:
        from ui.first_run import FirstRunWindow  # already imported: the demo is asked for from it

        if isinstance(self.window, FirstRunWindow):
            self.window.set_busy(busy)

    def _demo_ready(self, path: Path) -> None:
        self._demo_job = None
        self._set_busy(False)
        self.open_path(path)

    def _demo_failed(self, exc: BaseException) -> None:
        self._demo_job = None
        self._set_busy(False)
        post_error(str(exc) if isinstance(exc, BaqylauError) else tr("ui.app.demo_failed", problem=str(exc)[:200]))


def install_exception_hook() -> None:
    """An unexpected error is logged and shown in a dialog; the app keeps running."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        log.error("unexpected error", exc_info=(kind, exc, tb))
        if isinstance(exc, BaqylauError):
            post_error(str(exc))
            return
        from ui.qt import QMessageBox  # on the first error only: building its class costs ~5 ms of the start

        box = QMessageBox(QMessageBox.Icon.Critical, tr("ui.crash.title"), tr("ui.crash.text", log=str(log_path())))
        box.setDetailedText("".join(traceback.format_exception(kind, exc, tb))[-4000:])
        box.setModal(False)
        box.show()
        _open_boxes.append(box)
        box.finished.connect(lambda _r, b=box: _open_boxes.remove(b) if b in _open_boxes else None)

    sys.excepthook = hook


_open_boxes: list[QMessageBox] = []


def log_path() -> Path:
    return app_home() / "baqylau.log"


def setup_logging() -> None:
    try:
        handler: logging.Handler = logging.FileHandler(log_path(), encoding="utf-8")
    except OSError:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("baqylau")
    root.setLevel(logging.INFO)
    root.addHandler(handler)


def ensure_keypair() -> None:
    """Each installation gets its signing key on first run."""
    from observer.signing import load_or_create_keypair

    try:
        load_or_create_keypair()
    except (BaqylauError, OSError) as exc:
        log.warning("signing key not created: %s", exc)


class QtTranslations:
    """Qt's own strings (dialog buttons, file dialogs, line-edit menus) in the app's language.

    PySide6 ships ``qtbase_<lang>.qm`` for all three of our languages. Installing
    a translator makes Qt send every widget a LanguageChange event, so standard
    buttons that are already on screen retranslate themselves.
    """

    def __init__(self) -> None:
        self.translator: QTranslator | None = None
        self.language = ""

    def install(self, lang: str) -> bool:
        """Swap in Qt's catalogue for ``lang``; False if none could be loaded (Qt then stays English)."""
        app = QCoreApplication.instance()
        if app is None:
            return False
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)
            self.translator.deleteLater()
            self.translator = None
        self.language = lang
        translator = QTranslator(app)
        folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        if not translator.load(f"qtbase_{lang}", folder):
            # A stripped-down install without the catalogues: English buttons beat a crash.
            log.warning("Qt translations for %s not found in %s", lang, folder)
            translator.deleteLater()
            return False
        QCoreApplication.installTranslator(translator)
        self.translator = translator
        return True

    def follow(self, lang: str) -> None:
        self.install(lang)


# One per process: the language bridge holds its slot weakly, so it must live here.
_qt_translations: QtTranslations | None = None


def qt_translations() -> QtTranslations:
    """The translator of Qt's own strings, created (and subscribed to language changes) once."""
    global _qt_translations
    if _qt_translations is None:
        _qt_translations = QtTranslations()
        language_bridge().changed.connect(_qt_translations.follow)
    return _qt_translations


def make_application(argv: list[str] | None = None) -> QApplication:
    guard_singleton_refcounts()  # before the app's first Qt call (see ui/qt.py)
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Baqylau")
    app.setOrganizationName("Baqylau")
    apply_style(app)
    translations = qt_translations()
    if translations.translator is None or translations.language != i18n.current_language():
        translations.install(i18n.current_language())
    return app


def run(path: str | None = None) -> int:
    """Open the desktop app (``baqylau [FILE]``); returns the exit code."""
    from ui.crash import CrashGuard, tell_last_crash

    setup_logging()
    guard = CrashGuard()
    crashed_last_time = guard.start()
    app = make_application()
    settings = Settings()
    # A --lang given on the command line (already applied) wins over the saved choice.
    if i18n.current_language() == i18n.DEFAULT_LANGUAGE:
        i18n.set_language(settings.language)
    install_exception_hook()
    # The signing key is needed to export a package, not to show the window: made once the loop runs.
    QTimer.singleShot(0, ensure_keypair)
    launcher = Launcher(settings)
    try:
        launcher.start(path)
    except StorageError as exc:
        launcher.show_first_run(str(exc))
    if crashed_last_time:
        QTimer.singleShot(0, lambda: _open_boxes.append(tell_last_crash(launcher.window, log_path())))
    code = app.exec()
    launcher.shutdown()
    guard.stop()
    return int(code)
