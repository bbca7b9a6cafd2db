"""Background operations: long work off the UI thread, results back on it.

Modelled on Anki's ``CollectionOp``/``QueryOp``::

    Operation(parent, lambda ctx: merge_packages(hq, paths, progress=ctx.progress, cancel=ctx.is_cancelled),
              title=tr("coordui.merge.running"))
        .success(self._show_report)
        .run_in_background()

The function runs on a ``QThreadPool`` worker. It receives an
:class:`OperationContext` for progress and cancellation and must never touch a
widget: it only computes and returns a value. ``success`` callbacks run on the
UI thread with that value. A :class:`~observer.errors.BaqylauError` becomes a
message box with its translated text; anything else is logged with its
traceback (to ``<BAQYLAU_HOME>/baqylau.log``) and the user sees a short
"unexpected error" dialog that names the log file, never the traceback itself.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from observer.errors import BaqylauError
from observer.i18n import tr
from observer.paths import app_home
from ui.qt import (
    QLabel,
    QObject,
    QProgressDialog,
    QRunnable,
    Qt,
    QThreadPool,
    QTimer,
    QWidget,
    Signal,
    Slot,
)

T = TypeVar("T")
log = logging.getLogger("baqylau.ui")

# Running operations, so neither they nor their signal bridges are collected mid-flight.
_RUNNING: set[Operation[Any]] = set()


class Cancelled(Exception):
    """Raised by the background function (or by ``ctx.check()``) to stop after the user pressed Cancel."""


def log_file() -> Path:
    return app_home() / "baqylau.log"


def _ensure_file_logging() -> None:
    """Unexpected errors go to a file the user can send us, in the current BAQYLAU_HOME."""
    root = logging.getLogger("baqylau")
    target = str(log_file())
    for h in list(root.handlers):
        if getattr(h, "_baqylau_file", False):
            if isinstance(h, logging.FileHandler) and h.baseFilename == target:
                return
            root.removeHandler(h)  # the home folder changed (a portable install moved, or tests)
            h.close()
    try:
        handler = logging.FileHandler(target, encoding="utf-8")
    except OSError:
        return  # a read-only home must not turn an error report into a second error
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._baqylau_file = True  # type: ignore[attr-defined]
    root.addHandler(handler)


class OperationContext:
    """What the background function may use: thread-safe progress and cancellation."""

    def __init__(self, bridge: _Bridge) -> None:
        self._bridge = bridge
        self._cancel = threading.Event()

    def progress(self, done: int, total: int, text: str = "") -> None:
        """Report ``done`` of ``total`` steps (0 total: unknown length). Safe from any thread."""
        self._bridge.progressed.emit(int(done), int(total), str(text))

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Stop here if the user cancelled."""
        if self._cancel.is_set():
            raise Cancelled()

    def cancel(self) -> None:
        self._cancel.set()


class _Bridge(QObject):
    """Lives on the UI thread; worker emissions arrive here as queued calls."""

    progressed = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(object, str)
    cancelled = Signal()


class _Runnable(QRunnable):
    """The worker's side of an operation.

    It drops its references (the function, whose closure may hold widgets, and the
    bridge, a QObject of the UI thread) before the operation lets go of its own:
    ``released`` is set once they are gone. Otherwise a worker descheduled right
    after its last emit could hold the last reference and delete a Qt object from
    the wrong thread, a crash with no traceback.
    """

    def __init__(
        self,
        fn: Callable[[OperationContext], Any],
        ctx: OperationContext,
        bridge: _Bridge,
        released: threading.Event,
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._fn: Callable[[OperationContext], Any] | None = fn
        self._ctx: OperationContext | None = ctx
        self._bridge: _Bridge | None = bridge
        self._released = released

    def run(self) -> None:
        try:
            self._run()
        finally:
            self._fn = self._ctx = self._bridge = None
            self._released.set()

    def _run(self) -> None:
        assert self._fn is not None and self._ctx is not None and self._bridge is not None
        try:
            try:
                result = self._fn(self._ctx)
            except Cancelled:
                self._bridge.cancelled.emit()
            except BaseException as exc:  # noqa: BLE001 - every failure must reach the UI thread
                self._bridge.failed.emit(exc, traceback.format_exc())
            else:
                # A function that noticed Cancel and returned what it had still delivers a result
                # (boxed, so a None result is never itself the payload of a cross-thread signal).
                self._bridge.succeeded.emit([result])
        except RuntimeError:
            # The application shut down while we worked: the bridge is gone and nobody is waiting.
            log.info("background operation finished after its window was closed")


class Operation(QObject, Generic[T]):
    """One piece of background work with optional progress dialog and callbacks.

    ``finished`` is emitted last, after the callbacks, whatever the outcome:
    tests wait for it with ``qtbot.waitSignal(op.finished)``.
    """

    finished = Signal()

    def __init__(
        self,
        parent: QWidget | None,
        fn: Callable[[OperationContext], T],
        *,
        title: str = "",
        show_progress: bool = True,
        cancellable: bool = True,
        progress_delay_ms: int = 300,
    ) -> None:
        super().__init__(None)
        self._parent = parent
        self._fn = fn
        self._title = title
        self._show_progress = show_progress
        self._cancellable = cancellable
        self._delay = progress_delay_ms
        self._on_success: list[Callable[[T], None]] = []
        self._on_failure: Callable[[BaseException], bool] | None = None
        self._on_cancel: list[Callable[[], None]] = []
        self._on_progress: list[Callable[[int, int, str], None]] = []
        self._bridge = _Bridge()
        self._ctx = OperationContext(self._bridge)
        self._released = threading.Event()  # the worker holds no reference any more (see _Runnable)
        self._dialog: QProgressDialog | None = None
        self.outcome: str = "pending"  # pending | success | failure | cancelled
        self.result: T | None = None
        self.error: BaseException | None = None

    # ---- configuration (chainable) --------------------------------------
    def success(self, callback: Callable[[T], None]) -> Operation[T]:
        self._on_success.append(callback)
        return self

    def failure(self, callback: Callable[[BaseException], bool]) -> Operation[T]:
        """Handle an error yourself; return True if handled, False to show the default dialog."""
        self._on_failure = callback
        return self

    def on_cancel(self, callback: Callable[[], None]) -> Operation[T]:
        self._on_cancel.append(callback)
        return self

    def on_progress(self, callback: Callable[[int, int, str], None]) -> Operation[T]:
        """Also deliver progress to a widget of your own (e.g. a progress bar in a dialog)."""
        self._on_progress.append(callback)
        return self

    @property
    def context(self) -> OperationContext:
        return self._ctx

    def cancel(self) -> None:
        self._ctx.cancel()

    # ---- running ----------------------------------------------------------
    def run_in_background(self) -> Operation[T]:
        _ensure_file_logging()
        self._bridge.progressed.connect(self._progressed, Qt.ConnectionType.QueuedConnection)
        self._bridge.succeeded.connect(self._succeeded, Qt.ConnectionType.QueuedConnection)
        self._bridge.failed.connect(self._failed, Qt.ConnectionType.QueuedConnection)
        self._bridge.cancelled.connect(self._cancelled, Qt.ConnectionType.QueuedConnection)
        if self._show_progress:
            self._make_dialog()
        _RUNNING.add(self)
        QThreadPool.globalInstance().start(_Runnable(self._fn, self._ctx, self._bridge, self._released))
        return self

    def _make_dialog(self) -> None:
        dlg = QProgressDialog(self._parent)
        label = QLabel()
        label.setTextFormat(Qt.TextFormat.PlainText)  # progress texts carry file names from packages
        dlg.setLabel(label)
        dlg.setWindowTitle(self._title or tr("coordui.op.working"))
        dlg.setLabelText(self._title or tr("coordui.op.working"))
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.setMinimumDuration(self._delay)
        dlg.setAutoClose(False)
        dlg.setAutoReset(False)
        dlg.setRange(0, 0)
        if self._cancellable:
            dlg.setCancelButtonText(tr("coordui.op.cancel"))
            dlg.canceled.connect(self._user_cancelled)
        else:
            dlg.setCancelButton(None)
        self._dialog = dlg

    @Slot()
    def _user_cancelled(self) -> None:
        self._ctx.cancel()
        if self._dialog is not None:
            self._dialog.setLabelText(tr("coordui.op.cancelling"))

    @Slot(int, int, str)
    def _progressed(self, done: int, total: int, text: str) -> None:
        if self._dialog is not None:
            # QProgressDialog takes int ranges; (0, 0) is the "busy" indicator.
            self._dialog.setRange(0, max(total, 0))
            self._dialog.setValue(min(done, total) if total > 0 else 0)
            if text and not self._ctx.is_cancelled():
                self._dialog.setLabelText(text)
        for cb in self._on_progress:
            cb(done, total, text)

    def _close_dialog(self) -> None:
        if self._dialog is not None:
            self._dialog.canceled.disconnect()
            self._dialog.close()
            self._dialog.deleteLater()
            self._dialog = None

    def _finish(self) -> None:
        # Emitted from the event loop, after this call returns, so listeners see a settled state;
        # the operation stays referenced until then or Python would collect it first.
        QTimer.singleShot(0, self._emit_finished)

    def _emit_finished(self) -> None:
        self.finished.emit()
        self._retire()

    def _retire(self) -> None:
        # Let go only after the worker has: the last reference to the bridge and the
        # function must be dropped here, on the UI thread.
        if self._released.is_set():
            _RUNNING.discard(self)
        else:
            QTimer.singleShot(5, self._retire)

    @Slot(object)
    def _succeeded(self, boxed: list[T]) -> None:
        result = boxed[0]
        self._close_dialog()
        self.outcome = "success"
        self.result = result
        try:
            for cb in self._on_success:
                cb(result)
        except BaqylauError as exc:
            show_error(self._parent, exc)
        except Exception as exc:  # noqa: BLE001 - a UI callback bug must not kill the app
            show_unexpected(self._parent, exc, traceback.format_exc())
        self._finish()

    @Slot(object, str)
    def _failed(self, exc: BaseException, tb: str) -> None:
        self._close_dialog()
        self.outcome = "failure"
        self.error = exc
        handled = False
        if self._on_failure is not None:
            handled = bool(self._on_failure(exc))
        if not handled:
            if isinstance(exc, BaqylauError):
                show_error(self._parent, exc)
            else:
                show_unexpected(self._parent, exc, tb)
        self._finish()

    @Slot()
    def _cancelled(self) -> None:
        self._close_dialog()
        self.outcome = "cancelled"
        for cb in self._on_cancel:
            cb()
        self._finish()


def show_error(parent: QWidget | None, exc: BaqylauError) -> None:
    """A user error: its translated message, nothing technical."""
    from ui.qt import QMessageBox  # looked up when first needed: its class costs ~5 ms of the app's start

    box = QMessageBox(
        QMessageBox.Icon.Warning, tr("coordui.error.title"), str(exc), QMessageBox.StandardButton.Ok, parent
    )
    box.setObjectName("baqylauErrorBox")
    box.setTextFormat(Qt.TextFormat.PlainText)  # the message quotes file names and cell values
    box.open()


def show_unexpected(parent: QWidget | None, exc: BaseException, tb: str) -> None:
    """A bug: log the traceback for the developers, tell the user where it is."""
    _ensure_file_logging()
    logging.getLogger("baqylau.ui").error("unexpected error in background operation: %r\n%s", exc, tb)
    from ui.qt import QMessageBox  # see show_error

    box = QMessageBox(
        QMessageBox.Icon.Critical,
        tr("coordui.error.title"),
        tr("coordui.error.unexpected", log=str(log_file())),
        QMessageBox.StandardButton.Ok,
        parent,
    )
    box.setObjectName("baqylauUnexpectedBox")
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.open()


def run_query(
    parent: QWidget | None, fn: Callable[[OperationContext], T], on_done: Callable[[T], None]
) -> Operation[T]:
    """A quick read-only job: no progress dialog, result delivered to ``on_done``."""
    return Operation(parent, fn, show_progress=False, cancellable=False).success(on_done).run_in_background()
